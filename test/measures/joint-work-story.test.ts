import { readFileSync } from 'node:fs';
import type { Bundle, OperationOutcomeIssue, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';
import { startReceiver, waitFor } from '../subscriptions/receiver.ts';
import type { Receiver } from '../subscriptions/receiver.ts';
import { COUNCIL, GP, HOSPITAL, KIND, auth, daysFromToday, groupOf, igAuth, org, today, worker, workingDaysAgo } from './measure-kit.ts';

/**
 * Issue #7 item 6: the whole joint working story through HTTP, on PGlite and
 * PostgreSQL. Arthur, an older man known to Midshire County Council (X9C01),
 * is ready to leave Northgate Hospitals (X9H01). The hospital asks the council
 * for a discharge assessment; the council accepts, naming Sam Testworker;
 * assesses him, agrees a care and support plan, sets up a care team with his
 * GP practice (X99001) and starts reablement. His GP system reads his social
 * care context and is told of the plan. The hospital's therapy team then
 * starts the same assessment and is pointed at the council's. An IG client's
 * measures reflect each step, against the hand count at the end.
 *
 * Depends on council pushes being wired to Subscriptions (src/council, another
 * change): only the assertion marked NEEDS-PUSH-NOTIFY.
 */

const ENV = { SUBSCRIPTION_HTTP_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '50', SUBSCRIPTION_RETRY_BASE_MS: '150', SUBSCRIPTION_TIMEOUT_MS: '2000' };
const ARTHUR_NHS = '9990000018';
/** The assessment type system the council mapping writes (the council's Task in $everything carries it). */
const INTERWEAVE_ASSESSMENT = 'https://joinedup.org.uk/fhir/CodeSystem/interweave/Interweave-SocialCareAssessmentType';
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../docs/examples/council/${name}.json`, import.meta.url), 'utf8'));
let seq = 0;
/** A council record from docs/examples, with a fresh source time (each push is newer than the last). */
function record(name: string, changes: Record<string, unknown>): Record<string, unknown> {
  const r = example(name);
  seq++;
  return { ...r, source: { ...r.source, lastUpdated: new Date(Date.now() - 60_000 + seq * 1000).toISOString() }, ...changes };
}

describe.each(backends())('the joint working story ($name)', (backend) => {
  const s = suiteServer(backend, ENV);
  const as: Record<string, Record<string, string>> = {};
  let receiver: Receiver;
  let patientId = '';
  let srId = '';
  let taskId = '';
  let assessmentId = '';
  let carePlanId = '';
  // The hospital referred two working days ago (the ward's discharge-to-assess referral); the council answers today.
  const referred = workingDaysAgo(2);

  const push = async (body: unknown) => {
    const r = await s.request('POST', `${s.baseUrl}/council/v1/records`, body, as.council);
    expect(r.status, r.text).toBe(200);
    expect(r.body.results[0].status, r.text).toMatch(/created|updated/);
    return r.body.results[0].resources as string[];
  };
  const measure = async (id: string, ods: string): Promise<TestResponse> => {
    const r = await s.request('GET', `/Measure/${id}/$evaluate-measure?periodStart=${daysFromToday(-14)}&periodEnd=${today()}&organization=${ods}`, undefined, as.ig);
    expect(r.status, r.text).toBe(200);
    return r;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    await s.db.query('DELETE FROM sharing_agreement');
    await s.addAgreement(JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8')));
    as.hospital = await auth(s, HOSPITAL, 'nhs-trust');
    // The council's client both pushes records (system/council.c) and uses the FHIR API.
    as.council = await auth(s, COUNCIL, 'local-authority', 'R8000', 'system/*.cruds system/council.c');
    as.gp = await auth(s, GP, 'gp-practice', 'R0260');
    as.ig = await igAuth(s);
    // Arthur is already known to the council (an earlier contact): his person record is in JoinedUp.
    const refs = await push(record('person', {}));
    patientId = refs.find((r) => r.startsWith('Patient/'))?.slice('Patient/'.length) ?? '';
    expect(patientId).not.toBe('');
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('1. the hospital refers Arthur for a discharge assessment (ServiceRequest + Task) and asks to be told of the answer', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:5a1e0000-0000-4000-8000-000000000001',
          request: { method: 'POST', url: 'ServiceRequest' },
          resource: { resourceType: 'ServiceRequest', status: 'active', intent: 'order', code: { coding: [{ system: KIND, code: 'discharge-assessment' }] }, subject: { reference: `Patient/${patientId}` }, authoredOn: referred, requester: org(HOSPITAL), performer: [org(COUNCIL)] },
        },
        {
          request: { method: 'POST', url: 'Task' },
          resource: {
            resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: KIND, code: 'discharge-assessment' }] },
            basedOn: [{ reference: 'urn:uuid:5a1e0000-0000-4000-8000-000000000001' }], focus: { reference: 'urn:uuid:5a1e0000-0000-4000-8000-000000000001' },
            for: { reference: `Patient/${patientId}` }, authoredOn: `${referred}T11:00:00Z`, requester: org(HOSPITAL), owner: org(COUNCIL, 'Midshire County Council'),
          },
        },
      ],
    };
    const r = await s.request('POST', '/', bundle, as.hospital);
    expect(r.status, r.text).toBe(200);
    srId = (r.body as Bundle).entry?.[0]?.resource?.id as string;
    taskId = (r.body as Bundle).entry?.[1]?.resource?.id as string;
    const sub = await s.request('POST', '/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'Discharge assessment answer', criteria: `Task?focus=ServiceRequest/${srId}`, channel: { type: 'rest-hook', endpoint: `${receiver.url}/ward`, payload: 'application/fhir+json' } }, as.hospital);
    expect(sub.status, sub.text).toBe(201);
    await s.subscriptions.settled();
  });

  it('2. the council accepts, naming Sam Testworker; the hospital is told', async () => {
    const current = (await s.request('GET', `/Task/${taskId}`, undefined, as.council)).body as Task;
    const r = await s.request('PUT', `/Task/${taskId}`, { ...current, status: 'accepted', ...worker(COUNCIL, 'Sam Testworker') }, as.council);
    expect(r.status, r.text).toBe(200);
    const note = await waitFor(() => receiver.received.find((x) => x.path === `/ward/Task/${taskId}` && JSON.parse(x.body).status === 'accepted'), 10_000, 'the hospital notification');
    expect(JSON.parse(note.body).contained[0].practitioner.display).toBe('Sam Testworker');
  });

  it('3. his GP practice subscribes to his care plan; the council pushes the assessment, the plan, the care team and reablement', async () => {
    const sub = await s.request('POST', '/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'Social care plan for our patient', criteria: `CarePlan?patient=Patient/${patientId}`, channel: { type: 'rest-hook', endpoint: `${receiver.url}/gp`, payload: 'application/fhir+json' } }, as.gp);
    expect(sub.status, sub.text).toBe(201);
    await s.subscriptions.settled();

    const assessment = await push(record('assessment', { assessmentType: 'HD', status: 'in-progress', startDate: today(), endDate: undefined, outcome: undefined, eligibility: undefined }));
    assessmentId = assessment.find((x) => x.startsWith('Task/'))?.slice(5) ?? '';
    const plan = await push(record('care-plan', { created: today(), period: { start: today() } }));
    carePlanId = plan.find((x) => x.startsWith('CarePlan/'))?.slice(9) ?? '';
    // The care team names his GP (Dr Helen Testdoc, X99001) and one primary contact (Sam Testworker).
    await push(record('care-team', { period: { start: today() } }));
    // Reablement started the day after the referral.
    await push(record('service', { startDate: daysFromToday(1 - Math.round((Date.parse(today()) - Date.parse(referred)) / 86_400_000)), endDate: undefined, endReason: undefined }));
    expect(assessmentId).not.toBe('');
    expect(carePlanId).not.toBe('');
  });

  it('4. the GP system fetches his social care context under the direct care agreement', async () => {
    const r = await s.request('GET', `/Patient/${patientId}/$everything`, undefined, as.gp);
    expect(r.status, r.text).toBe(200);
    const types = new Set((r.body as Bundle).entry?.map((e) => e.resource?.resourceType));
    for (const t of ['Patient', 'CarePlan', 'CareTeam', 'Task', 'EpisodeOfCare']) expect(types, t).toContain(t);
    const team = (r.body as Bundle).entry?.find((e) => e.resource?.resourceType === 'CareTeam')?.resource as { participant: { onBehalfOf?: { identifier?: { value?: string } }; role?: { coding?: { code?: string }[] }[] }[] };
    expect(team.participant.some((p) => p.onBehalfOf?.identifier?.value === GP)).toBe(true);
    expect(team.participant.filter((p) => p.role?.some((x) => x.coding?.some((c) => c.code === 'primary-contact'))).length).toBe(1);
  });

  it('5. the GP system is notified of the care plan (NEEDS-PUSH-NOTIFY: council pushes wired to Subscriptions)', async () => {
    const got = await waitFor(() => receiver.received.find((x) => x.path === `/gp/CarePlan/${carePlanId}`), 10_000, 'the GP notification of the care plan');
    expect(got.method).toBe('PUT');
    expect(JSON.parse(got.body)).toMatchObject({ resourceType: 'CarePlan', id: carePlanId });
  });

  it("6. the hospital's therapy team starts the same assessment and is pointed at the council's", async () => {
    const task = { resourceType: 'Task', status: 'in-progress', intent: 'plan', code: { coding: [{ system: INTERWEAVE_ASSESSMENT, code: 'HD', display: 'Hospital Discharge Assessment' }] }, for: { reference: `Patient/${patientId}` }, owner: { type: 'Practitioner', display: 'Ward 7 therapist' }, authoredOn: new Date().toISOString() };
    const r = await s.request('POST', '/Task', task, { ...as.hospital, prefer: 'return=OperationOutcome' });
    expect(r.status, r.text).toBe(201);
    const notice = (r.body.issue as OperationOutcomeIssue[]).find((i) => i.details?.coding?.[0]?.code === 'existing-assessment');
    expect(notice, r.text).toBeTruthy();
    expect(notice?.severity).toBe('information');
    expect(notice?.diagnostics).toBe(`Task/${assessmentId}`);
    expect(notice?.details?.text).toMatch(/Sam Testworker/);
  });

  it('7. the measures reflect every step and match the hand count', async () => {
    // Hand count for the council (X9C01), period: the last 14 days to today.
    //   requests answered: 1 (accepted today, made 2 working days ago) → response time median 2, 90th percentile 2 working days
    //   declined: 0 of 1; overdue at the end of the period: 0 (answered)
    //   duplicate assessments: 1 noticed (the hospital's, of the council's assessment), 1 avoided (the hospital was pointed at it)
    //   discharge referrals: 1, followed by reablement the day after → median 1 day
    const rt = (await measure('referral-response-time', COUNCIL)).body;
    expect(groupOf(rt, 'median')).toMatchObject({ pops: { 'initial-population': 1, 'measure-population': 1 }, score: 2, unit: 'working days' });
    expect(groupOf(rt, '90th-percentile').score).toBe(2);
    const dec = groupOf((await measure('referral-declines', COUNCIL)).body, 'declined');
    expect(dec).toMatchObject({ pops: { 'initial-population': 1, denominator: 1, numerator: 0 }, score: 0, strata: {} });
    expect(groupOf((await measure('overdue-requests', COUNCIL)).body, 'overdue').score).toBe(0);
    expect(groupOf((await measure('duplicate-assessments-avoided', COUNCIL)).body, 'avoided')).toMatchObject({ pops: { 'initial-population': 1, numerator: 1 }, score: 1 });
    expect(groupOf((await measure('duplicate-assessments-avoided', HOSPITAL)).body, 'avoided').score).toBe(1);
    expect(groupOf((await measure('discharge-to-service-start', COUNCIL)).body, 'median')).toMatchObject({ pops: { 'initial-population': 1, 'measure-population': 1 }, score: 1, unit: 'days' });
    // The hospital was asked nothing: its request measures are empty.
    expect(groupOf((await measure('referral-response-time', HOSPITAL)).body, 'median').pops['initial-population']).toBe(0);
    // Aggregate only: no person, no record, no written reason in any report.
    for (const id of ['referral-response-time', 'referral-declines', 'overdue-requests', 'duplicate-assessments-avoided', 'discharge-to-service-start']) {
      expect((await measure(id, COUNCIL)).text).not.toMatch(new RegExp(`${patientId}|${ARTHUR_NHS}|Patient/|Task/|Arthur|Testworker`));
    }
    // And the GP practice, not a manager, may not see them.
    expect((await s.request('GET', `/Measure/overdue-requests/$evaluate-measure?periodStart=${today()}&periodEnd=${today()}`, undefined, as.gp)).status).toBe(403);
  });
});
