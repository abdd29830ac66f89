import { readFileSync } from 'node:fs';
import type { Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditEventOf } from '../../src/audit/stored-event.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { writeAs } from '../gate/http-scenario-setup.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { COUNCIL, HOSPITAL, IG_ORG, answer, auth, daysFromToday, groupOf, igAuth, org, raise, today, worker, workingDaysAgo } from './measure-kit.ts';

/**
 * Issue #7 item 5 through HTTP: Measure definitions, who may evaluate them,
 * parameter checks, auditing, and the request measures against a hand count.
 */

const P = 'ms-person';
const DECLINE = 'https://example.org/decline-reason';

describe.each(backends())('joint working measures ($name)', (backend) => {
  const s = suiteServer(backend);
  const as: Record<string, Record<string, string>> = {};
  const period = () => `periodStart=${daysFromToday(-40)}&periodEnd=${today()}`;
  const evaluate = (id: string, query: string, who: Record<string, string>) => s.request('GET', `/Measure/${id}/$evaluate-measure?${query}`, undefined, who);

  beforeAll(async () => {
    await s.db.query('DELETE FROM sharing_agreement');
    await s.addAgreement(JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8')));
    as.hospital = await auth(s, HOSPITAL, 'nhs-trust');
    as.council = await auth(s, COUNCIL, 'local-authority');
    as.manager = await auth(s, COUNCIL, 'local-authority', 'R9565'); // Social Work Team Manager (Adults)
    as.ig = await igAuth(s);
    await writeAs(s, COUNCIL, {
      resourceType: 'Patient',
      id: P,
      identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: makeTestNhsNumber(7101) }],
      name: [{ family: 'Testmeasure', given: ['Walter'] }],
      birthDate: '1940-01-02',
      generalPractitioner: [org('X99001')],
    } as Resource);

    // The hand count. Requests of the council, all answered today:
    //   R1 made today, accepted:                       0 working days
    //   R2 made 3 working days ago, accepted:          3
    //   R3 made 1 working day ago, declined (coded):   1
    //   R4 made 2 working days ago, declined (text):   2
    // → 4 answered, median (1 + 2) / 2 = 1.5, 90th percentile (nearest rank 4 of 4) = 3; 2 of 4 declined.
    // Unanswered: R5 of the council made 10 working days ago (overdue); R6 of the hospital, 10 working days ago (overdue).
    const r1 = await raise(s, as.hospital!, P, 'discharge-assessment', HOSPITAL, COUNCIL);
    await answer(s, as.council!, r1.id, { status: 'accepted', ...worker(COUNCIL, 'Sam Testworker') });
    const r2 = await raise(s, as.hospital!, P, 'ot-assessment', HOSPITAL, COUNCIL, workingDaysAgo(3));
    await answer(s, as.council!, r2.id, { status: 'accepted', ...worker(COUNCIL, 'Olu Testtherapist') });
    const r3 = await raise(s, as.hospital!, P, 'carers-assessment', HOSPITAL, COUNCIL, workingDaysAgo(1));
    await answer(s, as.council!, r3.id, { status: 'rejected', statusReason: { coding: [{ system: DECLINE, code: 'capacity' }], text: 'No capacity this month; the hospital carers team already covers this.' } });
    const r4 = await raise(s, as.hospital!, P, 'joint-review', HOSPITAL, COUNCIL, workingDaysAgo(2));
    await answer(s, as.council!, r4.id, { status: 'rejected', statusReason: { text: 'A joint review was held last week; minutes sent.' } });
    await raise(s, as.hospital!, P, 'chc-checklist', HOSPITAL, COUNCIL, workingDaysAgo(10));
    await raise(s, as.council!, P, 'physiotherapy-assessment', COUNCIL, HOSPITAL, workingDaysAgo(10));
  });

  it('lists and reads our Measure definitions; they are read-only', async () => {
    const list = await s.request('GET', '/Measure', undefined, as.hospital);
    expect(list.status).toBe(200);
    expect(list.body.entry.map((e: any) => e.resource.id).sort()).toEqual(['discharge-to-service-start', 'duplicate-assessments-avoided', 'overdue-requests', 'referral-declines', 'referral-response-time']);
    const one = await s.request('GET', '/Measure/referral-response-time', undefined, as.hospital);
    expect(one.body).toMatchObject({ resourceType: 'Measure', url: 'https://joinedup.org.uk/fhir/Measure/referral-response-time', status: 'active' });
    expect(one.body.group.map((g: any) => g.code.coding[0].code)).toEqual(['median', '90th-percentile']);
    const byUrl = await s.request('GET', '/Measure?url=https://joinedup.org.uk/fhir/Measure/overdue-requests', undefined, as.hospital);
    expect(byUrl.body.total).toBe(1);
    expect((await s.request('GET', '/Measure/nope', undefined, as.hospital)).status).toBe(404);
    expect((await s.request('PUT', '/Measure/overdue-requests', { resourceType: 'Measure' }, as.council)).status).toBe(405);
    expect((await s.request('GET', '/Measure', undefined, { authorization: '' })).status).toBe(401);
  });

  it('only IG organisations and managers may evaluate; a manager only for their own organisation', async () => {
    const q = `${period()}&organization=${COUNCIL}`;
    expect((await evaluate('overdue-requests', q, as.council!)).status).toBe(403); // a social worker (R8000)
    expect((await evaluate('overdue-requests', q, as.hospital!)).status).toBe(403);
    const otherOrg = await evaluate('overdue-requests', `${period()}&organization=${HOSPITAL}`, as.manager!);
    expect(otherOrg.status).toBe(403);
    expect(otherOrg.body.issue[0].expression).toEqual(['organization']);
    expect((await evaluate('overdue-requests', q, as.manager!)).status).toBe(200);
    expect((await evaluate('overdue-requests', `${period()}&organization=${HOSPITAL}`, as.ig!)).status).toBe(200);
    // An IG organisation without the IG scope, or a manager without Measure read: no.
    expect((await evaluate('overdue-requests', q, await auth(s, IG_ORG, 'information-governance', 'R8000', 'system/Patient.read'))).status).toBe(403);
    expect((await evaluate('overdue-requests', q, await auth(s, COUNCIL, 'local-authority', 'R9565', 'system/Patient.read'))).status).toBe(403);
  });

  it('refuses bad parameters with 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      [`periodEnd=${today()}`, 'periodStart'],
      [`periodStart=2026-13-01&periodEnd=${today()}`, 'periodStart'],
      [`periodStart=${today()}&periodEnd=2020-01-01`, 'periodEnd'],
      [`${period()}&organization=x9c01`, 'organization'],
      [`${period()}&reportType=subject-list`, 'reportType'],
      [`${period()}&subject=Patient/${P}`, 'subject'],
    ];
    for (const [q, name] of cases) {
      const r = await evaluate('overdue-requests', q, as.ig!);
      expect(r.status, q).toBe(400);
      expect(r.body.issue[0].expression, q).toEqual([name]);
    }
    expect((await s.request('GET', `/Measure/overdue-requests/$everything?${period()}`, undefined, as.ig)).status).toBe(404);
  });

  it('response time, declines by reason and overdue requests match the hand count', async () => {
    const q = `${period()}&organization=${COUNCIL}`;
    const rt = await evaluate('referral-response-time', q, as.ig!);
    expect(rt.status, rt.text).toBe(200);
    expect(rt.body).toMatchObject({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://joinedup.org.uk/fhir/Measure/referral-response-time' });
    expect(groupOf(rt.body, 'median')).toMatchObject({ pops: { 'initial-population': 4, 'measure-population': 4 }, score: 1.5, unit: 'working days' });
    expect(groupOf(rt.body, '90th-percentile').score).toBe(3);

    const dec = groupOf((await evaluate('referral-declines', q, as.ig!)).body, 'declined');
    expect(dec.pops).toEqual({ 'initial-population': 4, denominator: 4, numerator: 2 });
    expect(dec.score).toBe(0.5);
    expect(dec.strata).toEqual({ [`${DECLINE}|capacity`]: 1, uncoded: 1 });

    expect(groupOf((await evaluate('overdue-requests', q, as.ig!)).body, 'overdue').score).toBe(1);
    // All organisations together: the hospital's unanswered request too.
    expect(groupOf((await evaluate('overdue-requests', period(), as.ig!)).body, 'overdue').score).toBe(2);
    // As the record stood at the end of a period that ended yesterday: none of these requests was stored yet.
    expect(groupOf((await evaluate('overdue-requests', `periodStart=${daysFromToday(-40)}&periodEnd=${daysFromToday(-1)}`, as.ig!)).body, 'overdue').score).toBe(0);
    // Nothing answered in a period long past.
    expect(groupOf((await evaluate('referral-response-time', 'periodStart=2025-01-01&periodEnd=2025-01-31', as.ig!)).body, 'median')).toMatchObject({ pops: { 'initial-population': 0 }, score: undefined });
  });

  it('POST with a Parameters body works; reports carry no personal data; each evaluation is audited', async () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'periodStart', valueDate: daysFromToday(-40) }, { name: 'periodEnd', valueDate: today() }, { name: 'organization', valueString: COUNCIL }] };
    const r = await s.request('POST', '/Measure/referral-declines/$evaluate-measure', body, as.manager);
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toMatch(/Patient\/|Task\/|Testmeasure|capacity this month|minutes sent/);
    const rows = await s.db.query<{ outcome: string; org_ods: string; patient_id: string | null; content: string }>(`SELECT outcome, org_ods, patient_id, content FROM audit_event WHERE subtype = 'operation' ORDER BY seq`);
    const queryOf = (content: string) => {
      const q = (auditEventOf(content).entity ?? []).find((e: { query?: string }) => e.query)?.query;
      return q ? Buffer.from(q, 'base64').toString('utf8') : '';
    };
    const audited = { rows: rows.rows.filter((x) => queryOf(x.content).startsWith('$evaluate-measure')) };
    expect(audited.rows.length).toBeGreaterThanOrEqual(10);
    expect(audited.rows.every((x) => x.patient_id === null)).toBe(true);
    expect(audited.rows.some((x) => x.outcome === 'deny' && x.org_ods === HOSPITAL)).toBe(true);
    expect(audited.rows.at(-1)).toMatchObject({ outcome: 'permit', org_ods: COUNCIL });
  });
});
