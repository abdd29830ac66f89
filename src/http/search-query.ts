import { RESOURCE_COLUMN_PARAMS, indexedParam } from '../fhir/search/search-params.ts';

// Result parameters we implement (R4 search.html#return). Anything else that
// starts with "_" is unknown to us.
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_summary', '_elements', '_total', '_format', '_pretty']);
const SUMMARY_VALUES = new Set(['true', 'false', 'text', 'data', 'count']);

export interface PartitionedQuery {
  kept: URLSearchParams;
  /** Parameters we do not support, as the client wrote them. */
  unknown: string[];
}

/**
 * Separates the parameters we understand from the rest. Unknown ones are
 * dropped and reported (or refused under Prefer: handling=strict), per R4
 * search.html#errors.
 */
export function partitionSearchQuery(resourceType: string, query: URLSearchParams): PartitionedQuery {
  const kept = new URLSearchParams();
  const unknown: string[] = [];
  for (const [key, value] of query) {
    if (isKnown(resourceType, key, value)) {
      kept.append(key, value);
    } else {
      unknown.push(key);
    }
  }
  return { kept, unknown };
}

function isKnown(resourceType: string, key: string, value: string): boolean {
  const [code = '', modifier] = key.split(':');
  if (RESULT_PARAMS.has(code)) {
    if (code === '_summary') return SUMMARY_VALUES.has(value);
    return modifier === undefined;
  }
  if (code === '_include' || code === '_revinclude') {
    if (modifier !== undefined && modifier !== 'iterate') return false;
    const [type = '', param = ''] = value.split(':');
    return indexedParam(type, param)?.kind === 'reference';
  }
  if (RESOURCE_COLUMN_PARAMS.has(code)) {
    return true;
  }
  // Chained parameters (subject.name=...) are not supported.
  return !code.includes('.') && indexedParam(resourceType, code) !== undefined;
}
