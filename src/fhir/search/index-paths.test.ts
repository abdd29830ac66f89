import { readFileSync, readdirSync } from 'node:fs';
import { capitalize, evalFhirPathTyped, getElementDefinition, toTypedValue } from '@medplum/core';
import type { TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { MappingError } from '../../mapping/errors.ts';
import { mapRecord } from '../../mapping/map-record.ts';
import { SUPPORTED_RESOURCE_TYPES } from '../resource-types.ts';
import { loadBaseSchema } from '../schema.ts';
import { socialCarePlan, ukCorePatient } from '../validation/test-fixtures.ts';
import { compileIndexPath } from './index-paths.ts';
import type { IndexPathWalker } from './index-paths.ts';
import { extractIndexRows } from './index-values.ts';
import { indexedParams } from './search-params.ts';
import type { IndexedParam } from './search-params.ts';

/** The resource types the council import writes. */
const IMPORTED_TYPES = [
  'Patient', 'Goal', 'CarePlan', 'Task', 'QuestionnaireResponse', 'Condition', 'Provenance',
  'EpisodeOfCare', 'ServiceRequest', 'Consent', 'CareTeam', 'RelatedPerson', 'Flag',
];

const EXAMPLES_DIR = new URL('../../../docs/examples/council/', import.meta.url);

/** Every example council record mapped to FHIR (Provenance included), plus the validation fixtures. */
function realisticResources(): Resource[] {
  const out: Resource[] = [ukCorePatient(1), ukCorePatient(2), socialCarePlan(1), socialCarePlan(2)];
  for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const record = JSON.parse(readFileSync(new URL(file, EXAMPLES_DIR), 'utf8')) as { recordType: string };
    try {
      const mapped = mapRecord(record, record.recordType, { councilOds: 'X9C01', receivedAt: '2026-11-01T09:00:00Z' }, { validator: false });
      out.push(...mapped.resources, mapped.provenance);
    } catch (err) {
      // Records that map to nothing (a tombstone is a deletion) have no resources to index.
      if (!(err instanceof MappingError)) throw err;
    }
  }
  return out;
}

interface Outcome {
  walker: TypedValue[] | undefined;
  fhirpath: TypedValue[] | 'threw';
}

function evaluateBoth(resource: Resource, param: IndexedParam, walker: IndexPathWalker): Outcome {
  const root = toTypedValue(resource);
  let fhirpath: TypedValue[] | 'threw';
  try {
    fhirpath = evalFhirPathTyped(param.details.parsedExpression, [toTypedValue(resource)]);
  } catch {
    fhirpath = 'threw';
  }
  return { walker: walker(root), fhirpath };
}

/**
 * A walker that answers must answer what FHIRPath answers: same types, the
 * very same values. False when it left the question to FHIRPath.
 */
function expectAgreement(resource: Resource, param: IndexedParam, walker: IndexPathWalker): boolean {
  const { walker: mine, fhirpath } = evaluateBoth(resource, param, walker);
  if (mine === undefined) {
    return false;
  }
  const same =
    fhirpath !== 'threw' &&
    mine.length === fhirpath.length &&
    mine.every((v, i) => v.type === fhirpath[i]!.type && Object.is(v.value, fhirpath[i]!.value));
  if (!same) {
    // Only now build the message: this runs a few hundred thousand times.
    const where = `${resource.resourceType}.${param.code} (${param.details.parsedExpression.toString()}) over ${JSON.stringify(resource)}`;
    expect(fhirpath, where).not.toBe('threw');
    expect(mine.map((v) => [v.type, v.value]), where).toEqual((fhirpath as TypedValue[]).map((v) => [v.type, v.value]));
    expect.fail(`${where}: the same values, but not the very same objects`);
  }
  return true;
}

const walkers = new Map<string, { param: IndexedParam; walker: IndexPathWalker }[]>();

function walkersOf(resourceType: string): { param: IndexedParam; walker: IndexPathWalker }[] {
  let list = walkers.get(resourceType);
  if (!list) {
    list = [];
    for (const param of indexedParams(resourceType).values()) {
      const walker = compileIndexPath(resourceType, param.details.parsedExpression);
      if (walker) {
        list.push({ param, walker });
      }
    }
    walkers.set(resourceType, list);
  }
  return list;
}

/**
 * The JSON member paths (below the resource) an expression reads: its
 * member chains, with each choice element spelled every way it can be
 * (`Condition.onset` → onsetDateTime, onsetAge, ...).
 */
function jsonPaths(type: string, expression: string): string[][] {
  const out: string[][] = [];
  for (const m of expression.matchAll(new RegExp(`\\b${type}((?:\\.[A-Za-z]+(?![A-Za-z(]))+)`, 'g'))) {
    let paths: { keys: string[]; type: string | undefined }[] = [{ keys: [], type }];
    for (const name of m[1]!.slice(1).split('.')) {
      const next: typeof paths = [];
      for (const p of paths) {
        const element = p.type ? getElementDefinition(p.type, name) : undefined;
        if (!element) {
          next.push({ keys: [...p.keys, name], type: undefined });
          continue;
        }
        const last = element.path.slice(element.path.lastIndexOf('.') + 1);
        for (const t of element.type) {
          next.push(last.endsWith('[x]') ? { keys: [...p.keys, last.slice(0, -3) + capitalize(t.code)], type: t.code } : { keys: [...p.keys, name], type: t.code });
        }
      }
      paths = next;
    }
    out.push(...paths.map((p) => p.keys));
  }
  return out;
}

/** Stands for "a value with a primitive extension beside it" in the path grid. */
const EXTENSION = Symbol('extension');

// ------------------------------------------------------------- mutations

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Keys of the choice elements, reference members and primitives the indexed expressions read. */
const KEYS = [
  'deceasedBoolean', 'deceasedDateTime', 'onsetDateTime', 'onsetPeriod', 'onsetString', 'onsetAge', 'abatementDateTime',
  'abatementPeriod', 'abatementString', 'startDate', 'startCodeableConcept', 'dueDate', 'dueDuration', 'occurredDateTime',
  'occurredPeriod', 'occurrenceDateTime', 'occurrencePeriod', 'occurrenceTiming', 'scheduledTiming', 'scheduledPeriod',
  'scheduledString', 'reference', 'type', 'identifier', 'resource', 'system', 'value', 'start', 'end', 'subject', 'for',
  'patient', 'target', 'careManager', 'telecom', 'name', 'given', 'family', 'address', 'status', 'gender', 'birthDate',
  'period', 'meta', 'tag', 'profile', 'code', 'coding', 'resourceType', 'active', 'authoredOn', 'recorded', 'dateTime',
  '_deceasedBoolean', '_deceasedDateTime', '_onsetDateTime', '_onsetString', '_birthDate', '_status', '_reference', '_given',
];

const VALUE_LIST: Json[] = [
  null, '', 'x', 'Patient/p1', 'Practitioner/q2', 'https://elsewhere.example.org/fhir/Patient/p3', '?identifier=a|b', '/p4',
  'Group?name=x', 'urn:uuid:6c5a0e4e-3a8c-4f0b-9d43-2f3d7c1b1a01', '2024', '2024-05-01', '2024-05-01T10:30:00Z', 'phone',
  'email', 'female', true, false, 0, 1.5, {}, [], [null], [''], [{}], ['a', 'a'], { start: '2024-01' }, { end: '2025-03-01T10:00:00Z' },
  { start: 'soon' }, { reference: 'Patient/p5' }, { reference: 'Practitioner/q6' }, { type: 'Patient', identifier: { system: 's', value: 'v' } },
  { type: 'Practitioner?x', identifier: { value: 'v' } }, { type: 7, identifier: {} }, { reference: 5 }, { resource: { resourceType: 'Patient' } },
  { system: 'phone', value: '01632 960000' }, { system: 'email', value: 'a@example.org' }, { system: ['phone', 'phone'] },
  { extension: [{ url: 'http://example.org/x', valueString: 'e' }] }, [{ extension: [{ url: 'http://example.org/x', valueBoolean: true }] }],
  { family: 'Zoë', given: ['Ann', ''] }, { coding: [{ system: 's', code: 'c' }] }, [{ reference: 'Patient/p7' }, { reference: 'Patient/p7' }],
  ['2024-01-01', '2024-01-01'], [{ start: '2024' }, { start: '2024' }], { value: 3, unit: 'd' }, { resourceType: 'Patient', id: 'inline' },
];
const VALUE: fc.Arbitrary<Json> = fc.constantFrom(...VALUE_LIST);

type Mutation =
  | { op: 'set'; at: number; key: string; value: Json }
  | { op: 'wrap' | 'unwrap' | 'delete' | 'extend' | 'nullify'; at: number; pick: number };

/** Which object of the resource a mutation changes: the resource itself or one near its top, more often than not. */
const AT = fc.oneof(fc.constant(0), fc.nat(6), fc.nat());

const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: AT, key: fc.constantFrom(...KEYS), value: VALUE }),
  fc.record({ op: fc.constantFrom('wrap' as const, 'unwrap' as const, 'delete' as const, 'extend' as const, 'nullify' as const), at: AT, pick: fc.nat() }),
);

/** Every object inside `value` (the resource first). */
function objectsIn(value: Json, out: Record<string, Json>[] = []): Record<string, Json>[] {
  if (Array.isArray(value)) {
    value.forEach((v) => objectsIn(v, out));
  } else if (value !== null && typeof value === 'object') {
    out.push(value);
    Object.values(value).forEach((v) => objectsIn(v, out));
  }
  return out;
}

function mutate(resource: Resource, mutations: Mutation[]): Resource {
  const copy = structuredClone(resource) as unknown as Record<string, Json>;
  for (const m of mutations) {
    const objects = objectsIn(copy);
    // The root keeps its resourceType: a resource of another type is another walker's business.
    const target = objects[m.at % objects.length]!;
    const keys = Object.keys(target).filter((k) => !(target === copy && k === 'resourceType'));
    if (m.op === 'set') {
      if (target === copy && m.key === 'resourceType') continue;
      target[m.key] = structuredClone(m.value);
      continue;
    }
    const key = keys[m.pick % Math.max(keys.length, 1)];
    if (key === undefined) continue;
    const v = target[key]!;
    switch (m.op) {
      case 'wrap':
        target[key] = [v];
        break;
      case 'unwrap':
        if (Array.isArray(v) && v.length > 0) target[key] = v[0]!;
        break;
      case 'delete':
        delete target[key];
        break;
      case 'extend':
        // A primitive extension beside (or instead of) the value: `_birthDate`, `_given`...
        target[`_${key.replace(/^_/, '')}`] = Array.isArray(v) ? v.map(() => ({ id: 'e' })) : { extension: [{ url: 'http://example.org/x', valueString: 'e' }] };
        break;
      case 'nullify':
        target[key] = Array.isArray(v) ? [...v, null] : null;
        break;
    }
  }
  return copy as unknown as Resource;
}

describe('index path walkers', () => {
  let resources: Resource[] = [];
  beforeAll(() => {
    loadBaseSchema();
    resources = realisticResources();
  });

  test('compile for every indexed parameter of every supported type', () => {
    expect(SUPPORTED_RESOURCE_TYPES).toEqual(expect.arrayContaining(IMPORTED_TYPES));
    for (const type of SUPPORTED_RESOURCE_TYPES) {
      const missing = [...indexedParams(type).values()]
        .filter((p) => !compileIndexPath(type, p.details.parsedExpression))
        .map((p) => `${type}.${p.code}: ${p.details.parsedExpression.toString()}`);
      expect(missing).toEqual([]);
    }
  });

  test('the examples cover most imported types', () => {
    const types = new Set(resources.map((r) => r.resourceType));
    expect([...types].filter((t) => IMPORTED_TYPES.includes(t)).length).toBeGreaterThanOrEqual(10);
  });

  test('give exactly what FHIRPath gives on realistic resources, answering every parameter themselves', () => {
    let compared = 0;
    for (const resource of resources) {
      for (const { param, walker } of walkersOf(resource.resourceType)) {
        const answered = expectAgreement(resource, param, walker);
        expect(answered, `${resource.resourceType}.${param.code} fell back on ${resource.resourceType}/${resource.id}`).toBe(true);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  test('give exactly what FHIRPath gives on mutated resources, or leave it to FHIRPath', () => {
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.nat(), fc.array(MUTATION, { minLength: 1, maxLength: 6 }), (pick, mutations) => {
        const resource = mutate(resources[pick % resources.length]!, mutations);
        for (const { param, walker } of walkersOf(resource.resourceType)) {
          total++;
          if (expectAgreement(resource, param, walker)) answered++;
        }
      }),
      { numRuns: 1500 },
    );
    // Mutations rarely touch the one path a parameter reads: most answers stay the walkers'.
    expect(answered / total).toBeGreaterThan(0.8);
  });

  test('give exactly what FHIRPath gives with any of the test values in any member the parameters read at the top', () => {
    const values = VALUE_LIST;
    const seen = new Set<string>();
    let compared = 0;
    for (const resource of resources) {
      if (seen.has(resource.resourceType)) continue;
      seen.add(resource.resourceType);
      const keys = new Set([...KEYS, ...Object.keys(resource)].filter((k) => k !== 'resourceType'));
      for (const key of keys) {
        for (const value of values) {
          const changed = { ...resource, [key]: structuredClone(value) } as Resource;
          for (const { param, walker } of walkersOf(resource.resourceType)) {
            expectAgreement(changed, param, walker);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(100_000);
  });

  test('give exactly what FHIRPath gives with any test value at the end of any path a parameter reads, in every supported type', () => {
    let compared = 0;
    for (const type of SUPPORTED_RESOURCE_TYPES) {
      const list = walkersOf(type);
      for (const { param } of list) {
        for (const keys of jsonPaths(type, param.details.parsedExpression.toString())) {
          // Which parameters can see this path: those reading the same top-level member.
          const affected = list.filter((w) => jsonPaths(type, w.param.details.parsedExpression.toString()).some((k) => k[0] === keys[0]));
          for (let mask = 0; mask < 1 << Math.min(keys.length - 1, 2); mask++) {
            for (const value of [...VALUE_LIST, EXTENSION]) {
              const resource = { resourceType: type, id: 'grid' } as Record<string, unknown>;
              let o = resource;
              keys.slice(0, -1).forEach((k, i) => {
                const inner: Record<string, unknown> = {};
                o[k] = mask & (1 << i) ? [inner, { id: 'sibling' }] : inner;
                o = inner;
              });
              const last = keys[keys.length - 1]!;
              if (value === EXTENSION) {
                o[last] = 'x';
                o[`_${last}`] = { extension: [{ url: 'http://example.org/x', valueString: 'e' }] };
              } else {
                o[last] = structuredClone(value);
              }
              for (const { param: p, walker } of affected) {
                expectAgreement(resource as unknown as Resource, p, walker);
                compared++;
              }
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(50_000);
  });

  test('extractIndexRows gives the same rows with walkers as with FHIRPath alone', () => {
    const base = 'https://gw.example.org/fhir';
    fc.assert(
      fc.property(fc.nat(), fc.array(MUTATION, { maxLength: 4 }), (pick, mutations) => {
        const resource = mutate(resources[pick % resources.length]!, mutations);
        let expected: unknown;
        try {
          expected = extractIndexRows(resource, base, { walkers: false });
        } catch {
          expected = 'threw';
        }
        let actual: unknown;
        try {
          actual = extractIndexRows(resource, base, { walkers: true });
        } catch {
          actual = 'threw';
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });
});
