import { parseChain } from '../fhir/search/chain.ts';
import { RESOURCE_COLUMN_PARAMS, indexedParam } from '../fhir/search/search-params.ts';
import type { IndexKind } from '../fhir/search/search-params.ts';
import { httpError } from './outcome.ts';

// Result parameters we implement (R4 search.html#return). Anything else that
// starts with "_" is unknown to us.
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_summary', '_elements', '_total', '_format', '_pretty']);
const SUMMARY_VALUES = new Set(['true', 'false', 'text', 'data', 'count']);
const NON_NEGATIVE_INT = /^\d{1,9}$/;

// Modifiers search-sql.ts implements, by index kind. @medplum/core reads an
// unrecognised modifier as plain equality, which would quietly answer a
// different question than the one asked: those are refused here instead.
const MODIFIERS: Record<IndexKind, ReadonlySet<string>> = {
  token: new Set(['missing', 'not']),
  string: new Set(['missing', 'exact', 'contains']),
  reference: new Set(['missing', 'not', 'identifier']),
  date: new Set(['missing']),
};
const COLUMN_MODIFIERS: Record<string, ReadonlySet<string>> = { _id: new Set(['not']), _lastUpdated: new Set() };
const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

export interface PartitionedQuery {
  kept: URLSearchParams;
  /** Parameters we do not support, as the client wrote them. */
  unknown: string[];
}

/**
 * Separates the parameters we understand from the rest. Unknown ones are
 * dropped and reported (or refused under Prefer: handling=strict), per R4
 * search.html#errors. Known parameters with values or modifiers we cannot
 * honour are refused outright (400): ignoring those would change the answer.
 */
export function partitionSearchQuery(resourceType: string, query: URLSearchParams): PartitionedQuery {
  const kept = new URLSearchParams();
  const unknown: string[] = [];
  for (const [key, value] of query) {
    const known = classify(resourceType, key, value);
    if (known) {
      kept.append(known[0], known[1]);
    } else {
      unknown.push(key);
    }
  }
  return { kept, unknown };
}

/** The parameter as it should be searched, or undefined when unknown. Throws on known-but-unusable. */
function classify(resourceType: string, key: string, value: string): [string, string] | undefined {
  if (key.includes('.') && !key.startsWith('_')) {
    // Chains are checked link by link; their values are parsed on the target type.
    return parseChain(resourceType, key) ? [key, value] : undefined;
  }
  const [code = '', modifier, ...rest] = key.split(':');
  if (rest.length) return undefined;
  if (RESULT_PARAMS.has(code)) {
    if (modifier !== undefined) return undefined;
    if (code === '_summary') return SUMMARY_VALUES.has(value) ? [key, value] : undefined;
    if ((code === '_count' || code === '_offset') && !NON_NEGATIVE_INT.test(value)) {
      throw httpError(400, 'invalid', `${code} must be a non-negative integer, not "${value}"`, [code]);
    }
    return [key, value];
  }
  if (code === '_include' || code === '_revinclude') {
    if (modifier !== undefined && modifier !== 'iterate') return undefined;
    const [type = '', param = ''] = value.split(':');
    return indexedParam(type, param)?.kind === 'reference' ? [key, value] : undefined;
  }
  if (RESOURCE_COLUMN_PARAMS.has(code)) {
    if (modifier !== undefined && !COLUMN_MODIFIERS[code]?.has(modifier)) throw unsupportedModifier(code, modifier);
    return [key, value];
  }
  const param = indexedParam(resourceType, code);
  if (!param) return undefined;
  if (param.kind === 'date' && modifier !== 'missing' && /(?<!\\),/.test(value)) {
    // @medplum/core's parser reads the whole value as one date.
    throw httpError(400, 'not-supported', `Comma-separated (OR) values are not supported for date parameter "${code}"`, [key]);
  }
  if (modifier === undefined || MODIFIERS[param.kind].has(modifier)) return [key, value];
  if (param.kind === 'reference' && RESOURCE_TYPE.test(modifier) && (param.targets.length === 0 || param.targets.includes(modifier))) {
    // subject:Patient=123 means subject=Patient/123 (R4 search.html#reference).
    const typed = value
      .split(/(?<!\\),/)
      .map((v) => (v.includes('/') ? v : `${modifier}/${v}`))
      .join(',');
    return [code, typed];
  }
  throw unsupportedModifier(code, modifier);
}

function unsupportedModifier(code: string, modifier: string) {
  return httpError(400, 'not-supported', `Modifier ":${modifier}" is not supported on search parameter "${code}"`, [`${code}:${modifier}`]);
}
