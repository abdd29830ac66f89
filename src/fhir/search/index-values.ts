import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { OPEN_HIGH, OPEN_LOW, parseDateRange } from './date-range.ts';
import { compileIndexPath } from './index-paths.ts';
import type { IndexPathWalker } from './index-paths.ts';
import { indexText } from './index-text.ts';
import { normalizeString } from './normalize.ts';
import { indexedParams } from './search-params.ts';
import type { IndexedParam } from './search-params.ts';

/** Column-major index rows for one resource, ready for unnest() inserts. */
export interface IndexRows {
  token: { code: string[]; system: (string | null)[]; value: (string | null)[] };
  string: { code: string[]; value: string[]; exact: string[] };
  reference: {
    code: string[];
    targetType: (string | null)[];
    targetId: (string | null)[];
    reference: (string | null)[];
    identSystem: (string | null)[];
    identValue: (string | null)[];
  };
  date: { code: string[]; low: string[]; high: string[] };
}

function emptyRows(): IndexRows {
  return {
    token: { code: [], system: [], value: [] },
    string: { code: [], value: [], exact: [] },
    reference: { code: [], targetType: [], targetId: [], reference: [], identSystem: [], identValue: [] },
    date: { code: [], low: [], high: [] },
  };
}

const RELATIVE_REF = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function splitReference(ref: string): { type: string; id: string } | undefined {
  const m = RELATIVE_REF.exec(ref);
  return m ? { type: m[1] as string, id: m[2] as string } : undefined;
}

export interface ExtractOptions {
  /**
   * Read plain-path expressions with direct JSON walkers (index-paths.ts);
   * false evaluates every expression with FHIRPath, as before they existed.
   * Defaults to true unless JOINEDUP_INDEX_WALKERS=off (read once, for
   * benchmarks and for ruling the walkers out when chasing a search bug).
   */
  walkers?: boolean;
}

const WALKERS_DEFAULT = process.env.JOINEDUP_INDEX_WALKERS !== 'off';

interface CompiledParam {
  param: IndexedParam;
  walker?: IndexPathWalker;
}

const compiledParams = new Map<string, CompiledParam[]>();

function paramsOf(resourceType: string): CompiledParam[] {
  let list = compiledParams.get(resourceType);
  if (!list) {
    list = [];
    for (const param of indexedParams(resourceType).values()) {
      const walker = compileIndexPath(resourceType, param.details.parsedExpression);
      list.push(walker ? { param, walker } : { param });
    }
    compiledParams.set(resourceType, list);
  }
  return list;
}

/**
 * @param localBase - this server's FHIR base URL: absolute references to it
 *   are indexed like relative ones, so subject=Patient/x finds them.
 */
export function extractIndexRows(resource: Resource, localBase?: string, options: ExtractOptions = {}): IndexRows {
  const rows = emptyRows();
  const input = [toTypedValue(resource)];
  const root = input[0]!;
  const walkers = options.walkers ?? WALKERS_DEFAULT;
  for (const { param, walker } of paramsOf(resource.resourceType)) {
    const values = (walkers && walker ? walker(root) : undefined) ?? evalFhirPathTyped(param.details.parsedExpression, input);
    for (const v of values) {
      switch (param.kind) {
        case 'token':
          addToken(rows, param.code, v, param.codeSystem);
          break;
        case 'string':
          addString(rows, param.code, v);
          break;
        case 'reference':
          addReference(rows, param.code, v, localBase);
          break;
        case 'date':
          addDate(rows, param.code, v);
          break;
      }
    }
  }
  return rows;
}

function pushToken(rows: IndexRows, code: string, system: string | undefined, value: string | undefined): void {
  if (system === undefined && value === undefined) {
    return;
  }
  rows.token.code.push(code);
  rows.token.system.push(indexText(system ?? null));
  rows.token.value.push(indexText(value ?? null));
}

function addToken(rows: IndexRows, code: string, v: TypedValue, codeSystem: string | undefined): void {
  const x = v.value;
  if (x === undefined || x === null) {
    return;
  }
  switch (v.type) {
    case 'CodeableConcept':
      for (const c of x.coding ?? []) {
        pushToken(rows, code, c.system, c.code);
      }
      return;
    case 'Coding':
      pushToken(rows, code, x.system, x.code);
      return;
    case 'Identifier':
      pushToken(rows, code, x.system, x.value);
      return;
    case 'ContactPoint':
      pushToken(rows, code, x.system, x.value);
      return;
    case 'boolean':
      pushToken(rows, code, undefined, String(x));
      return;
    case 'code':
      pushToken(rows, code, codeSystem, String(x));
      return;
    default:
      if (typeof x === 'string' || typeof x === 'number') {
        pushToken(rows, code, undefined, String(x));
      }
  }
}

function pushString(rows: IndexRows, code: string, s: unknown): void {
  if (typeof s !== 'string' || s.trim() === '') {
    return;
  }
  rows.string.code.push(code);
  rows.string.value.push(indexText(normalizeString(s)));
  rows.string.exact.push(indexText(s));
}

function addString(rows: IndexRows, code: string, v: TypedValue): void {
  const x = v.value;
  if (x === undefined || x === null) {
    return;
  }
  if (v.type === 'HumanName') {
    for (const part of [x.text, x.family, ...(x.given ?? []), ...(x.prefix ?? []), ...(x.suffix ?? [])]) {
      pushString(rows, code, part);
    }
  } else if (v.type === 'Address') {
    for (const part of [x.text, ...(x.line ?? []), x.city, x.district, x.state, x.postalCode, x.country]) {
      pushString(rows, code, part);
    }
  } else {
    pushString(rows, code, x);
  }
}

function addReference(rows: IndexRows, code: string, v: TypedValue, localBase: string | undefined): void {
  const x = v.value;
  if (x === undefined || x === null) {
    return;
  }
  // canonical/uri-valued "references" (e.g. instantiates-canonical) are plain strings.
  const written: string | undefined = typeof x === 'string' ? x : x.reference;
  const ref = localBase && written?.startsWith(`${localBase}/`) ? written.slice(localBase.length + 1) : written;
  const ident = typeof x === 'object' ? x.identifier : undefined;
  if (!ref && !ident) {
    return;
  }
  const split = ref ? splitReference(ref) : undefined;
  rows.reference.code.push(code);
  rows.reference.targetType.push(indexText(split?.type ?? null));
  rows.reference.targetId.push(split?.id ?? null);
  rows.reference.reference.push(split ? null : indexText(ref ?? null));
  rows.reference.identSystem.push(indexText(ident?.system ?? null));
  rows.reference.identValue.push(indexText(ident?.value ?? null));
}

function addDate(rows: IndexRows, code: string, v: TypedValue): void {
  const x = v.value;
  if (x === undefined || x === null) {
    return;
  }
  let low: string | undefined;
  let high: string | undefined;
  if (v.type === 'Period') {
    low = x.start ? parseDateRange(x.start)?.low : OPEN_LOW;
    high = x.end ? parseDateRange(x.end)?.high : OPEN_HIGH;
  } else if (typeof x === 'string') {
    const r = parseDateRange(x);
    low = r?.low;
    high = r?.high;
  }
  if (low === undefined || high === undefined) {
    return;
  }
  rows.date.code.push(code);
  rows.date.low.push(low);
  rows.date.high.push(high);
}
