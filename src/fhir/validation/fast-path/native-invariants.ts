import type { ObjectPlan } from './compile-profile.ts';

/*
 * Invariants on the hot path answered without FHIRPath, each recognised by
 * its exact expression text and written to give what @medplum/core's
 * evaluator gives for it (AndAtom/OrAtom evaluate both sides; `x.exists()`
 * is whether getTypedPropertyValue resolves a non-empty x). Each answers
 * true/false, or undefined where the input is anything it was not written
 * for (a primitive extension, an empty value, a non-string where
 * startsWith() would throw), which the fast path treats as "ask medplum".
 */

type JsonObject = Record<string, unknown>;
export type NativeInvariant = (obj: JsonObject, plan: ObjectPlan) => boolean | undefined;

/**
 * `symbol.exists()` on an object of the plan's type: the first JSON name
 * medplum's resolution tries that is present decides, and an empty value
 * resolves to nothing.
 */
export function exists(obj: JsonObject, plan: ObjectPlan, symbol: string): boolean | undefined {
  const resolved = plan.symbolNames(symbol);
  if (!resolved) {
    return undefined;
  }
  const { names, extensionNames } = resolved;
  for (let i = 0; i < names.length; i++) {
    if (obj[extensionNames[i]!] !== undefined) {
      return undefined;
    }
    const v = obj[names[i]!];
    if (v !== undefined) {
      return nonEmpty(v);
    }
  }
  return false;
}

/** true/false for a clearly present value; undefined for null and empty values (medplum's isEmpty), left to medplum. */
export function nonEmpty(v: unknown): boolean | undefined {
  if (v === null || v === '') {
    return undefined;
  }
  if (Array.isArray(v)) {
    return v.length > 0 ? true : undefined;
  }
  if (typeof v === 'object') {
    for (const _ in v) {
      return true;
    }
    return undefined; // {}
  }
  return true;
}

const noContained: NativeInvariant = (o, p) => (exists(o, p, 'contained') === false ? true : undefined);

const NATIVE = new Map<string, NativeInvariant>([
  [
    'extension.exists() != value.exists()', // ext-1
    (o, p) => both(exists(o, p, 'extension'), exists(o, p, 'value'), (e, v) => e !== v),
  ],
  ['contained.contained.empty()', noContained], // dom-2
  ['contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()', noContained], // dom-4
  ['contained.meta.security.empty()', noContained], // dom-5
  [
    '(answer.exists() and item.exists()).not()', // qrs-1
    (o, p) => both(exists(o, p, 'answer'), exists(o, p, 'item'), (a, i) => !(a && i)),
  ],
  [
    '(detail.exists() and measure.exists()) or detail.exists().not()', // gol-1
    (o, p) => both(exists(o, p, 'detail'), exists(o, p, 'measure'), (d, m) => (d && m) || !d),
  ],
  [
    'detail.empty() or reference.empty()', // cpl-3
    (o, p) => both(exists(o, p, 'detail'), exists(o, p, 'reference'), (d, r) => !d || !r),
  ],
]);

function both(a: boolean | undefined, b: boolean | undefined, f: (a: boolean, b: boolean) => boolean): boolean | undefined {
  return a === undefined || b === undefined ? undefined : f(a, b);
}

/**
 * Our profiles' reference rule (jup-cp-1 and kin): a Reference may only name
 * `target`, by type and by literal reference.
 */
function referenceTargetRule(target: string): string {
  return (
    `(type.empty() or type = '${target}') and (reference.empty() or reference.startsWith('#') or ` +
    `reference.startsWith('urn:uuid:') or reference.matches('^((.*/)?${target}/[A-Za-z0-9.-]{1,64}` +
    `(/_history/[A-Za-z0-9.-]{1,64})?|${target}[?].+)$'))`
  );
}

function referenceTargetInvariant(target: string): NativeInvariant {
  const pattern = new RegExp(`^((.*/)?${target}/[A-Za-z0-9.-]{1,64}(/_history/[A-Za-z0-9.-]{1,64})?|${target}[?].+)$`);
  return (o, p) => {
    const typeExists = exists(o, p, 'type');
    const referenceExists = exists(o, p, 'reference');
    if (typeExists === undefined || referenceExists === undefined) {
      return undefined;
    }
    const type = o.type;
    const reference = o.reference;
    if ((typeExists && typeof type !== 'string') || (referenceExists && typeof reference !== 'string')) {
      return undefined;
    }
    const typeOk = !typeExists || type === target;
    const referenceOk =
      !referenceExists ||
      (reference as string).startsWith('#') ||
      (reference as string).startsWith('urn:uuid:') ||
      pattern.test(reference as string);
    return typeOk && referenceOk;
  };
}

/** The native form of `expression`, if there is one. */
export function nativeInvariant(expression: string): NativeInvariant | undefined {
  const known = NATIVE.get(expression);
  if (known) {
    return known;
  }
  const target = /^\(type\.empty\(\) or type = '([A-Za-z]+)'\)/.exec(expression)?.[1];
  if (target && expression === referenceTargetRule(target)) {
    return referenceTargetInvariant(target);
  }
  return undefined;
}
