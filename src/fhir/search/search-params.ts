import { evalFhirPathTyped, getSearchParameterDetails, getSearchParameters, toTypedValue } from '@medplum/core';
import type { SearchParameterDetails } from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import { SUPPORTED_RESOURCE_TYPES } from '../resource-types.ts';
import { impliedCodeSystem } from '../validation/terminology.ts';

/** Which index table holds a parameter's values. */
export type IndexKind = 'token' | 'string' | 'reference' | 'date';

export interface IndexedParam {
  readonly code: string;
  readonly kind: IndexKind;
  readonly definition: SearchParameter;
  readonly details: SearchParameterDetails;
  /** Resource types a reference parameter may point to. */
  readonly targets: readonly string[];
  /** For token parameters over `code` elements: the system their codes come from, when the binding implies one. */
  readonly codeSystem?: string;
}

const KIND_BY_FHIR_TYPE: Partial<Record<string, IndexKind>> = {
  token: 'token',
  uri: 'token',
  string: 'string',
  reference: 'reference',
  date: 'date',
};

// _id and _lastUpdated live on the resource table itself; _compartment and
// _project are Medplum's own and mean nothing here.
const NOT_INDEXED = new Set(['_id', '_lastUpdated', '_compartment', '_project']);

/** Parameters answered from the resource table rather than an index table. */
export const RESOURCE_COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const registry = new Map<string, Map<string, IndexedParam>>();

function build(resourceType: string): Map<string, IndexedParam> {
  const result = new Map<string, IndexedParam>();
  const probe = toTypedValue({ resourceType } as Resource);
  for (const definition of Object.values(getSearchParameters(resourceType) ?? {})) {
    const kind = KIND_BY_FHIR_TYPE[definition.type];
    if (!kind || NOT_INDEXED.has(definition.code) || !definition.expression) {
      continue;
    }
    const details = getSearchParameterDetails(resourceType, definition);
    try {
      // An expression our FHIRPath engine cannot evaluate would silently index
      // nothing and make searches miss: leave it out (and out of the
      // CapabilityStatement) instead.
      evalFhirPathTyped(details.parsedExpression, [probe]);
    } catch {
      continue;
    }
    const targets = kind === 'reference' ? (definition.target ?? []) : [];
    result.set(definition.code, { code: definition.code, kind, definition, details, targets, codeSystem: codeSystemOf(details) });
  }
  return result;
}

function codeSystemOf(details: SearchParameterDetails): string | undefined {
  const elements = details.elementDefinitions ?? [];
  if (!elements.length || !elements.every((e) => e.type.length === 1 && e.type[0]?.code === 'code')) return undefined;
  const systems = new Set(elements.map((e) => (e.binding?.valueSet ? impliedCodeSystem(e.binding.valueSet) : undefined)));
  const [only] = systems;
  return systems.size === 1 ? only : undefined;
}

/** Requires loadBaseSchema() to have run. */
export function indexedParams(resourceType: string): ReadonlyMap<string, IndexedParam> {
  let params = registry.get(resourceType);
  if (!params) {
    params = build(resourceType);
    registry.set(resourceType, params);
  }
  return params;
}

export function indexedParam(resourceType: string, code: string): IndexedParam | undefined {
  return indexedParams(resourceType).get(code);
}

/** Warm the registry at start so the first request does not pay for it. */
export function buildSearchParamRegistry(): void {
  for (const t of SUPPORTED_RESOURCE_TYPES) {
    indexedParams(t);
  }
}
