import type { Bundle, BundleEntry, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { HttpError, httpError } from './outcome.ts';
import { BUNDLE_ENTRY_KINDS, paramWithNul, resolveRoute } from './routes.ts';
import type { Route } from './routes.ts';

export interface PlannedEntry {
  /** Position in the client's Bundle; responses go back in this order. */
  index: number;
  entry: BundleEntry;
  route: Route;
}

export interface BundlePlan {
  type: 'batch' | 'transaction';
  size: number;
  /** Entries for the router, with request urls made relative and If-Match normalised. */
  forward: PlannedEntry[];
  /** Batch entries refused before processing: their status and why. */
  rejected: Map<number, { status: number; outcome: OperationOutcome }>;
}

const ENTRY_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * Checks a batch/transaction Bundle before anything runs. The router would
 * otherwise accept what this server does not offer (nested Bundles, GraphQL,
 * conditional update/delete) and answer malformed entries with JavaScript
 * error messages. A transaction with any bad entry is refused whole: 400 for
 * requests this server cannot carry out, 422 for resources that break R4 or
 * profile rules, every problem listed with its Bundle.entry[n] path. A batch
 * answers bad entries individually and runs the rest.
 */
export function planBundle(body: unknown, baseUrl: string, validator: ResourceValidator, authorise: (entry: PlannedEntry) => void = () => {}): BundlePlan {
  if (!isObject(body) || body.resourceType !== 'Bundle') {
    throw httpError(400, 'invalid', 'POST to the base URL takes a Bundle of type batch or transaction', isObject(body) ? ['resourceType'] : undefined);
  }
  const bundle = body as unknown as Bundle;
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw httpError(400, 'invalid', `Bundle type "${String(bundle.type)}" cannot be processed here; send a batch or transaction`, ['Bundle.type']);
  }
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0) {
    throw httpError(400, 'required', 'The Bundle has no entries', ['Bundle.entry']);
  }
  const plan: BundlePlan = { type: bundle.type, size: bundle.entry.length, forward: [], rejected: new Map() };
  const problems: OperationOutcomeIssue[] = [];
  bundle.entry.forEach((raw, index) => {
    const checked = checkEntry(raw, index, baseUrl);
    if ('entry' in checked) {
      plan.forward.push({ index, entry: checked.entry, route: checked.route });
    } else {
      plan.rejected.set(index, checked);
      problems.push(...(checked.outcome.issue ?? []));
    }
  });
  // Authorisation throws for the whole Bundle, batch or transaction, before
  // validation and before anything runs: a batch must not half-run when one
  // entry asks for more than the token allows.
  for (const p of plan.forward) authorise(p);
  if (plan.type === 'transaction') {
    if (problems.length) {
      throw new HttpError(400, { resourceType: 'OperationOutcome', issue: problems });
    }
    const invalid = plan.forward.flatMap((p) => validationProblems(p, validator));
    if (invalid.length) {
      throw new HttpError(422, { resourceType: 'OperationOutcome', issue: invalid });
    }
  }
  return plan;
}

function checkEntry(raw: unknown, i: number, baseUrl: string): { entry: BundleEntry; route: Route } | { status: number; outcome: OperationOutcome } {
  const at = `Bundle.entry[${i}]`;
  const refuse = (status: number, text: string, where: string) => ({
    status,
    outcome: { resourceType: 'OperationOutcome' as const, issue: [issue(text, `${at}${where}`)] },
  });
  if (!isObject(raw)) return refuse(400, 'A Bundle entry must be a JSON object', '');
  const entry = raw as BundleEntry;
  const request = entry.request;
  if (!isObject(request) || typeof request.method !== 'string' || !ENTRY_METHODS.has(request.method)) {
    return refuse(400, 'Each entry needs request.method: GET, POST, PUT, DELETE or PATCH', '.request.method');
  }
  if (typeof request.url !== 'string' || request.url.trim() === '') {
    return refuse(400, 'Each entry needs request.url', '.request.url');
  }
  const url = relativeUrl(request.url.trim(), baseUrl);
  if (url === undefined) return refuse(400, 'request.url must be relative to this server', '.request.url');
  const q = url.indexOf('?');
  const withNul = paramWithNul(q >= 0 ? url.slice(q + 1) : '') ?? paramWithNul(typeof request.ifNoneExist === 'string' ? request.ifNoneExist : '');
  if (withNul !== undefined || url.includes('\u0000')) return refuse(400, 'request.url or ifNoneExist holds a NUL character', '.request.url');
  const path = q >= 0 ? url.slice(0, q) : url;
  let route: Route;
  try {
    route = resolveRoute(request.method, path);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return refuse(err.status, err.outcome.issue?.[0]?.details?.text ?? 'Not supported', '.request.url');
  }
  if (!BUNDLE_ENTRY_KINDS.has(route.kind)) {
    return refuse(400, `${request.method} ${path} cannot be used inside a Bundle`, '.request.url');
  }
  if (q >= 0 && route.kind !== 'search') {
    return refuse(400, 'Conditional requests by URL are not supported; use ifNoneExist for conditional create', '.request.url');
  }
  if (request.ifNoneExist !== undefined && (route.kind !== 'create' || typeof request.ifNoneExist !== 'string')) {
    return refuse(400, 'ifNoneExist applies to POST (create) only and must be a query string', '.request.ifNoneExist');
  }
  let ifMatch = request.ifMatch;
  if (ifMatch !== undefined) {
    ifMatch = normaliseEtag(ifMatch);
    if (!ifMatch) return refuse(400, 'ifMatch must be an ETag such as W/"3"', '.request.ifMatch');
  }
  if (route.kind === 'create' || route.kind === 'update') {
    const resource = entry.resource as unknown;
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      return refuse(400, `${request.method} needs a resource`, '.resource');
    }
    if (resource.resourceType !== route.type) {
      return refuse(400, `Resource type "${resource.resourceType}" does not match request.url (${route.type})`, '.resource');
    }
    if (route.kind === 'update' && resource.id !== route.id) {
      return refuse(400, `Resource id must equal the id in request.url (${route.id})`, '.resource.id');
    }
  }
  return { entry: { ...entry, request: { ...request, url, ...(ifMatch ? { ifMatch } : {}) } }, route };
}

/** Validation of create/update resources, located by entry; warnings are left for the write itself. */
function validationProblems(p: PlannedEntry, validator: ResourceValidator): OperationOutcomeIssue[] {
  if (p.route.kind !== 'create' && p.route.kind !== 'update') return [];
  const resource = p.entry.resource as Resource;
  const prefix = `Bundle.entry[${p.index}].resource`;
  const head = new RegExp(`^${resource.resourceType}(?=$|[.[])`);
  return validator
    .validate(resource)
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => ({
      ...i,
      expression: (i.expression ?? [resource.resourceType]).map((e) => (head.test(e) ? e.replace(head, prefix) : `${prefix}.${e}`)),
    }));
}

/** W/"3", "3" and a bare 3 all mean version 3; anything else is not an ETag. */
export function normaliseEtag(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return `W/"${v}"`;
  return /^(W\/)?"[^"\s]+"$/.test(v) ? v : undefined;
}

function relativeUrl(url: string, baseUrl: string): string | undefined {
  if (url.startsWith(`${baseUrl}/`)) return url.slice(baseUrl.length + 1);
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return undefined;
  return url.replace(/^\/+/, '');
}

function issue(text: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'invalid', details: { text }, expression: [expression] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
