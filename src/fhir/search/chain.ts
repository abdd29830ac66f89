import { isSupportedResourceType } from '../resource-types.ts';
import { indexedParam } from './search-params.ts';
import type { IndexedParam } from './search-params.ts';

/** Chains deeper than this are refused: each link is another nested semi-join. */
export const MAX_CHAIN_LINKS = 3;

export interface ChainLink {
  /** The reference parameter on the searched type (e.g. CarePlan "subject"). */
  param: IndexedParam;
  /** Types the chain may continue in (narrowed by subject:Patient.name). */
  targetTypes: string[];
  /** The rest of the key, as a search key on the target type ("name:exact", "general-practitioner.identifier"). */
  rest: string;
}

/**
 * Reads a chained search key (R4 search.html#chaining): "subject.name",
 * "subject:Patient.identifier", "patient.general-practitioner.identifier".
 * Returns undefined when the key is not a chain over one of our reference
 * parameters.
 */
export function parseChain(resourceType: string, key: string): ChainLink | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0 || key.split('.').length - 1 > MAX_CHAIN_LINKS) return undefined;
  const [code = '', typeModifier, ...extra] = key.slice(0, dot).split(':');
  const rest = key.slice(dot + 1);
  const param = indexedParam(resourceType, code);
  if (!param || param.kind !== 'reference' || extra.length || !rest) return undefined;
  let targetTypes: string[] = param.targets.filter(isSupportedResourceType);
  if (typeModifier !== undefined) {
    if (!targetTypes.includes(typeModifier)) return undefined;
    targetTypes = [typeModifier];
  }
  targetTypes = targetTypes.filter((t) => isKnownKey(t, rest));
  return targetTypes.length ? { param, targetTypes, rest } : undefined;
}

/** Whether a (possibly chained) key names a parameter we index on this type. */
function isKnownKey(resourceType: string, key: string): boolean {
  if (key.includes('.')) return parseChain(resourceType, key) !== undefined;
  const code = key.split(':')[0] ?? '';
  return code === '_id' || code === '_lastUpdated' || indexedParam(resourceType, code) !== undefined;
}
