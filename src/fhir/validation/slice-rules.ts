import { arrayify, getNestedProperty, matchDiscriminant } from '@medplum/core';
import type { SliceDefinition, SlicingRules, TypedValue, TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { LoadedProfile } from './profile-registry.ts';

/**
 * Checks the cardinality a profile gives the children of a slice, e.g. that
 * an identifier in the nhsNumber slice has a value. @medplum/core uses a
 * slice's child definitions only to decide which slice a value belongs to and
 * then counts the slice; it does not check the children themselves.
 *
 * Covers slices on top-level elements of the profiled resource, which is where
 * our profiles slice; fixed values of non-discriminator children are not checked.
 */
export function checkSliceChildren(resource: Resource, profile: LoadedProfile): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const root: TypedValueWithPath = { type: resource.resourceType, value: resource, path: resource.resourceType };
  for (const [key, element] of Object.entries(profile.schema.elements)) {
    const slicing = element.slicing;
    if (!slicing?.slices.length || key.includes('.')) {
      continue;
    }
    for (const found of getNestedProperty(root, key, { withPath: true })) {
      for (const value of arrayify(found) ?? []) {
        if (value.value === undefined) {
          continue;
        }
        const slice = findSlice(value, slicing);
        if (slice) {
          checkChildren(value, slice, issues);
        }
      }
    }
  }
  return issues;
}

/** Same matching rule as @medplum/core's validator: every discriminator must match. */
function findSlice(value: TypedValue, slicing: SlicingRules): SliceDefinition | undefined {
  return slicing.slices.find((slice) =>
    slicing.discriminator.every((discriminator) =>
      arrayify(getNestedProperty(value, discriminator.path))?.some((v) => matchDiscriminant(v, discriminator, slice))
    )
  );
}

function checkChildren(value: TypedValueWithPath, slice: SliceDefinition, issues: OperationOutcomeIssue[]): void {
  const object = value.value as Record<string, unknown>;
  if (typeof object !== 'object' || object === null) {
    return;
  }
  for (const [name, child] of Object.entries(slice.elements)) {
    if (name.includes('.')) {
      continue;
    }
    const count = countValues(object, name);
    if (count < child.min || count > child.max) {
      const max = Number.isFinite(child.max) ? String(child.max) : '*';
      issues.push({
        severity: 'error',
        code: 'structure',
        details: {
          text: `Slice '${slice.name}' requires ${child.min}..${max} ${name.replace('[x]', '')}, but found ${count}`,
        },
        expression: [`${value.path}.${name.replace('[x]', '')}`],
      });
    }
  }
}

function countValues(object: Record<string, unknown>, name: string): number {
  if (name.endsWith('[x]')) {
    const stem = name.slice(0, -3);
    return Object.keys(object).filter((k) => k.startsWith(stem) && /^[A-Z]/.test(k.slice(stem.length))).length;
  }
  // A primitive carried only by its extension (`_value`) still counts as present.
  const value = object[name] ?? object['_' + name];
  if (value === undefined || value === null) {
    return 0;
  }
  return Array.isArray(value) ? value.length : 1;
}
