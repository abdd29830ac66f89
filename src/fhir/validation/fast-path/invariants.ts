import { evalFhirPathTyped, parseFhirPath, toTypedValue, UCUM } from '@medplum/core';
import type { Constraint, TypedValue, TypedValueWithPath } from '@medplum/core';
import type { ObjectPlan } from './compile-profile.ts';
import { nativeInvariant } from './native-invariants.ts';
import type { NativeInvariant } from './native-invariants.ts';

/*
 * FHIRPath invariants, evaluated where and as @medplum/core 5.2.13 evaluates
 * them (ResourceValidator.constraintsCheck / isExpressionTrue): only
 * severity 'error', minus its skip list, on each value of an element and on
 * the root against the schema's own constraints. An invariant holds only when
 * the expression yields exactly one `true`; an expression that throws is a
 * reported issue there, so a failure here.
 *
 * The ones on the hot path (ext-1 on every extension, dom-2/4/5 on every
 * resource, our profiles' reference rules...) are answered natively (see
 * native-invariants.ts); everything else runs medplum's own evaluator on a
 * parse cached here.
 */

/** medplum's skippedConstraintKeys. */
const SKIPPED = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

export type InvariantPlan =
  | { kind: 'native'; key: string; test: NativeInvariant }
  | { kind: 'fhirpath'; key: string; expression: string; atom: ReturnType<typeof parseFhirPath> }
  | { kind: 'fails'; key: string };

const parsed = new Map<string, InvariantPlan>();

export function compileInvariants(constraints: Constraint[] | undefined): InvariantPlan[] {
  const out: InvariantPlan[] = [];
  for (const c of constraints ?? []) {
    if (c.severity !== 'error' || SKIPPED.has(c.key)) {
      continue;
    }
    const native = nativeInvariant(c.expression);
    if (native) {
      out.push({ kind: 'native', key: c.key, test: native });
      continue;
    }
    let plan = parsed.get(c.expression);
    if (!plan) {
      try {
        plan = { kind: 'fhirpath', key: c.key, expression: c.expression, atom: parseFhirPath(c.expression) };
      } catch {
        plan = { kind: 'fails', key: c.key }; // medplum reports a processing issue for it
      }
      parsed.set(c.expression, plan);
    }
    out.push(plan);
  }
  return out;
}

/** The FHIRPath environment medplum gives an invariant, built once per resource. */
export class InvariantScope {
  private variables: Record<string, TypedValue> | undefined;

  constructor(
    private readonly resource: Record<string, unknown>,
    private readonly root: TypedValue
  ) {}

  /** True when the invariant surely holds for `value` (its %context), an object crawled with `plan`. */
  holds(plan: InvariantPlan, value: TypedValueWithPath, objectPlan: ObjectPlan | undefined): boolean {
    if (plan.kind === 'fails') {
      return false;
    }
    if (plan.kind === 'native') {
      const obj = value.value as unknown;
      if (objectPlan === undefined || typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        return false;
      }
      return plan.test(obj as Record<string, unknown>, objectPlan) === true;
    }
    this.variables ??= {
      '%ucum': toTypedValue(UCUM),
      // medplum's current resource is the root here: the fast path gives up on nested resources.
      '%resource': toTypedValue(this.resource),
      '%rootResource': this.root,
    };
    try {
      // A fresh object per evaluation, as medplum makes: an expression may define variables.
      const result = evalFhirPathTyped(plan.atom, [value], { ...this.variables, '%context': value });
      return result.length === 1 && result[0]?.value === true;
    } catch {
      return false;
    }
  }
}
