import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConceptMap, EpisodeOfCare, QuestionnaireResponse, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import * as codeLists from '../../src/council/format/code-lists.ts';
import { AssessmentRecord, ContactRecord, ReviewRecord, ServiceRecord } from '../../src/council/format/events.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { mapRecord } from '../../src/mapping/map-record.ts';
import { DEFAULT_MAPPINGS_DIR, getMappingRegistry } from '../../src/mapping/mapping-registry.ts';

/**
 * The event mappings (contact, assessment, service, review): ConceptMaps in
 * sync with the format's code lists, and the branches the golden cases do not
 * reach (status variants, optional parts absent, fallbacks).
 */
const ctx = { councilOds: 'X9C01', receivedAt: '2026-11-20T10:00:00Z' };
const examples = new URL('../../docs/examples/council/', import.meta.url);
const example = (file: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(file, examples), 'utf8')) as Record<string, unknown>;
const patientRef = (localId: string): string => {
  const person = mapRecord({ ...example('person.json'), person: { localId } }, 'person', ctx);
  return `Patient/${person.resources.find((r) => r.resourceType === 'Patient')!.id}`;
};
function only<T extends Resource>(resources: Resource[], type: T['resourceType']): T[] {
  return resources.filter((r) => r.resourceType === type) as T[];
}

describe('event ConceptMaps', () => {
  const maps = getMappingRegistry().conceptMaps;
  const pairs: [string, codeLists.CodeList][] = [
    ['council-v1-contact-route-of-access', codeLists.ROUTE_OF_ACCESS],
    ['council-v1-contact-reason', codeLists.CONTACT_REASON],
    ['council-v1-contact-requester-type', codeLists.REQUESTER_TYPE],
    ['council-v1-contact-outcome', codeLists.EVENT_OUTCOME],
    ['council-v1-assessment-type', codeLists.ASSESSMENT_TYPE],
    ['council-v1-assessment-method', codeLists.ASSESSMENT_METHOD],
    ['council-v1-assessment-outcome', codeLists.EVENT_OUTCOME],
    ['council-v1-assessment-eligibility-outcome', codeLists.ELIGIBILITY_OUTCOME],
    ['council-v1-service-type', codeLists.SERVICE_TYPE],
    ['council-v1-service-component', codeLists.SERVICE_COMPONENT],
    ['council-v1-service-delivery-mechanism', codeLists.DELIVERY_MECHANISM],
    ['council-v1-service-end-reason', codeLists.EVENT_OUTCOME],
    ['council-v1-review-method', codeLists.ASSESSMENT_METHOD],
    ['council-v1-review-outcome', codeLists.EVENT_OUTCOME],
  ];
  it.each(pairs)('%s translates every code of its list, from the list system, with the list display', (id, list) => {
    const url = `https://joinedup.org.uk/fhir/ConceptMap/${id}`;
    for (const [code, display] of Object.entries(list.codes)) {
      expect(maps.translate(url, code), `${id} ${code}`).toEqual([{ system: list.system, code, display }]);
    }
    const map = JSON.parse(readFileSync(join(DEFAULT_MAPPINGS_DIR, 'conceptmaps', `${id}.json`), 'utf8')) as ConceptMap;
    expect(map.group?.[0]?.source).toBe(list.system);
  });

  it('has a CodeSystem for each JoinedUp-published list the event maps target', () => {
    const dir = join(DEFAULT_MAPPINGS_DIR, 'codesystems');
    const files: [string, codeLists.CodeList][] = [
      ['cld-route-of-access', codeLists.ROUTE_OF_ACCESS],
      ['cld-assessment-method', codeLists.ASSESSMENT_METHOD],
      ['cld-delivery-mechanism', codeLists.DELIVERY_MECHANISM],
      ['council-v1-assessment-eligibility-outcome', codeLists.ELIGIBILITY_OUTCOME],
    ];
    for (const [file, list] of files) {
      const cs = JSON.parse(readFileSync(join(dir, `${file}.json`), 'utf8')) as { url: string; concept: { code: string; display: string }[] };
      expect(cs.url).toBe(list.system);
      expect(Object.fromEntries(cs.concept.map((c) => [c.code, c.display]))).toEqual(list.codes);
    }
  });
});

describe('the docs examples are valid council records (so the golden inputs are realistic)', () => {
  it.each([
    ['contact.json', ContactRecord],
    ['assessment.json', AssessmentRecord],
    ['assessment-carer.json', AssessmentRecord],
    ['service.json', ServiceRecord],
    ['review.json', ReviewRecord],
  ] as const)('%s', (file, schema) => {
    expect(schema.safeParse(example(file)).success).toBe(true);
  });
});

describe('contact → ServiceRequest', () => {
  it('maps status open → active and cancelled → revoked; a practitioner-only requester is the requester', () => {
    const base = example('contact.json');
    const open = mapRecord({ ...base, status: 'open', outcome: undefined, outcomeDate: undefined, requester: { type: 'PCH', practitioner: { name: 'Dr Test' } } }, 'contact', ctx);
    const [sr] = only<ServiceRequest>(open.resources, 'ServiceRequest');
    expect(sr!.status).toBe('active');
    expect(sr!.requester).toEqual({ type: 'Practitioner', display: 'Dr Test' });
    expect(sr!.extension?.map((e) => e.url)).toEqual(['https://joinedup.org.uk/fhir/StructureDefinition/social-care-requester-type']);
    expect(sr!.subject?.reference).toBe(patientRef('MID-100234'));
    const cancelled = mapRecord({ ...base, status: 'cancelled', requester: { type: 'S' } }, 'contact', ctx);
    const [sr2] = only<ServiceRequest>(cancelled.resources, 'ServiceRequest');
    expect(sr2!.status).toBe('revoked');
    expect(sr2!.requester).toBeUndefined();
  });

  it('gives the same id for the same source record and a different one for another', () => {
    const a = mapRecord(example('contact.json'), 'contact', ctx).resources[0]!.id;
    const b = mapRecord({ ...example('contact.json'), source: { system: 'mosaic-midshire', recordId: 'CON-2', lastUpdated: '2026-10-12T16:40:00Z' } }, 'contact', ctx).resources[0]!.id;
    expect(a).toBe(mapRecord(example('contact.json'), 'contact', ctx).resources[0]!.id);
    expect(a).not.toBe(b);
  });

  it('names every unknown code, each at its path, in one error', () => {
    const bad = { ...example('contact.json'), routeOfAccess: 'XX', reason: 'YY' };
    try {
      mapRecord(bad, 'contact', ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MappingError);
      const e = err as MappingError;
      expect(e.kind).toBe('code');
      expect(e.issues.map((i) => [i.expression?.[0], i.details?.text?.match(/ConceptMap (\S+)/)?.[1]])).toEqual([
        ['routeOfAccess', 'CouncilV1ContactRouteOfAccess'],
        ['reason', 'CouncilV1ContactReason'],
      ]);
    }
  });
});

describe('assessment → Task + QuestionnaireResponses', () => {
  it('links the eligibility and answers QuestionnaireResponses from Task.output', () => {
    const result = mapRecord(example('assessment.json'), 'assessment', ctx);
    const [task] = only<Task>(result.resources, 'Task');
    const qrs = only<QuestionnaireResponse>(result.resources, 'QuestionnaireResponse');
    expect(qrs).toHaveLength(2);
    const refs = task!.output!.filter((o) => o.valueReference).map((o) => o.valueReference!.reference);
    expect(refs).toEqual(qrs.map((q) => `QuestionnaireResponse/${q.id}`));
    const eligibility = qrs.find((q) => q.questionnaire)!;
    expect(eligibility.questionnaire).toBe('https://joinedup.org.uk/fhir/Questionnaire/care-act-eligibility|1');
    const outcomes = eligibility.item![0]!.item!;
    expect(outcomes.map((i) => i.linkId)).toEqual(Object.keys(codeLists.ELIGIBILITY_OUTCOME.codes));
    expect(outcomes.filter((i) => i.answer![0]!.valueBoolean).map((i) => i.linkId)).toEqual(['personal-hygiene', 'being-clothed', 'home-safety', 'community-facilities']);
    for (const r of [task!, ...qrs]) {
      expect(r.resourceType === 'Task' ? (r as Task).for?.reference : (r as QuestionnaireResponse).subject?.reference).toBe(patientRef('MID-100234'));
    }
  });

  it('without eligibility, answers or assessor: a Task alone, owned by the council; cancelled stays cancelled', () => {
    const { eligibility: _e, answers: _a, assessor: _s, ...rest } = example('assessment.json');
    const result = mapRecord({ ...rest, status: 'cancelled' }, 'assessment', ctx);
    expect(result.resources.map((r) => r.resourceType)).toEqual(['Task']);
    const task = result.resources[0] as Task;
    expect(task.status).toBe('cancelled');
    expect(task.owner).toEqual({ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X9C01' } });
    expect(task.output?.map((o) => o.type.coding?.[0]?.code)).toEqual(['outcome']);
  });

  it("maps a carer's assessment to the carer's own Patient", () => {
    const result = mapRecord(example('assessment-carer.json'), 'assessment', ctx);
    expect((result.resources[0] as Task).for?.reference).toBe(patientRef('MID-100235'));
  });

  it('types each answer by its JSON value, and an in-progress QuestionnaireResponse is in-progress', () => {
    const { eligibility: _e, ...rest } = example('assessment.json');
    const record = {
      ...rest,
      status: 'in-progress',
      endDate: undefined,
      answers: [
        { questionId: 'a', question: 'text', answer: 'yes' },
        { questionId: 'b', question: 'integer', answer: 3 },
        { questionId: 'c', question: 'decimal', answer: 1.5 },
        { questionId: 'd', question: 'boolean', answer: false },
      ],
    };
    const [qr] = only<QuestionnaireResponse>(mapRecord(record, 'assessment', ctx).resources, 'QuestionnaireResponse');
    expect(qr!.status).toBe('in-progress');
    expect(qr!.authored).toBe('2026-10-27');
    expect(qr!.item!.map((i) => i.answer![0])).toEqual([{ valueString: 'yes' }, { valueInteger: 3 }, { valueDecimal: 1.5 }, { valueBoolean: false }]);
  });
});

describe('service → EpisodeOfCare', () => {
  it('is active while its end is planned (after the source last-updated day), finished once passed', () => {
    const base = example('service.json');
    const planned = mapRecord({ ...base, endDate: '2027-01-31', endReason: undefined }, 'service', ctx).resources[0] as EpisodeOfCare;
    expect(planned.status).toBe('active');
    expect(planned.period).toEqual({ start: '2026-10-14', end: '2027-01-31' });
    const open = mapRecord({ ...base, endDate: undefined, endReason: undefined, hoursPerWeek: undefined }, 'service', ctx).resources[0] as EpisodeOfCare;
    expect(open.status).toBe('active');
    expect(open.extension?.map((e) => e.url)).toEqual(['https://joinedup.org.uk/fhir/StructureDefinition/social-care-delivery-mechanism']);
    expect((mapRecord(base, 'service', ctx).resources[0] as EpisodeOfCare).status).toBe('finished');
  });
});

describe('review → Task', () => {
  it('is a completed Task with code review, without method or next review date when absent, owned by the council without a reviewer', () => {
    const { method: _m, nextReviewDate: _n, reviewer: _r, ...rest } = example('review.json');
    const task = mapRecord({ ...rest, reviewType: 'unplanned' }, 'review', ctx).resources[0] as Task;
    expect(task.code?.coding?.[0]).toMatchObject({ code: 'review' });
    expect(task.input).toHaveLength(1);
    expect(task.input![0]!.valueCodeableConcept?.coding?.[0]).toMatchObject({ code: 'unplanned', display: 'Unplanned review' });
    expect(task.output?.map((o) => o.type.coding?.[0]?.code)).toEqual(['outcome']);
    expect(task.owner?.type).toBe('Organization');
    expect(task.for?.reference).toBe(patientRef('MID-100234'));
  });
});
