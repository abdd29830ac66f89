import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConceptMap } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import * as codeLists from '../../src/council/format/code-lists.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { mapRecord } from '../../src/mapping/map-record.ts';
import { DEFAULT_MAPPINGS_DIR, MappingLoadError, MappingRegistry, getMappingRegistry } from '../../src/mapping/mapping-registry.ts';

const tmp = mkdtempSync(join(tmpdir(), 'joinedup-mappings-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readJsonDir(dir: string): unknown[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown);
}

describe('the project mappings', () => {
  const registry = getMappingRegistry();

  it('finds every format from its directory and every record type from its file', () => {
    expect(registry.formats().sort()).toEqual(['council-csv-v1', 'council-v1']);
    expect(registry.recordTypes('council-v1')).toEqual(
      expect.arrayContaining(['person', 'related-person', 'safeguarding', 'contact', 'assessment', 'service', 'review']),
    );
    expect(registry.get('council-v1', 'person')).toMatchObject({ name: 'council-v1-person', version: '1.0.0' });
  });

  it('is cached', () => {
    expect(getMappingRegistry()).toBe(registry);
  });

  it('has ConceptMaps and CodeSystems that pass validation', () => {
    const validator = createValidator();
    for (const resource of [...readJsonDir(join(DEFAULT_MAPPINGS_DIR, 'conceptmaps')), ...readJsonDir(join(DEFAULT_MAPPINGS_DIR, 'codesystems'))]) {
      expect(validator.validate(resource as ConceptMap)).toEqual([]);
    }
  });

  it('translates every code of each council format v1 code list it uses (ConceptMaps stay in sync with the format)', () => {
    const maps = registry.conceptMaps;
    const pairs: [string, codeLists.CodeList][] = [
      ['council-v1-gender', codeLists.GENDER],
      ['council-v1-ethnic-category', codeLists.ETHNIC_CATEGORY],
      ['council-v1-primary-support-reason', codeLists.PRIMARY_SUPPORT_REASON],
      ['council-v1-accommodation-status', codeLists.ACCOMMODATION_STATUS],
      ['council-v1-relationship', codeLists.RELATIONSHIP_TYPE],
    ];
    for (const [id, list] of pairs) {
      const url = `https://joinedup.org.uk/fhir/ConceptMap/${id}`;
      for (const code of Object.keys(list.codes)) {
        expect(maps.translate(url, code), `${id} ${code}`).toBeDefined();
      }
      const map = JSON.parse(readFileSync(join(DEFAULT_MAPPINGS_DIR, 'conceptmaps', `${id}.json`), 'utf8')) as ConceptMap;
      expect(map.group?.[0]?.source).toBe(list.system);
    }
  });
});

describe('a new source format is files alone', () => {
  it('is picked up from a new directory, with its own ConceptMap, without code changes', () => {
    const dir = join(tmp, 'with-new-format');
    cpSync(DEFAULT_MAPPINGS_DIR, dir, { recursive: true });
    mkdirSync(join(dir, 'tiny-v1'));
    writeFileSync(
      join(dir, 'conceptmaps', 'tiny-v1-sex.json'),
      JSON.stringify({
        resourceType: 'ConceptMap',
        status: 'active',
        url: 'urn:tiny:sex',
        group: [{ target: 'http://hl7.org/fhir/administrative-gender', element: [{ code: '1', target: [{ code: 'male', equivalence: 'equivalent' }] }] }],
      }),
    );
    writeFileSync(
      join(dir, 'tiny-v1', 'person.json'),
      JSON.stringify({
        name: 'tiny-v1-person',
        version: '0.1.0',
        format: 'tiny-v1',
        recordType: 'person',
        source: { system: "'tiny'", recordId: 'id' },
        key: 'id',
        resources: [
          {
            resourceType: 'Patient',
            id: { $id: {} },
            identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '{{ nhs }}' }],
            gender: { $translate: { conceptMap: 'urn:tiny:sex', code: 'sex', as: 'code' } },
          },
        ],
      }),
    );
    const registry = MappingRegistry.load(dir);
    const result = mapRecord({ id: 'T1', nhs: '9990000018', sex: '1' }, 'person', { councilOds: 'X9C01', receivedAt: '2026-11-20T10:00:00Z', format: 'tiny-v1' }, { registry });
    expect(result.resources[0]).toMatchObject({ resourceType: 'Patient', gender: 'male' });
    expect(result.provenance.policy).toEqual(['https://joinedup.org.uk/fhir/mapping/tiny-v1/tiny-v1-person|0.1.0']);
  });
});

describe('bad mapping files are refused at load, naming the file and the problem', () => {
  function loadWith(file: string, content: unknown): () => MappingRegistry {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    mkdirSync(join(dir, 'fmt'));
    writeFileSync(join(dir, 'fmt', file), typeof content === 'string' ? content : JSON.stringify(content));
    return () => MappingRegistry.load(dir);
  }
  const good = { name: 'x', version: '1.0.0', format: 'fmt', recordType: 'person', source: { system: 's', recordId: 'r' }, key: 'k', resources: [{ resourceType: 'Patient', id: { $id: {} } }] };

  it('refuses each problem', () => {
    expect(loadWith('person.json', good)).not.toThrow();
    expect(loadWith('person.json', '{')).toThrow(/not valid JSON/);
    expect(loadWith('person.json', { ...good, version: 'one' })).toThrow(/version: semantic version/);
    expect(loadWith('person.json', { ...good, format: 'other' })).toThrow(/does not match its directory/);
    expect(loadWith('carer.json', good)).toThrow(/does not match its file name/);
    expect(loadWith('person.json', { ...good, resources: [{ resourceType: 'Patient' }] })).toThrow(/needs an id/);
    expect(loadWith('person.json', { ...good, resources: [{ resourceType: 'Patient', id: { $id: {} }, gender: '{{ ( }}' }] })).toThrow(MappingLoadError);
  });
});

describe('mapRecord', () => {
  const ctx = { councilOds: 'X9C01', receivedAt: '2026-11-20T10:00:00Z' };

  it('refuses an unknown record type or format', () => {
    expect(() => mapRecord({}, 'nonsense', ctx)).toThrow(/No mapping for record type 'nonsense'/);
    expect(() => mapRecord({}, 'person', { ...ctx, format: 'nope' })).toThrow(/Unknown source format 'nope'/);
  });

  it('refuses a non-object record', () => {
    expect(() => mapRecord([], 'person', ctx)).toThrow(MappingError);
  });

  it('maps many records with one loaded registry, each to its own deterministic ids (throughput is the benchmark’s job, not a test’s)', () => {
    const record = JSON.parse(readFileSync(new URL('./golden/older-man-discharged-with-carer.input.json', import.meta.url), 'utf8')).record as Record<string, unknown>;
    const registry = getMappingRegistry();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const r = mapRecord({ ...record, person: { localId: `MID-${i}` } }, 'person', ctx, { registry });
      const patient = r.resources.find((x) => x.resourceType === 'Patient');
      ids.add(patient?.id as string);
      // Same input, same ids: the second mapping of a record is identical.
      expect(mapRecord({ ...record, person: { localId: `MID-${i}` } }, 'person', ctx, { registry }).resources).toEqual(r.resources);
    }
    expect(ids.size).toBe(50);
    expect(getMappingRegistry()).toBe(registry); // loaded once, cached
  });
});
