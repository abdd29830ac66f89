import type { TypedValueWithPath } from '@medplum/core';
import type { CollectedToken } from './fast-validate.ts';

/**
 * Adds the fast path's tokens to `tokens` exactly as @medplum/core's
 * ResourceValidator.appendToken would have, had it validated: a versioned
 * key (`url|version`) already present takes the value, and a value already
 * collected at the same path (by another profile) is not added twice.
 */
export function appendTokens(tokens: Record<string, TypedValueWithPath[]>, collected: CollectedToken[]): void {
  for (const { valueSetUrl, value } of collected) {
    let list = tokens[valueSetUrl];
    if (!list) {
      for (const key of Object.keys(tokens)) {
        if (key.startsWith(valueSetUrl + '|')) {
          list = tokens[key];
        }
      }
    }
    if (list?.some((t) => t.path === value.path)) {
      continue;
    }
    if (list) {
      list.push(value);
      tokens[valueSetUrl] = list;
    } else {
      tokens[valueSetUrl] = [value];
    }
  }
}
