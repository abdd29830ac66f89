import type { Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';
import { consent, item, patient, registerClients, tokenFor, writeAs } from './http-scenario-setup.ts';
import { ORGS } from './scenarios.ts';

/**
 * Issue #5: "HTTP-level tests proving search totals, paging and includes never
 * leak". One person with 30 resources; the registered GP, under an agreement
 * for person, care-plan, reviews, assessments and related people, with the
 * person's refusal of assessments, may see the Patient, the care plans and the
 * reviews only. Every way of listing the record must show exactly that slice,
 * and what is withheld must look like what does not exist. The council (which
 * holds the record) sees everything: the control that proves the withheld
 * resources are there to leak.
 */

const P = 'lk-p';
const CARER = 'lk-carer';
const CARE_PLANS = Array.from({ length: 7 }, (_, i) => `lk-cp${i}`);
const ASSESSMENT_AT = new Set([1, 4, 7, 10, 13]);
const TASKS = Array.from({ length: 17 }, (_, i) => `lk-t${String(i).padStart(2, '0')}`);
const ASSESSMENTS = TASKS.filter((_, i) => ASSESSMENT_AT.has(i));
const REVIEWS = TASKS.filter((_, i) => !ASSESSMENT_AT.has(i));
/** Withheld from the GP: assessments by the refusal (R4), the rest because the agreement does not cover their class (R1). */
const OTHERS = ['ServiceRequest/lk-sr', 'EpisodeOfCare/lk-eoc', 'Consent/lk-refusal', 'Flag/lk-flag', 'RelatedPerson/lk-rp'];
const PERMITTED = [`Patient/${P}`, ...CARE_PLANS.map((id) => `CarePlan/${id}`), ...REVIEWS.map((id) => `Task/${id}`)];
const ALL = [...PERMITTED, ...ASSESSMENTS.map((id) => `Task/${id}`), ...OTHERS];

type Entry = { resource: Resource & { id: string }; search?: { mode?: string } };
const refs = (r: TestResponse): string[] => ((r.body?.entry ?? []) as Entry[]).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
const sorted = (xs: readonly string[]) => [...xs].sort();
const next = (r: TestResponse): string | undefined => (r.body.link ?? []).find((l: { relation: string }) => l.relation === 'next')?.url;

/** A 404 with the asked id blanked out, for comparing a withheld resource with one that never existed. */
function shape(r: TestResponse, id: string): unknown {
  return { status: r.status, contentType: r.headers.get('content-type'), body: JSON.parse(r.text.replaceAll(id, '{id}')) };
}

describe.each(backends())('the gate never leaks over HTTP ($name)', (backend) => {
  const s = suiteServer(backend);
  const nhs = makeTestNhsNumber(9000);
  const carerNhs = makeTestNhsNumber(9001);
  let gp: Record<string, string>;
  let council: Record<string, string>;
  let stranger: Record<string, string>;

  beforeAll(async () => {
    await registerClients(s);
    await s.db.query('DELETE FROM sharing_agreement');
    await s.addAgreement({
      id: 'leak-test-direct-care',
      title: 'GP and council: direct care, some classes',
      parties: [
        { ods: ORGS.council, name: 'Council' },
        { ods: ORGS.gp, name: 'GP' },
        { ods: ORGS.secondGp, name: 'Second GP' },
      ],
      purposes: ['TREAT'],
      dataClasses: ['person', 'care-plan', 'reviews', 'assessments', 'related-people'],
      lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' },
      period: { start: '2025-01-01' },
    });
    const tasks = TASKS.map((id, i) => {
      const t = item(ASSESSMENT_AT.has(i) ? 'assessments' : 'reviews', id, P) as Resource & { basedOn?: unknown };
      t.basedOn = [{ reference: 'ServiceRequest/lk-sr' }];
      return t;
    });
    const resources: Resource[] = [
      patient(P, nhs, { birthDate: '1950-03-03', gp: ORGS.gp }),
      ...CARE_PLANS.map((id) => item('care-plan', id, P)),
      ...tasks,
      item('contacts', 'lk-sr', P),
      item('services', 'lk-eoc', P),
      consent('lk-refusal', P, { id: 'lk-refusal', decision: 'refused', dateTime: '2026-02-01T09:00:00Z', provisions: [{ type: 'deny', classes: ['assessments'] }] }),
      item('safeguarding', 'lk-flag', P),
      item('related-people', 'lk-rp', P, carerNhs),
    ];
    expect(resources).toHaveLength(30);
    await writeAs(s, ORGS.council, ...resources, patient(CARER, carerNhs, { birthDate: '1952-01-01', isCarer: true }));
    gp = { authorization: `Bearer ${await tokenFor(s, { ods: ORGS.gp, purpose: 'TREAT' })}` };
    council = { authorization: `Bearer ${await tokenFor(s, { ods: ORGS.council, purpose: 'CAREMGT' })}` };
    stranger = { authorization: `Bearer ${await tokenFor(s, { ods: ORGS.secondGp, purpose: 'TREAT' })}` };
  });

  const get = (path: string, as: Record<string, string>) => s.request('GET', path, undefined, as);

  it('control: the council holding the record sees all 30 resources', async () => {
    const r = await get(`Patient/${P}/$everything?_count=100`, council);
    expect(r.status, r.text).toBe(200);
    expect(sorted(refs(r))).toEqual(sorted(ALL));
    expect((await get(`Task?patient=Patient/${P}&_include=Task:based-on`, council)).body.entry.some((e: Entry) => e.resource.id === 'lk-sr')).toBe(true);
  });

  it('search totals and _summary=count count only what is permitted', async () => {
    const expected: [string, number][] = [
      [`Task?patient=Patient/${P}`, REVIEWS.length],
      [`CarePlan?subject=Patient/${P}`, CARE_PLANS.length],
      ['Patient', 1],
      ['Task', REVIEWS.length],
      [`ServiceRequest?subject=Patient/${P}`, 0],
      [`EpisodeOfCare?patient=Patient/${P}`, 0],
      [`Consent?patient=Patient/${P}`, 0],
      [`Flag?subject=Patient/${P}`, 0],
      [`RelatedPerson?patient=Patient/${P}`, 0],
    ];
    for (const [query, total] of expected) {
      const r = await get(`${query}${query.includes('?') ? '&' : '?'}_count=100`, gp);
      expect(r.status, r.text).toBe(200);
      expect({ query, total: r.body.total }).toEqual({ query, total });
      expect(refs(r).every((x) => PERMITTED.includes(x)), query).toBe(true);
      expect(refs(r)).toHaveLength(total);
      const c = await get(`${query}${query.includes('?') ? '&' : '?'}_summary=count`, gp);
      expect({ query, total: c.body.total, entries: c.body.entry?.length ?? 0 }).toEqual({ query, total, entries: 0 });
    }
  });

  it('paging with _count=5 walks exactly the permitted set: no gaps, no repeats, stops at the end', async () => {
    let r = await get(`Task?patient=Patient/${P}&_count=5`, gp);
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let page = 0; page < 10; page++) {
      expect(r.status, r.text).toBe(200);
      expect(r.body.total).toBe(REVIEWS.length);
      sizes.push(refs(r).length);
      seen.push(...refs(r));
      const url = next(r);
      if (!url) break;
      r = await s.request('GET', url, undefined, gp);
    }
    expect(sizes).toEqual([5, 5, 2]);
    expect(seen).toHaveLength(new Set(seen).size);
    expect(sorted(seen)).toEqual(sorted(REVIEWS.map((id) => `Task/${id}`)));
  });

  it('_include and _revinclude never pull in a withheld resource', async () => {
    const cp = await get(`CarePlan?subject=Patient/${P}&_include=CarePlan:subject`, gp);
    expect(sorted(refs(cp))).toEqual(sorted([`Patient/${P}`, ...CARE_PLANS.map((id) => `CarePlan/${id}`)]));
    expect(cp.body.total).toBe(CARE_PLANS.length);
    const based = await get(`Task?patient=Patient/${P}&_include=Task:based-on&_count=100`, gp);
    expect(sorted(refs(based))).toEqual(sorted(REVIEWS.map((id) => `Task/${id}`)));
    const rev = await get(
      `Patient?_id=${P}&_revinclude=Task:patient&_revinclude=ServiceRequest:subject&_revinclude=Consent:patient&_revinclude=EpisodeOfCare:patient&_revinclude=RelatedPerson:patient&_revinclude=Flag:subject`,
      gp
    );
    expect(rev.body.total).toBe(1);
    expect(sorted(refs(rev))).toEqual(sorted([`Patient/${P}`, ...REVIEWS.map((id) => `Task/${id}`)]));
  });

  it('$everything returns the permitted slice, its total matching', async () => {
    const r = await get(`Patient/${P}/$everything?_count=100`, gp);
    expect(r.status, r.text).toBe(200);
    expect(sorted(refs(r))).toEqual(sorted(PERMITTED));
    if (r.body.total !== undefined) expect(r.body.total).toBe(PERMITTED.length);
  });

  it('a withheld resource by id, vread and _history answers exactly like one that never existed', async () => {
    for (const ref of [`Task/${ASSESSMENTS[0]}`, 'ServiceRequest/lk-sr', 'Consent/lk-refusal', 'RelatedPerson/lk-rp', `Patient/${CARER}`]) {
      const [type, id] = ref.split('/') as [string, string];
      for (const suffix of ['', '/_history/1', '/_history']) {
        const withheld = await get(`${type}/${id}${suffix}`, gp);
        const never = await get(`${type}/never-${id}${suffix}`, gp);
        expect(withheld.status, `${ref}${suffix}`).toBe(404);
        expect(shape(withheld, id)).toEqual(shape(never, `never-${id}`));
        expect((await get(`${type}/${id}${suffix}`, council)).status, `control ${ref}${suffix}`).toBe(200);
      }
    }
  });

  it('type history Task/_history lists only permitted versions', async () => {
    const r = await get('Task/_history?_count=100', gp);
    expect(r.status, r.text).toBe(200);
    expect(sorted(refs(r))).toEqual(sorted(REVIEWS.map((id) => `Task/${id}`)));
    if (r.body.total !== undefined) expect(r.body.total).toBe(REVIEWS.length);
    expect(sorted(refs(await get('Task/_history?_count=100', council)))).toEqual(sorted(TASKS.map((id) => `Task/${id}`)));
  });

  it('a GP with no relationship to the person sees nothing, however it asks', async () => {
    for (const q of ['Patient', 'Task', `CarePlan?subject=Patient/${P}&_include=CarePlan:subject`, `Patient?_id=${P}&_revinclude=Task:patient`, 'Task/_history']) {
      const r = await get(q, stranger);
      expect(r.status, q).toBe(200);
      expect({ q, n: refs(r).length }).toEqual({ q, n: 0 });
      if (r.body.total !== undefined) expect(r.body.total).toBe(0);
    }
    const ev = await get(`Patient/${P}/$everything`, stranger);
    expect(shape(ev, P)).toEqual(shape(await get('Patient/never-p/$everything', stranger), 'never-p'));
    expect(ev.status).toBe(404);
    expect((await get(`Patient/${P}`, stranger)).status).toBe(404);
  });

  // Chained parameters once matched against withheld resources, so a withheld
  // ServiceRequest's status showed in which permitted Tasks matched. Chains are
  // now resolved through the gate link by link: the answer must not depend on
  // what is withheld.
  it('a chained search parameter does not match on the content of a withheld resource', async () => {
    const completed = await get(`Task?patient=Patient/${P}&based-on:ServiceRequest.status=completed`, gp);
    const active = await get(`Task?patient=Patient/${P}&based-on:ServiceRequest.status=active`, gp);
    expect(completed.status).toBe(200);
    expect(completed.body.total).toBe(active.body.total);
  });

  it('no open-development back door: a request without a token is refused', async () => {
    const r = await s.request('GET', `Patient/${P}`, undefined, { authorization: '' });
    expect(r.status).toBe(401);
  });

  it("a carer's details in the cared-for person's record appear only once the carer consents", async () => {
    expect((await get(`RelatedPerson?patient=Patient/${P}`, gp)).body.total).toBe(0);
    // The council records the carer's consent through the API, so the gate drops its cached facts itself.
    const carerConsent = consent('lk-carer-consent', CARER, {
      id: 'lk-carer-consent',
      decision: 'given',
      dateTime: '2026-03-01T09:00:00Z',
      provisions: [{ type: 'permit', actors: [ORGS.gp] }],
    });
    const w = await s.request('PUT', 'Consent/lk-carer-consent', carerConsent, council);
    expect(w.status, w.text).toBe(201);
    const after = await get(`RelatedPerson?patient=Patient/${P}`, gp);
    expect(after.body.total).toBe(1);
    expect(refs(after)).toEqual(['RelatedPerson/lk-rp']);
    expect((await get('RelatedPerson/lk-rp', gp)).status).toBe(200);
    const ev = await get(`Patient/${P}/$everything?_count=100`, gp);
    expect(sorted(refs(ev))).toEqual(sorted([...PERMITTED, 'RelatedPerson/lk-rp']));
    // Still nothing for the stranger, and the carer's own record stays withheld from the GP.
    expect((await get(`RelatedPerson?patient=Patient/${P}`, stranger)).body.total).toBe(0);
    expect((await get(`Patient/${CARER}`, gp)).status).toBe(404);
    expect((await get('Patient', gp)).body.total).toBe(1);
  });
});
