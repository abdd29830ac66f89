import { allOk, getStatus, parseSearchRequest } from '@medplum/core';
import type { FhirRequest, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { requireScopes } from '../auth/authenticate.ts';
import { allows } from '../auth/scopes.ts';
import type { Database } from '../db/sql-client.ts';
import { SUPPORTED_RESOURCE_TYPES } from '../fhir/resource-types.ts';
import { validateOperation } from '../fhir/operations/validate.ts';
import { RequestGate } from '../gate/enforce/access-gate.ts';
import type { GateServices } from '../gate/enforce/gate-services.ts';
import type { AuditBatcher } from '../audit/audit-batcher.ts';
import { ExchangeAudit } from '../audit/exchange-audit.ts';
import type { RestInteraction } from '../audit/balp-codes.ts';
import { auditBeforeResponse } from './audit-response.ts';
import { PgRepository } from '../fhir/repo/pg-repository.ts';
import { parseDateRange } from '../fhir/search/date-range.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import type { WriteRules } from '../fhir/repo/write-rules-port.ts';
import { overdueRequests } from '../joint-work/overdue.ts';
import { withNotes } from './write-notes.ts';
import type { RequestContext } from '../request-context.ts';
import { normaliseEtag, planBundle } from './bundle-plan.ts';
import type { PlannedEntry } from './bundle-plan.ts';
import { runBundle } from './bundle-run.ts';
import { sendJson, sendResource } from './fhir-response.ts';
import { httpError, publicOutcome } from './outcome.ts';
import { DatabaseUnavailableError, isDatabaseUnavailableOutcome } from '../db/unavailable.ts';
import { parsePrefer } from './prefer.ts';
import type { Preferences } from './prefer.ts';
import { everythingTypes, paramWithNul, resolveRoute, scopeNeeds } from './routes.ts';
import type { Route } from './routes.ts';
import { partitionSearchQuery } from './search-query.ts';

export interface FhirHandlerDeps {
  db: Database;
  validator: ResourceValidator;
  router: FhirRouter;
  baseUrl: string;
  logger: Logger;
  gate: GateServices;
  /** Group commit for the audit records of reads, refusals and failures. */
  audit: AuditBatcher;
  /** Benchmark baseline only: no RequestGate on the repository. */
  ungated?: boolean;
  /** Benchmark baseline only: no audit records. */
  unaudited?: boolean;
  /** After each committed write transaction (FHIR Subscriptions). */
  onCommitted?: (context: RequestContext, written: readonly string[]) => void;
  /** Business rules on every write (joint work, src/joint-work/). */
  writeRules?: WriteRules;
  capabilityStatement: () => Resource;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const READ_OUTCOME: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'information', code: 'informational', details: { text: 'OK' } }],
};

/**
 * Everything under /fhir. Our own operations ($everything, $validate,
 * metadata, history) are handled here; the standard interactions go through
 * @medplum/fhir-router over our repository, and so do batch/transaction
 * Bundles once bundle-plan has checked them.
 */
export function fhirHandler(deps: FhirHandlerDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      await handle(deps, req, res);
    } catch (err) {
      next(err);
    }
  };
}

async function handle(deps: FhirHandlerDeps, req: Request, res: Response): Promise<void> {
  const context = res.locals.context as RequestContext;
  // Any other method (HEAD, OPTIONS, ...) is a 405 naming the ones that would work.
  const route = resolveRoute(req.method, req.path);
  const prefs = parsePrefer(req.headers.prefer);
  const rawQuery = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  for (const [where, qs] of [['query', rawQuery], ['If-None-Exist', String(req.headers['if-none-exist'] ?? '')]] as const) {
    const bad = paramWithNul(qs);
    if (bad !== undefined) throw httpError(400, 'invalid', `The ${where} holds a NUL character`, [where === 'query' ? bad : where]);
  }
  const query = new URLSearchParams(rawQuery);
  if (route.kind === 'search' && route.viaPost && req.body && typeof req.body === 'object') {
    // A repeated form field arrives as an array: each value is its own parameter (AND), not one comma-joined (OR).
    for (const [k, v] of Object.entries(req.body as Record<string, string | string[]>)) {
      for (const one of [v].flat()) query.append(k, String(one));
    }
    // The form is searched like the query, so NUL is refused the same way (the query itself was checked above).
    const bad = paramWithNul(query.toString());
    if (bad !== undefined) throw httpError(400, 'invalid', 'The form body holds a NUL character', [bad]);
  }
  // Authorisation comes before anything else looks at the request, so a
  // client learns nothing (not even a 404) about what its token may not touch.
  refuseAuditWrites(route);
  const gate = deps.ungated ? undefined : new RequestGate(deps.gate, context);
  const audit = route.kind === 'metadata' || deps.unaudited ? undefined : new ExchangeAudit(deps.audit, context, interactionOf(route, req.body), gate, auditExtra(route, rawQuery));
  if (audit) auditBeforeResponse(res, audit, deps.logger, context.requestId);
  // After the audit is in place: a token whose scopes do not allow this is refused, and the refusal is recorded as a deny.
  requireScopes(context, scopeNeeds(route, query, route.kind === 'create' && req.headers['if-none-exist'] !== undefined));
  const repo = new PgRepository(
    {
      db: deps.db,
      validator: deps.validator,
      baseUrl: deps.baseUrl,
      onDbError: (err) => deps.logger.error({ requestId: context.requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'database error'),
      ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
      ...(deps.writeRules ? { writeRules: deps.writeRules } : {}),
    },
    context,
    deps.db,
    false,
    gate,
    audit
  );

  switch (route.kind) {
    case 'metadata':
      sendJson(res, 200, deps.capabilityStatement());
      return;
    case 'validate':
      sendJson(res, 200, validateOperation(deps.validator, route.type, req.body));
      return;
    case 'everything':
      sendJson(
        res,
        200,
        await repo.patientEverything(route.id, {
          since: query.get('_since') ?? undefined,
          types: everythingScope(context, everythingTypes(query)),
          count: intParam(query, '_count'),
          offset: intParam(query, '_offset'),
        })
      );
      return;
    case 'history-type':
      sendJson(res, 200, await repo.readTypeHistory(route.type, historyOptions(query)));
      return;
    case 'read':
      // Reads skip the router too: they are the second hottest path and need nothing it adds.
      sendResource(res, 200, await repo.readResource(route.type, route.id), READ_OUTCOME, prefs, deps.baseUrl);
      return;
    case 'vread':
      sendResource(res, 200, await repo.readVersion(route.type, route.id, route.vid), READ_OUTCOME, prefs, deps.baseUrl);
      return;
    case 'history-instance':
      sendJson(res, 200, await repo.readHistory(route.type, route.id, historyOptions(query)));
      return;
    case 'bundle':
      sendJson(
        res,
        200,
        await runBundle(
          deps.router,
          repo,
          // Every entry is authorised before any of them runs: one entry outside the token's scopes refuses the whole Bundle.
          planBundle(req.body, deps.baseUrl, deps.validator, (p) => {
            refuseAuditWrites(p.route, `Bundle.entry[${p.index}]`);
            requireScopes(context, entryScopeNeeds(p), `Bundle.entry[${p.index}]`);
          })
        )
      );
      return;
    case 'create':
    case 'update':
      checkResourceBody(route.type, route.kind === 'update' ? route.id : undefined, req.body);
      break;
    default:
      break;
  }

  if (route.kind === 'search' && route.type === 'Task' && query.get('_query') === 'overdue') {
    // Named query (R4 search.html#query): joint work requests past their response deadline (src/joint-work/overdue.ts).
    const filter = { ...(query.get('owner') ? { owner: query.get('owner') as string } : {}), ...(query.get('requester') ? { requester: query.get('requester') as string } : {}) };
    sendJson(res, 200, await overdueRequests(repo, deps.baseUrl, new Date(), filter));
    return;
  }
  if (route.kind === 'search') {
    const { kept, unknown } = partitionSearchQuery(route.type, query);
    if (unknown.length && prefs.strict) {
      throw httpError(400, 'not-supported', `Unknown or unsupported search parameters: ${unknown.join(', ')}`, unknown);
    }
    // Searches skip the router: it would only parse the query again and call
    // the same repository method (search is the hottest path there is).
    const bundle = await repo.search(parseSearchRequest(route.type, Object.fromEntries(groupParams(kept))));
    sendJson(res, 200, unknown.length ? withUnknownParams(bundle, unknown) : bundle);
    return;
  }
  const fhirReq: FhirRequest = {
    method: req.method as HttpMethod,
    url: routerPath(route),
    pathname: '',
    body: req.body,
    params: {},
    query: {},
    headers: checkIfMatch(req.headers),
  };
  const [outcome, resource] = await deps.router.handleRequest(fhirReq, repo);
  // The router returns errors as outcomes; the database being down is a 503, not the router's 500.
  if (isDatabaseUnavailableOutcome(outcome)) throw new DatabaseUnavailableError();
  const status = getStatus(outcome);
  if (status >= 500) {
    deps.logger.error({ requestId: context.requestId, status, issueCode: outcome.issue?.[0]?.code }, 'FHIR router reported an internal error');
    throw httpError(500, 'exception', 'Internal error. The request was not completed; nothing was stored.');
  }
  if (status >= 300 || !resource) {
    sendJson(res, status, status < 300 ? deleteOutcome(outcome) : publicOutcome(outcome));
    return;
  }
  // PUT that created the resource: R4 http.html#update says 201.
  const finalStatus = route.kind === 'update' && repo.updateCreated ? 201 : status;
  // Informational issues from the write rules (e.g. an existing assessment): in the OperationOutcome, and as a tag on the representation.
  const noted = withNotes(resource, publicOutcome(outcome), repo.notes);
  sendResource(res, finalStatus, noted.resource, noted.outcome, prefs as Preferences, deps.baseUrl);
}

/**
 * Audit records are written by the gateway alone, into the hash-chained
 * audit store (issue #6); a client-written AuditEvent would be a forgery
 * beside them. Reads of the real ones go through the IG API.
 */
function refuseAuditWrites(route: Route, where?: string): void {
  const writes = route.kind === 'create' || route.kind === 'update' || route.kind === 'delete' || route.kind === 'patch';
  if (writes && route.type === 'AuditEvent') {
    throw httpError(405, 'not-supported', 'AuditEvents are recorded by the gateway only; clients cannot create, change or delete them', where ? [where] : undefined);
  }
}

/** The FHIR interaction an exchange is, as BALP names it. */
function interactionOf(route: Route, body: unknown): RestInteraction {
  switch (route.kind) {
    case 'search':
      return 'search-type';
    case 'everything':
    case 'validate':
      return 'operation';
    case 'bundle':
      return (body as { type?: string } | undefined)?.type === 'batch' ? 'batch' : 'transaction';
    case 'metadata':
      return 'capabilities';
    default:
      return route.kind;
  }
}

function auditExtra(route: Route, rawQuery: string): { query?: string; operation?: string } {
  return {
    ...(rawQuery && (route.kind === 'search' || route.kind === 'everything' || route.kind === 'history-type') ? { query: rawQuery } : {}),
    ...(route.kind === 'everything' ? { operation: '$everything' } : route.kind === 'validate' ? { operation: '$validate' } : {}),
  };
}

/** What a planned Bundle entry needs: its interaction, its search parameters, a conditional create's search. */
function entryScopeNeeds(p: PlannedEntry) {
  const url = p.entry.request?.url ?? '';
  const q = url.indexOf('?');
  return scopeNeeds(p.route, new URLSearchParams(q >= 0 ? url.slice(q + 1) : ''), p.entry.request?.ifNoneExist !== undefined);
}

/**
 * The types $everything may return. _type was authorised (r on each); without
 * it, the answer is limited to the types the token may read, so a token for
 * Patient and CarePlan cannot pull a whole record. undefined means no limit.
 */
function everythingScope(context: RequestContext, requested: string[]): string[] | undefined {
  if (requested.length) return requested;
  if (!context.actor) return undefined; // open-development: no limit
  const scopes = context.actor.scopes;
  const readable = SUPPORTED_RESOURCE_TYPES.filter((t) => allows(scopes, t, 'r'));
  return readable.length === SUPPORTED_RESOURCE_TYPES.length ? undefined : readable;
}

/** The router's URL for an interaction it carries out. */
function routerPath(route: Route): string {
  const e = encodeURIComponent;
  switch (route.kind) {
    case 'create':
      return route.type;
    case 'read':
    case 'update':
    case 'delete':
    case 'patch':
      return `${route.type}/${e(route.id)}`;
    case 'vread':
      return `${route.type}/${e(route.id)}/_history/${e(route.vid)}`;
    default:
      throw new Error(`No router path for ${route.kind}`);
  }
}

/**
 * A create or update body must be a resource of the URL's type (and, for
 * update, carry the URL's id). These are 400: the request is malformed. A
 * resource of the right type that breaks R4 or profile rules is 422, from
 * validation in the repository.
 */
function checkResourceBody(type: string, id: string | undefined, body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as Resource).resourceType !== 'string') {
    throw httpError(400, 'structure', `The body must be a ${type} resource (a JSON object with resourceType)`);
  }
  const resource = body as Resource;
  if (resource.resourceType !== type) {
    throw httpError(400, 'invalid', `Resource type "${resource.resourceType}" does not match the URL (${type})`, ['resourceType']);
  }
  if (id !== undefined && !FHIR_ID.test(id)) {
    throw httpError(400, 'invalid', 'The id in the URL is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)', [`${type}.id`]);
  }
  if (id !== undefined && resource.id !== id) {
    throw httpError(400, 'invalid', resource.id === undefined ? `The resource must carry id "${id}" to match the URL` : `Resource id "${resource.id}" does not match the URL (${id})`, [`${type}.id`]);
  }
}

function deleteOutcome(o: OperationOutcome): OperationOutcome {
  return o.id === allOk.id ? { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'Done' } }] } : publicOutcome(o);
}

function withUnknownParams(bundle: Bundle, unknown: string[]): Bundle {
  const oo: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: unknown.map((p) => ({
      severity: 'warning',
      code: 'not-supported',
      details: { text: `Search parameter "${p}" is not supported and was ignored` },
      expression: [p],
    })),
  };
  return { ...bundle, entry: [...(bundle.entry ?? []), { resource: oo, search: { mode: 'outcome' } }] };
}

function groupParams(sp: URLSearchParams): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of sp) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,7}$/.test(v)) throw httpError(400, 'invalid', `${name} must be a non-negative integer`, [name]);
  return Number(v);
}

function historyOptions(q: URLSearchParams): { since?: string; offset?: number; limit?: number } {
  const raw = q.get('_since') ?? undefined;
  // Normalised here: the database would reject some strings Date.parse accepts.
  const since = raw === undefined ? undefined : parseDateRange(raw)?.low;
  if (raw !== undefined && !since) {
    throw httpError(400, 'invalid', '_since must be an instant such as 2025-01-31T09:00:00Z', ['_since']);
  }
  return { since, offset: intParam(q, '_offset'), limit: intParam(q, '_count') };
}

/** If-Match must be an ETag; the router silently ignores one it cannot read, so refuse it instead. */
function checkIfMatch(headers: Request['headers']): Request['headers'] {
  const ifMatch = headers['if-match'];
  if (ifMatch === undefined) return headers;
  const etag = normaliseEtag(ifMatch);
  if (!etag) throw httpError(400, 'invalid', 'If-Match must be an ETag such as W/"3"', ['If-Match']);
  return { ...headers, 'if-match': etag };
}
