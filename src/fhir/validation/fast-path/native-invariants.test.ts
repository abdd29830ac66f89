import { evalFhirPathTyped, getAllDataTypes, toTypedValue, UCUM } from '@medplum/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBaseSchema } from '../../schema.ts';
import { planFor } from './compile-profile.ts';
import { nativeInvariant } from './native-invariants.ts';

/*
 * Each native invariant against @medplum/core's own evaluator, on objects
 * built from the properties the expression reads (and a few it does not):
 * wherever the native form answers, it answers what medplum's does.
 */

const RUNS = Number(process.env.FUZZ_RUNS) || Math.max(1, Math.round(500 * Number(process.env.FUZZ_SCALE || 1)));

const REFERENCE_RULE = (t: string): string =>
  `(type.empty() or type = '${t}') and (reference.empty() or reference.startsWith('#') or ` +
  `reference.startsWith('urn:uuid:') or reference.matches('^((.*/)?${t}/[A-Za-z0-9.-]{1,64}` +
  `(/_history/[A-Za-z0-9.-]{1,64})?|${t}[?].+)$'))`;

const VALUES = [
  undefined,
  null,
  '',
  'x',
  'Patient',
  'Organization',
  'Patient/abc-1',
  'Patient/abc_1',
  'http://example.org/fhir/Patient/p.1/_history/2',
  'Patient/p1/_history/',
  'Patient?identifier=x',
  'Patient?',
  'Organization/o1',
  '#c1',
  'urn:uuid:5c67caa3-713d-5da8-8d9b-1bcda937a3a4',
  'urn:uuid:x',
  0,
  7,
  true,
  [],
  {},
  ['x'],
  [{ url: 'a', valueString: 'b' }],
  { reference: 'Patient/p1' },
  { text: 'x' },
  { coding: [{ system: 's', code: 'c' }] },
  [{ valueString: 'a' }],
];

interface Case {
  type: string;
  expression: string;
  keys: string[];
}

const CASES: Case[] = [
  { type: 'Extension', expression: 'extension.exists() != value.exists()', keys: ['url', 'extension', 'valueString', 'valueCode', 'valueCodeableConcept', '_valueString', 'valueFoo'] },
  { type: 'CarePlan', expression: 'contained.contained.empty()', keys: ['contained', '_contained', 'status'] },
  { type: 'CarePlan', expression: 'contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()', keys: ['contained', 'status'] },
  { type: 'CarePlan', expression: 'contained.meta.security.empty()', keys: ['contained', 'status'] },
  { type: 'QuestionnaireResponseItem', expression: '(answer.exists() and item.exists()).not()', keys: ['linkId', 'answer', 'item', '_item'] },
  { type: 'GoalTarget', expression: '(detail.exists() and measure.exists()) or detail.exists().not()', keys: ['measure', 'detailString', 'detailQuantity', 'detailBoolean', '_detailString'] },
  { type: 'CarePlanActivity', expression: 'detail.empty() or reference.empty()', keys: ['detail', 'reference', 'progress', '_reference'] },
  { type: 'Reference', expression: REFERENCE_RULE('Patient'), keys: ['reference', 'type', 'display', '_reference', '_type'] },
  { type: 'Reference', expression: REFERENCE_RULE('Organization'), keys: ['reference', 'type', 'identifier'] },
];

beforeAll(() => {
  loadBaseSchema();
});

function medplumHolds(expression: string, type: string, value: Record<string, unknown>): boolean {
  const typed = { type, value, path: type };
  try {
    const result = evalFhirPathTyped(expression, [typed], {
      '%context': typed,
      '%ucum': toTypedValue(UCUM),
      '%resource': toTypedValue(value),
      '%rootResource': typed,
    });
    return result.length === 1 && result[0]?.value === true;
  } catch {
    return false;
  }
}

describe('native invariants agree with medplum', () => {
  for (const c of CASES) {
    it(`${c.type}: ${c.expression.slice(0, 60)}`, () => {
      const native = nativeInvariant(c.expression);
      expect(native).toBeDefined();
      const plan = planFor(getAllDataTypes()[c.type]!, c.type);
      let answered = 0;
      fc.assert(
        fc.property(
          fc.dictionary(fc.constantFrom(...c.keys), fc.constantFrom(...VALUES), { maxKeys: 4 }),
          (raw) => {
            const obj = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
            const answer = native!(obj, plan);
            if (answer !== undefined) {
              answered++;
              expect(answer, JSON.stringify(obj)).toBe(medplumHolds(c.expression, c.type, obj));
            }
          }
        ),
        { numRuns: RUNS }
      );
      expect(answered).toBeGreaterThan(0);
    });
  }

  it('does not claim expressions it does not know', () => {
    expect(nativeInvariant('extension.exists() != value.exists() ')).toBeUndefined();
    expect(nativeInvariant(REFERENCE_RULE('Patient').replace('{1,64}', '{1,65}'))).toBeUndefined();
  });
});
