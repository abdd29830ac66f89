import { isResourceType } from '@medplum/core';
import type { InternalTypeSchema } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateStructure } from '../structural.ts';
import type { CollectedTokens } from '../structural.ts';
import { ukCorePatient } from '../test-fixtures.ts';
import { createValidator } from '../validator.ts';
import { fastValidate } from './fast-validate.ts';
import type { CollectedToken } from './fast-validate.ts';
import { applyMutation, mutationArb } from './mutations.ts';
import { realisticResources } from './realistic-resources.ts';

/*
 * The fast path must be a sound acceptor for @medplum/core's validation:
 * whenever it accepts, medplum reports nothing and collects the same
 * required-binding values. Checked on every realistic resource, and on
 * randomly damaged copies of them.
 *
 * Runs: FUZZ_RUNS=n, or FUZZ_SCALE=k times the default; wall-clock budget
 * FUZZ_TIME_LIMIT_MS (default here 4 s per property, so CI stays quick).
 * A soak: FUZZ_RUNS=20000 FUZZ_TIME_LIMIT_MS=1200000 npx vitest run src/fhir/validation/fast-path
 */
const RUNS = Number(process.env.FUZZ_RUNS) || Math.max(1, Math.round(300 * Number(process.env.FUZZ_SCALE || 1)));
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS) || 4_000;
const params = { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false };
const TEST_TIMEOUT_MS = TIME_LIMIT_MS + 60_000;

const validator = createValidator();
const slowValidator = createValidator({ fastValidation: false });
let corpus: Resource[] = [];

beforeAll(() => {
  corpus = realisticResources(40);
});

/** Schemas a resource is checked against: its profiles, and its base type. */
function schemasFor(resource: Resource): (InternalTypeSchema | undefined)[] {
  const { profiles } = validator.registry.select(resource);
  return [...profiles.map((p) => p.schema), undefined];
}

/** Tokens as a sorted multiset of (value set, type, JSON value, path). */
function fastTokenKeys(tokens: CollectedToken[]): string[] {
  return tokens.map((t) => JSON.stringify([t.valueSetUrl, t.value.type, t.value.value, t.value.path])).sort();
}

function medplumTokenKeys(tokens: CollectedTokens): string[] {
  return Object.entries(tokens)
    .flatMap(([url, values]) => values.map((t) => JSON.stringify([url, t.type, t.value, t.path])))
    .sort();
}

/** Asserts soundness for one resource and schema; returns whether the fast path accepted. */
function checkAgreement(resource: Resource, schema: InternalTypeSchema | undefined): boolean {
  const fast = fastValidate(resource, schema);
  if (!fast) {
    return false;
  }
  const tokens: CollectedTokens = {};
  const issues = validateStructure(resource, schema, tokens);
  expect(issues, `fast path accepted, medplum reports issues (${schema?.url ?? 'base'})`).toEqual([]);
  expect(fastTokenKeys(fast)).toEqual(medplumTokenKeys(tokens));
  return true;
}

describe('fast path on realistic resources', () => {
  it('accepts every one, with the tokens medplum collects', () => {
    expect(corpus.length).toBeGreaterThan(100);
    for (const resource of corpus) {
      for (const schema of schemasFor(resource)) {
        const where = `${resource.resourceType}/${resource.id} against ${schema?.url ?? 'the base type'}`;
        // medplum's verdict first, so a mapping that starts producing invalid resources says so plainly.
        expect(validateStructure(resource, schema, {}), `medplum on ${where}`).toEqual([]);
        expect(checkAgreement(resource, schema), `fast path on ${where}`).toBe(true);
      }
    }
  });

  it('gives the same issues as the full validator on each', () => {
    for (const resource of corpus) {
      expect(validator.validate(resource)).toEqual(slowValidator.validate(resource));
    }
  });
});

describe('fast path on damaged resources', () => {
  const damaged = fc
    .tuple(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
    .map(([pick, mutations]) => {
      const resource = structuredClone(corpus[pick % corpus.length]!) as unknown as Record<string, unknown>;
      for (const m of mutations) {
        applyMutation(resource, m);
      }
      return resource as unknown as Resource;
    });

  it(
    'never accepts what medplum would report, and collects the same tokens',
    () => {
      let accepted = 0;
      let total = 0;
      fc.assert(
        fc.property(damaged, (resource) => {
          if (typeof resource?.resourceType !== 'string' || !isResourceType(resource.resourceType)) {
            return;
          }
          for (const schema of schemasFor(resource)) {
            total++;
            if (checkAgreement(resource, schema)) {
              accepted++;
            }
          }
        }),
        params
      );
      // Some mutations are harmless (an extra valid value...), most are not: both sides must be exercised.
      expect(total).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(total);
      if (total >= 100) {
        expect(accepted).toBeGreaterThan(0);
      }
    },
    TEST_TIMEOUT_MS
  );

  it(
    'leaves the validator answering exactly as without it',
    () => {
      fc.assert(
        fc.property(damaged, (resource) => {
          expect(validator.validate(resource)).toEqual(slowValidator.validate(resource));
        }),
        params
      );
    },
    TEST_TIMEOUT_MS
  );
});

describe('validator with the fast path', () => {
  it('reports a required-binding failure after a fast accept exactly as before', () => {
    const patient = { ...ukCorePatient(5), gender: 'not-a-gender' } as unknown as Resource;
    for (const schema of schemasFor(patient)) {
      expect(checkAgreement(patient, schema)).toBe(true); // structurally fine: the code is only unknown
    }
    const issues = validator.validate(patient);
    expect(issues.some((i) => i.code === 'code-invalid' && i.expression?.[0] === 'Patient.gender')).toBe(true);
    expect(issues).toEqual(slowValidator.validate(patient));
  });
});

describe('fast path gives up on', () => {
  const base = (): Record<string, unknown> => structuredClone(ukCorePatient(3)) as unknown as Record<string, unknown>;
  const cases: [string, (p: Record<string, unknown>) => void][] = [
    ['an impossible date', (p) => (p.birthDate = '1948-02-30')],
    ['an empty string', (p) => (p.gender = '')],
    ['whitespace padding in a code', (p) => (p.gender = ' female')],
    ['an unknown property', (p) => (p.favouriteColour = 'green')],
    ['a primitive extension', (p) => (p._birthDate = { extension: [{ url: 'http://example.org/x', valueString: 'y' }] })],
    ['a single value where an array belongs', (p) => (p.name = { family: 'Quillfeather' })],
    ['an array where a single value belongs', (p) => (p.gender = ['female'])],
    ['a null', (p) => (p.active = null)],
    ['a contained resource', (p) => (p.contained = [{ resourceType: 'Organization', id: 'o1', name: 'x' }])],
    ['two types of one choice', (p) => {
      p.deceasedBoolean = false;
      p.deceasedDateTime = '2020-01-01';
    }],
    ['an extension with both value and extensions', (p) => {
      (p.extension as Record<string, unknown>[])[0]!.extension = [{ url: 'x', valueString: 'y' }];
    }],
    ['a reference to the wrong type', (p) => ((p.generalPractitioner as Record<string, unknown>[])[0]!.reference = 'Patient/p1')],
  ];
  for (const [what, damage] of cases) {
    it(what, () => {
      const patient = base();
      damage(patient);
      for (const schema of schemasFor(patient as unknown as Resource)) {
        expect(fastValidate(patient as unknown as Resource, schema)).toBeUndefined();
      }
    });
  }

  it('but accepts the undamaged patient', () => {
    const patient = base() as unknown as Resource;
    for (const schema of schemasFor(patient)) {
      expect(checkAgreement(patient, schema)).toBe(true);
    }
  });
});
