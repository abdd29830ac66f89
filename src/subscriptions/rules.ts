import { parseSearchRequest } from '@medplum/core';
import type { SearchRequest } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, Subscription } from '@medplum/fhirtypes';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { partitionSearchQuery } from '../http/search-query.ts';

/**
 * What a Subscription may ask for (docs/subscriptions.md). Criteria are kept
 * to searches we evaluate cheaply against one written resource: a type we
 * notify on, only that type's own indexed parameters (and _id), no chains,
 * includes or result parameters. A care plan subscription must name whose plan.
 */
export const SUBSCRIBABLE_TYPES: ReadonlySet<string> = new Set(['Task', 'ServiceRequest', 'CarePlan']);

const CRITERIA_RE = /^([A-Z][A-Za-z]+)\?(.+)$/;
const FHIR_JSON = 'application/fhir+json';
const MAX_HEADERS = 10;
const MAX_HEADER_LENGTH = 4096;

export interface SubscriptionRuleOptions {
  /** Hosts to which plain http endpoints are allowed (development and tests). */
  httpHosts: ReadonlySet<string>;
}

export interface ParsedCriteria {
  resourceType: string;
  search: SearchRequest;
}

/** The criteria as a search, or the reason it is refused. */
export function parseCriteria(criteria: string | undefined): ParsedCriteria | { error: string } {
  const m = CRITERIA_RE.exec(criteria ?? '');
  if (!m) return { error: 'Subscription.criteria must be a search such as "Task?owner=Organization/..." (type, "?", at least one parameter)' };
  const [, resourceType = '', query = ''] = m;
  if (!SUBSCRIBABLE_TYPES.has(resourceType)) {
    return { error: `Subscriptions are supported on ${[...SUBSCRIBABLE_TYPES].join(', ')} only, not ${resourceType}` };
  }
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    return { error: 'Subscription.criteria is not a valid query string' };
  }
  const codes: string[] = [];
  for (const [key, value] of params) {
    const code = key.split(':')[0] ?? '';
    if (key.includes('.') || (code.startsWith('_') && code !== '_id')) {
      return { error: `Subscription.criteria may not use "${code}": only the type's own search parameters (and _id) are evaluated` };
    }
    if (!value) return { error: `Subscription.criteria parameter "${key}" has no value` };
    codes.push(code);
  }
  if (!codes.length) return { error: 'Subscription.criteria needs at least one search parameter' };
  let kept: URLSearchParams;
  try {
    const partition = partitionSearchQuery(resourceType, params);
    if (partition.unknown.length) return { error: `Subscription.criteria uses unsupported search parameters: ${partition.unknown.join(', ')}` };
    kept = partition.kept;
  } catch (err) {
    return { error: `Subscription.criteria is not a search we can evaluate: ${issueText(err)}` };
  }
  if (resourceType === 'CarePlan' && !codes.some((c) => c === 'patient' || c === 'subject')) {
    return { error: 'A CarePlan subscription must name whose plan: CarePlan?patient=Patient/{id} (or subject=)' };
  }
  const grouped: Record<string, string[]> = {};
  for (const [k, v] of kept) (grouped[k] ??= []).push(v);
  try {
    return { resourceType, search: parseSearchRequest(resourceType, grouped) };
  } catch (err) {
    return { error: `Subscription.criteria is not a search we can evaluate: ${issueText(err)}` };
  }
}

/** Our rules for a Subscription, as validation issues (errors make the write a 422). */
export function subscriptionIssues(sub: Subscription, options: SubscriptionRuleOptions): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const problem = (code: OperationOutcomeIssue['code'], text: string, expression: string): void => {
    issues.push({ severity: 'error', code, details: { text }, expression: [expression] });
  };
  const parsed = parseCriteria(sub.criteria);
  if ('error' in parsed) problem('not-supported', parsed.error, 'Subscription.criteria');
  const channel = sub.channel;
  if (channel?.type !== 'rest-hook') {
    problem('not-supported', `Only channel type "rest-hook" is supported, not "${channel?.type ?? ''}"`, 'Subscription.channel.type');
    return issues;
  }
  const endpointProblem = checkEndpoint(channel.endpoint, options);
  if (endpointProblem) problem('value', endpointProblem, 'Subscription.channel.endpoint');
  if (channel.payload !== undefined && channel.payload !== FHIR_JSON && channel.payload !== 'application/json') {
    problem('not-supported', `channel.payload must be ${FHIR_JSON} (or absent for an empty notification), not "${channel.payload}"`, 'Subscription.channel.payload');
  }
  const headers = channel.header ?? [];
  if (headers.length > MAX_HEADERS) problem('value', `At most ${MAX_HEADERS} channel headers`, 'Subscription.channel.header');
  headers.forEach((h, i) => {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/.exec(h);
    if (!m || h.length > MAX_HEADER_LENGTH || /[\r\n\0]/.test(h)) {
      problem('value', 'A channel header must be "Name: value" on one line', `Subscription.channel.header[${i}]`);
      return;
    }
    const name = (m[1] ?? '').toLowerCase();
    if (['content-type', 'content-length', 'host', 'transfer-encoding', 'connection'].includes(name)) {
      problem('value', `The channel header "${m[1]}" is set by the gateway`, `Subscription.channel.header[${i}]`);
    }
  });
  return issues;
}

/** https anywhere; http only to the configured development hosts. Undefined when acceptable. */
export function checkEndpoint(endpoint: string | undefined, options: SubscriptionRuleOptions): string | undefined {
  if (!endpoint) return 'A rest-hook subscription needs channel.endpoint';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'channel.endpoint must be an absolute URL';
  }
  if (url.username || url.password) return 'channel.endpoint may not carry credentials (use channel.header)';
  if (url.hash) return 'channel.endpoint may not have a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && options.httpHosts.has(url.hostname.toLowerCase())) return undefined;
  return 'channel.endpoint must be an https URL';
}

/**
 * The validator the store uses, with our Subscription rules added to base R4
 * validation (Subscription has no profile of ours).
 */
export function withSubscriptionRules(inner: ResourceValidator, options: SubscriptionRuleOptions): ResourceValidator {
  return {
    validate(resource: Resource) {
      const issues = inner.validate(resource);
      if (resource.resourceType !== 'Subscription') return issues;
      return [...issues, ...subscriptionIssues(resource, options)];
    },
  };
}

function issueText(err: unknown): string {
  const e = err as { outcome?: { issue?: { details?: { text?: string } }[] }; message?: string };
  return e.outcome?.issue?.[0]?.details?.text ?? e.message ?? 'invalid';
}
