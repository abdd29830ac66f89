import { isSupportedResourceType } from '../fhir/resource-types.ts';
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
