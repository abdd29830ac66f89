import { beforeAll, describe, expect, test } from 'vitest';
import { loadBaseSchema } from '../schema.ts';
import { extractIndexRows } from './index-values.ts';

describe('extractIndexRows', () => {
  beforeAll(() => loadBaseSchema());

  test('code elements are indexed under the one system their required binding implies', () => {
    const rows = extractIndexRows({ resourceType: 'Patient', gender: 'female' });
    const i = rows.token.code.indexOf('gender');
    expect(rows.token.system[i]).toBe('http://hl7.org/fhir/administrative-gender');
    expect(rows.token.value[i]).toBe('female');
  });

  test('periods become ranges with open ends; references split into type and id', () => {
    const rows = extractIndexRows({
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/abc' },
      period: { start: '2025-01' },
    });
    const d = rows.date.code.indexOf('date');
    expect(rows.date.low[d]).toBe('2025-01-01T00:00:00.000Z');
    expect(rows.date.high[d]).toBe('infinity');
    const r = rows.reference.code.indexOf('subject');
    expect([rows.reference.targetType[r], rows.reference.targetId[r]]).toEqual(['Patient', 'abc']);
  });

  test('names are indexed part by part, normalised for case and accents', () => {
    const rows = extractIndexRows({ resourceType: 'Patient', name: [{ family: 'Zoë', given: ['Ann'] }] });
    const values = rows.string.value.filter((_, i) => rows.string.code[i] === 'name');
    expect(values).toEqual(expect.arrayContaining(['zoe', 'ann']));
  });
});

describe('absolute references to this server', () => {
  beforeAll(() => loadBaseSchema());
  const base = 'https://gw.example.org/fhir';
  const carePlan = (reference: string) =>
    extractIndexRows({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference } }, base);

  test('are indexed as local references', () => {
    const rows = carePlan(`${base}/Patient/abc`);
    const i = rows.reference.code.indexOf('subject');
    expect([rows.reference.targetType[i], rows.reference.targetId[i], rows.reference.reference[i]]).toEqual(['Patient', 'abc', null]);
  });

  test('references to other servers stay absolute', () => {
    const other = 'https://elsewhere.example.org/fhir/Patient/p1';
    const rows = carePlan(other);
    const i = rows.reference.code.indexOf('subject');
    expect([rows.reference.targetType[i], rows.reference.targetId[i], rows.reference.reference[i]]).toEqual([null, null, other]);
  });
});
