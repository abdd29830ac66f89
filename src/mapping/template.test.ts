import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ConceptMaps } from './concept-maps.ts';
import { TemplateCompileError, compileTemplate, evaluateTemplate } from './template.ts';
import type { EvalServices } from './template.ts';

const maps = new ConceptMaps();
maps.add({
  resourceType: 'ConceptMap',
  status: 'active',
  url: 'urn:test:sex',
  name: 'TestSex',
  group: [
    { source: 'urn:src', target: 'http://hl7.org/fhir/administrative-gender', element: [{ code: 'M', target: [{ code: 'male', equivalence: 'equivalent' }] }] },
    { source: 'urn:src', target: 'urn:other', element: [{ code: 'M', target: [{ code: 'm', display: 'Man', equivalence: 'equal' }] }, { code: 'X', target: [{ code: 'x', equivalence: 'unmatched' }] }] },
  ],
});

function evaluate(template: unknown, record: unknown): { value: unknown; issues: OperationOutcomeIssue[] } {
  const issues: OperationOutcomeIssue[] = [];
  const services: EvalServices = { conceptMaps: maps, issues, id: (r) => `${r.type}:${r.kind ?? ''}:${r.key}:${r.index ?? ''}` };
  const value = evaluateTemplate(compileTemplate(template, 't', maps), { record, env: { ctx: { councilOds: 'X9C01' } }, defaultKey: 'K1' }, services);
  return { value, issues };
}

describe('template values', () => {
  it('gives a single value, an array for several, and drops absent keys', () => {
    const { value } = evaluate({ a: '{{ x }}', b: '{{ ys }}', c: '{{ missing }}', d: 'literal', e: 3, f: ['{{ ys }}', 'z'] }, { x: 1, ys: ['p', 'q'] });
    expect(value).toEqual({ a: 1, b: ['p', 'q'], d: 'literal', e: 3, f: ['p', 'q', 'z'] });
  });

  it('interpolates, and an absent part makes the string absent', () => {
    const { value } = evaluate({ s: 'urn:{{ %ctx.councilOds }}:{{ id }}', t: 'urn:{{ nothing }}' }, { id: 'A' });
    expect(value).toEqual({ s: 'urn:X9C01:A' });
  });

  it('drops empty objects and arrays', () => {
    expect(evaluate({ a: [{ b: '{{ no }}' }], c: { d: '{{ no }}' }, e: 1 }, {}).value).toEqual({ e: 1 });
  });

  it('reports an interpolated expression with several values', () => {
    const { issues } = evaluate({ s: 'x{{ ys }}' }, { ys: [1, 2] });
    expect(issues[0]?.expression).toEqual(['ys']);
  });
});

describe('template directives', () => {
  it('$if keeps or drops the object', () => {
    const t = { items: [{ $if: 'on', v: 1 }, { $if: 'on.not()', v: 2 }] };
    expect(evaluate(t, { on: true }).value).toEqual({ items: [{ v: 1 }] });
    expect(evaluate(t, { on: false }).value).toEqual({ items: [{ v: 2 }] });
  });

  it('$forEach repeats with %item and %index, filtered per item by $if', () => {
    const t = { list: [{ $forEach: 'people', $if: '%item.keep', name: '{{ %item.name }}', n: '{{ %index }}' }] };
    const { value } = evaluate(t, { people: [{ name: 'a', keep: true }, { name: 'b', keep: false }, { name: 'c', keep: true }] });
    expect(value).toEqual({ list: [{ name: 'a', n: 0 }, { name: 'c', n: 2 }] });
  });

  it('$translate gives codings, a code or a CodeableConcept, optionally for one target system', () => {
    const t = {
      all: { $translate: { conceptMap: 'urn:test:sex', code: 'sex' } },
      one: { $translate: { conceptMap: 'urn:test:sex', code: 'sex', target: 'urn:other' } },
      code: { $translate: { conceptMap: 'urn:test:sex', code: 'sex', as: 'code' } },
      cc: { $translate: { conceptMap: 'urn:test:sex', code: 'sex', as: 'codeableConcept', text: 'label' } },
      none: { $translate: { conceptMap: 'urn:test:sex', code: 'absent' } },
    };
    expect(evaluate(t, { sex: 'M', label: 'Man' }).value).toEqual({
      all: [
        { system: 'http://hl7.org/fhir/administrative-gender', code: 'male' },
        { system: 'urn:other', code: 'm', display: 'Man' },
      ],
      one: { system: 'urn:other', code: 'm', display: 'Man' },
      code: 'male',
      cc: { coding: [{ system: 'http://hl7.org/fhir/administrative-gender', code: 'male' }, { system: 'urn:other', code: 'm', display: 'Man' }], text: 'Man' },
    });
  });

  it('$translate reports an unknown (or unmatched) code naming the ConceptMap and the code, at the item path', () => {
    const t = { xs: [{ $forEach: 'people', c: { $translate: { conceptMap: 'urn:test:sex', code: '%item.sex' } } }] };
    const { issues } = evaluate(t, { people: [{ sex: 'M' }, { sex: 'X' }] });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'code-invalid', expression: ['people[1].sex'] });
    expect(issues[0]?.details?.text).toContain("'X'");
    expect(issues[0]?.details?.text).toContain('urn:test:sex');
  });

  it('$id and $ref use the default key, or an explicit key, kind and index', () => {
    const t = {
      resourceType: 'Condition',
      id: { $id: { kind: 'psr' } },
      subject: { reference: { $ref: { type: 'Patient' } } },
      other: { $ref: { type: 'RelatedPerson', key: 'carer', index: '0' } },
    };
    expect(evaluate(t, { carer: 'C9' }).value).toEqual({ resourceType: 'Condition', id: 'Condition:psr:K1:', subject: { reference: 'Patient/Patient::K1:' }, other: 'RelatedPerson/RelatedPerson::C9:0' });
  });

  it('$id with an empty key is a missing identifier at its path', () => {
    const { issues } = evaluate({ resourceType: 'Patient', id: { $id: { key: 'person.localId' } } }, { person: {} });
    expect(issues[0]).toMatchObject({ code: 'required', expression: ['person.localId'] });
  });
});

describe('template compilation', () => {
  it('refuses bad FHIRPath, unknown directives and unknown ConceptMaps', () => {
    expect(() => compileTemplate({ a: '{{ x.( }}' }, 't', maps)).toThrow(TemplateCompileError);
    expect(() => compileTemplate({ $each: 'x' }, 't', maps)).toThrow(/unknown directive/);
    expect(() => compileTemplate({ c: { $translate: { conceptMap: 'urn:nope', code: 'x' } } }, 't', maps)).toThrow(/unknown ConceptMap/);
    expect(() => compileTemplate({ c: { $translate: { conceptMap: 'urn:test:sex', code: 'x' }, extra: 1 } }, 't', maps)).toThrow(/cannot be combined/);
  });
});
