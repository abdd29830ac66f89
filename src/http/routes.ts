import type { ScopeNeed } from '../auth/authenticate.ts';
import type { Permission } from '../auth/scopes.ts';
import { isSupportedResourceType } from '../fhir/resource-types.ts';
import { parseChain } from '../fhir/search/chain.ts';
import { indexedParam } from '../fhir/search/search-params.ts';
import { HttpError, httpError, outcome } from './outcome.ts';

/** What a request under the FHIR base asks for, decided from its method and path alone. */
export type Route =
  | { kind: 'metadata' }
  | { kind: 'bundle' }
  | { kind: 'search'; type: string; viaPost: boolean }
  | { kind: 'create'; type: string }
  | { kind: 'read' | 'update' | 'delete' | 'patch'; type: string; id: string }
  | { kind: 'vread'; type: string; id: string; vid: string }
  | { kind: 'history-type'; type: string }
  | { kind: 'history-instance'; type: string; id: string }
  | { kind: 'validate'; type: string }
  | { kind: 'everything'; id: string };

type Kind = Route['kind'];

/** The interactions a Bundle entry may carry: the plain REST ones the router runs itself. */
export const BUNDLE_ENTRY_KINDS: ReadonlySet<Kind> = new Set<Kind>(['search', 'create', 'read', 'vread', 'update', 'delete', 'patch', 'history-instance']);

/**
 * Maps method + path to a route, or throws: 404 when nothing lives at the
 * path, 405 when something does but not for this method. Conditional update,
 * delete and patch (PUT/DELETE/PATCH on a type) are not offered, as the
 * CapabilityStatement says, so they are 405 rather than passed on.
 */
export function resolveRoute(method: string, path: string): Route {
  const segments = decodeSegments(path);
  const [first = '', second, third, fourth] = segments;
  const n = segments.length;
  const pick = (options: Partial<Record<string, Route>>, what: string): Route => {
    const route = options[method];
    if (!route) {
      const allowed = Object.keys(options).join(', ');
      // RFC 9110 §15.5.6: a 405 names the methods that would work.
      throw new HttpError(405, outcome('not-supported', `${what} supports ${allowed} only, not ${method}`), { Allow: allowed });
    }
    return route;
  };

  if (n === 0) return pick({ POST: { kind: 'bundle' } }, 'The base URL (batch/transaction Bundles)');
  if (first === 'metadata' && n === 1) return pick({ GET: { kind: 'metadata' } }, 'metadata');
  if (!isSupportedResourceType(first)) {
    throw httpError(404, 'not-supported', `Resource type "${first}" is not supported by this server`);
  }
  const type = first;
  if (n === 1) return pick({ GET: { kind: 'search', type, viaPost: false }, POST: { kind: 'create', type } }, type);
  const sub = second as string;
  if (n === 2 && sub === '_search') return pick({ POST: { kind: 'search', type, viaPost: true } }, `${type}/_search`);
  if (n === 2 && sub === '_history') return pick({ GET: { kind: 'history-type', type } }, `${type}/_history`);
  if (n === 2 && sub === '$validate') return pick({ POST: { kind: 'validate', type } }, `${type}/$validate`);
  if (isReserved(sub)) throw notHere(path);
  const id = sub;
  if (n === 2) {
    return pick(
      { GET: { kind: 'read', type, id }, PUT: { kind: 'update', type, id }, DELETE: { kind: 'delete', type, id }, PATCH: { kind: 'patch', type, id } },
      `${type}/[id]`
    );
  }
  if (n === 3 && third === '_history') return pick({ GET: { kind: 'history-instance', type, id } }, `${type}/[id]/_history`);
  if (n === 3 && third === '$everything' && type === 'Patient') return pick({ GET: { kind: 'everything', id } }, 'Patient/[id]/$everything');
  if (n === 4 && third === '_history' && fourth && !isReserved(fourth)) {
    return pick({ GET: { kind: 'vread', type, id, vid: fourth } }, `${type}/[id]/_history/[vid]`);
  }
  throw notHere(path);
}

function decodeSegments(path: string): string[] {
  try {
    return path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw httpError(400, 'invalid', 'The request path is not valid percent-encoding');
  }
}

/** Operations ($...) and result/control paths (_...) are never ids. */
function isReserved(segment: string): boolean {
  return segment.startsWith('$') || segment.startsWith('_');
}

function notHere(path: string) {
  const op = path.split('/').find((s) => s.startsWith('$'));
  return httpError(404, 'not-supported', op ? `Operation ${op} is not supported here` : 'No FHIR endpoint at this path');
}

/**
 * The first query parameter holding a NUL character, which PostgreSQL text
 * cannot store or compare: refused up front instead of failing in the database.
 */
export function paramWithNul(query: string): string | undefined {
  for (const [k, v] of new URLSearchParams(query)) {
    if (k.includes('\u0000') || v.includes('\u0000')) return k.replace(/\u0000/g, '');
  }
  return undefined;
}

/**
 * The SMART scopes a request needs (SMART App Launch 2.x scopes-and-launch-context):
 * read, vread and history need r; search s; create c; update and patch u;
 * delete d; $validate c or u; $everything r on Patient (and r on each _type
 * asked for: the caller limits the rest to what the token may read).
 * A search needs s on every type it touches: chained types (the filter
 * reveals them) and r or s on _include/_revinclude types (they come back in
 * the answer). A conditional create (If-None-Exist) also searches, so it
 * needs s. Parameters we do not recognise are ignored here; they are dropped
 * or refused by the search itself and never run.
 */
export function scopeNeeds(route: Route, params: URLSearchParams, conditionalCreate = false): ScopeNeed[] {
  const one = (target: string, ...anyOf: Permission[]): ScopeNeed => ({ target, anyOf });
  switch (route.kind) {
    case 'metadata':
    case 'bundle':
      // A Bundle needs nothing itself; each entry is checked on its own.
      return [];
    case 'read':
    case 'vread':
    case 'history-instance':
    case 'history-type':
      return [one(route.type, 'r')];
    case 'search':
      return [one(route.type, 's'), ...searchTouches(route.type, params)];
    case 'create':
      return conditionalCreate ? [one(route.type, 'c'), one(route.type, 's')] : [one(route.type, 'c')];
    case 'update':
    case 'patch':
      return [one(route.type, 'u')];
    case 'delete':
      return [one(route.type, 'd')];
    case 'validate':
      return [one(route.type, 'c', 'u')];
    case 'everything':
      // A _type we do not hold touches nothing (the operation refuses it, 400): no scope to ask for, and no client text in WWW-Authenticate.
      return [one('Patient', 'r'), ...everythingTypes(params).filter(isSupportedResourceType).map((t) => one(t, 'r'))];
  }
}

/** The _type list of a $everything request. */
export function everythingTypes(params: URLSearchParams): string[] {
  return params.getAll('_type').flatMap((v) => v.split(',')).filter(Boolean);
}

function searchTouches(type: string, params: URLSearchParams): ScopeNeed[] {
  const needs: ScopeNeed[] = [];
  for (const [key, value] of params) {
    const code = key.split(':')[0];
    if (code === '_include' || code === '_revinclude') {
      const [source = '', param = '', target] = value.split(':');
      const included = code === '_revinclude' ? [source] : target ? [target] : (indexedParamTargets(source, param) ?? []);
      // A type we do not hold touches nothing (partitionSearchQuery drops the parameter as unknown);
      // asking a scope for it would also put the client's text in WWW-Authenticate.
      for (const t of included.filter(isSupportedResourceType)) needs.push({ target: t, anyOf: ['r', 's'] });
    } else if (key.includes('.') && !key.startsWith('_')) {
      for (const t of chainTypes(type, key)) needs.push({ target: t, anyOf: ['s'] });
    }
  }
  return needs;
}

/** Every type a chained key searches, link by link. */
function chainTypes(type: string, key: string): string[] {
  const link = parseChain(type, key);
  if (!link) return [];
  return link.targetTypes.flatMap((t) => [t, ...(link.rest.includes('.') ? chainTypes(t, link.rest) : [])]);
}

function indexedParamTargets(type: string, code: string): string[] | undefined {
  if (!isSupportedResourceType(type)) return undefined;
  const p = indexedParam(type, code);
  return p?.kind === 'reference' ? p.targets.filter(isSupportedResourceType) : undefined;
}
