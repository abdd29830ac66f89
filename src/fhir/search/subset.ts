import { getDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

function markSubsetted(r: Record<string, unknown>): void {
  const meta = (r.meta ?? {}) as { tag?: unknown[] };
  r.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
}

/**
 * _elements and _summary (R4 search.html#elements, #summary): keep only the
 * asked-for elements plus those a reader always needs, and tag the result
 * SUBSETTED so nobody mistakes it for the whole resource.
 */
export function subsetResource(resource: Resource, fields?: string[], summary?: string): Resource {
  if (!fields?.length && (!summary || summary === 'false')) {
    return resource;
  }
  const source = resource as unknown as Record<string, unknown>;
  const schema = getDataType(resource.resourceType);
  const mandatory = schema.mandatoryProperties ?? new Set<string>();
  let keep: (key: string) => boolean;
  if (fields?.length) {
    const wanted = new Set(fields.map((f) => f.trim().split('.')[0]));
    keep = (k) => wanted.has(k) || mandatory.has(k);
  } else if (summary === 'true') {
    const props = schema.summaryProperties ?? new Set<string>();
    keep = (k) => props.has(k) || mandatory.has(k);
  } else if (summary === 'text') {
    keep = (k) => k === 'text' || mandatory.has(k);
  } else if (summary === 'data') {
    keep = (k) => k !== 'text';
  } else {
    return resource;
  }
  const out: Record<string, unknown> = { resourceType: resource.resourceType };
  for (const [k, v] of Object.entries(source)) {
    if (k === 'resourceType' || k === 'id' || k === 'meta' || keep(k)) {
      out[k] = v;
    }
  }
  markSubsetted(out);
  return out as unknown as Resource;
}
