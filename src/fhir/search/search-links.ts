import type { SearchRequest } from '@medplum/core';

const PREFIX_OPERATORS = new Set(['ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/**
 * Writes a parsed search back as standard FHIR query parameters, so paging
 * links repeat exactly the search that was run (and none of the ignored
 * parameters), with only the offset changed.
 */
export function searchQuery(req: SearchRequest, offset: number): string {
  const sp = new URLSearchParams();
  for (const f of req.filters ?? []) {
    if (f.operator === 'eq') {
      sp.append(f.code, f.value);
    } else if (PREFIX_OPERATORS.has(f.operator)) {
      sp.append(f.code, `${f.operator}${f.value}`);
    } else {
      sp.append(`${f.code}:${f.operator}`, f.value);
    }
  }
  if (req.sortRules?.length) {
    sp.set('_sort', req.sortRules.map((s) => (s.descending ? `-${s.code}` : s.code)).join(','));
  }
  for (const i of req.include ?? []) {
    sp.append(i.modifier ? `_include:${i.modifier}` : '_include', [i.resourceType, i.searchParam, i.targetType].filter(Boolean).join(':'));
  }
  for (const i of req.revInclude ?? []) {
    sp.append(i.modifier ? `_revinclude:${i.modifier}` : '_revinclude', [i.resourceType, i.searchParam, i.targetType].filter(Boolean).join(':'));
  }
  if (req.fields?.length) sp.set('_elements', req.fields.join(','));
  if (req.count === 0) {
    sp.set('_summary', 'count');
    return sp.toString();
  }
  if (req.summary) sp.set('_summary', req.summary);
  if (req.total) sp.set('_total', req.total);
  sp.set('_count', String(req.count ?? DEFAULT_COUNT));
  if (offset > 0) sp.set('_offset', String(offset));
  return sp.toString();
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
