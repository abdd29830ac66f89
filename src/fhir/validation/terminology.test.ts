import type { ValueSet } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { Terminology } from './terminology.ts';

describe('Terminology', () => {
  const terminology = new Terminology();

  it('expands a value set that includes a whole code system', () => {
    const gender = terminology.expand('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
    expect(gender?.hasCoding('http://hl7.org/fhir/administrative-gender', 'female')).toBe(true);
    expect(gender?.hasCode('unknown')).toBe(true);
    expect(gender?.hasCode('x')).toBe(false);
    expect(gender?.hasCoding('http://example.org/other', 'female')).toBe(false);
  });

  it('includes nested concepts of a hierarchical code system', () => {
    // request-intent nests instance-order under filler-order under order
    const intent = terminology.expand('http://hl7.org/fhir/ValueSet/request-intent');
    expect(intent?.hasCode('order')).toBe(true);
    expect(intent?.hasCode('instance-order')).toBe(true);
  });

  it('returns undefined for value sets that need external terminology', () => {
    expect(terminology.expand('http://hl7.org/fhir/ValueSet/care-plan-category')).toBeUndefined(); // SNOMED CT is-a
    expect(terminology.expand('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined();
    expect(terminology.expand('https://example.org/fhir/ValueSet/missing')).toBeUndefined();
  });

  it('caches expansions', () => {
    const first = terminology.expand('http://hl7.org/fhir/ValueSet/task-status');
    expect(first).toBeDefined();
    expect(terminology.expand('http://hl7.org/fhir/ValueSet/task-status|4.0.1')).toBe(first);
  });

  it('expands local value sets: listed concepts, value set imports, is-a filters and excludes', () => {
    const local: ValueSet[] = [
      {
        resourceType: 'ValueSet',
        status: 'draft',
        url: 'https://example.org/vs/listed',
        compose: { include: [{ system: 'urn:s', concept: [{ code: 'a' }, { code: 'b' }] }] },
      },
      {
        resourceType: 'ValueSet',
        status: 'draft',
        url: 'https://example.org/vs/combined',
        compose: {
          include: [
            { valueSet: ['https://example.org/vs/listed'] },
            {
              system: 'http://hl7.org/fhir/request-intent',
              filter: [{ property: 'concept', op: 'is-a', value: 'filler-order' }],
            },
          ],
          exclude: [{ system: 'urn:s', concept: [{ code: 'b' }] }],
        },
      },
    ];
    const combined = new Terminology(local).expand('https://example.org/vs/combined');
    expect(combined?.hasCoding('urn:s', 'a')).toBe(true);
    expect(combined?.hasCoding('urn:s', 'b')).toBe(false);
    expect(combined?.hasCode('filler-order')).toBe(true);
    expect(combined?.hasCode('instance-order')).toBe(true);
    expect(combined?.hasCode('original-order')).toBe(false);
    expect(combined?.hasCode('order')).toBe(false);
  });

  it('survives value sets that include each other', () => {
    const loop: ValueSet[] = [
      { resourceType: 'ValueSet', status: 'draft', url: 'urn:vs:a', compose: { include: [{ valueSet: ['urn:vs:b'] }] } },
      { resourceType: 'ValueSet', status: 'draft', url: 'urn:vs:b', compose: { include: [{ valueSet: ['urn:vs:a'] }] } },
    ];
    expect(new Terminology(loop).expand('urn:vs:a')).toBeUndefined();
  });
});
