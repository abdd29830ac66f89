import { readFileSync } from 'node:fs';
import type { Resource, Task } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseScopes } from '../../src/auth/scopes.ts';
import type { OrganisationKind } from '../../src/auth/organisation.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { duplicateTally } from '../../src/joint-work/duplicate-assessments.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';
import { writeAs } from '../gate/http-scenario-setup.ts';

/**
 * Issue #7 items 1, 3, 4 through HTTP: formal requests for joint work
 * (ServiceRequest + Task), care team roles, one assessment not three.
 * Midshire's agreement (docs/examples/agreements/midshire-direct-care.json)
 * covers the council X9C01, the GP practices and Northgate Hospitals X9H01;
 * X9H77 is a trust outside it.
 */

const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const KIND = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-request-kind';
const ROLE = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-role';
const HOSPITAL = 'X9H01';
const COUNCIL = 'X9C01';
const OUTSIDER = 'X9H77';
const P = 'jw-older-man';
const org = (ods: string, display?: string) => ({ type: 'Organization' as const, identifier: { system: ODS, value: ods }, ...(display ? { display } : {}) });

function serviceRequest(id: string, kind: string, requester = HOSPITAL, performer = COUNCIL): Resource {
  return {
    resourceType: 'ServiceRequest',
    id,
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: KIND, code: kind }] },
    subject: { reference: `Patient/${P}` },
    requester: org(requester),
    performer: [org(performer)],
  } as Resource;
}

function requestTask(srId: string, kind: string, authoredOn?: string, requester = HOSPITAL, owner = COUNCIL): Task {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    code: { coding: [{ system: KIND, code: kind }] },
    basedOn: [{ reference: `ServiceRequest/${srId}` }],
    focus: { reference: `ServiceRequest/${srId}` },
    for: { reference: `Patient/${P}` },
    requester: org(requester),
    owner: org(owner, 'Midshire County Council'),
    ...(authoredOn ? { authoredOn } : {}),
  };
}

const WORKER = {
  contained: [
    {
      resourceType: 'PractitionerRole',
      id: 'worker',
      practitioner: { display: 'Sam Testworker', identifier: { system: `https://joinedup.org.uk/fhir/Id/council-staff-id/${COUNCIL}`, value: 'STAFF-0412' } },
      organization: org(COUNCIL, 'Midshire County Council'),
    },
  ],
  owner: { reference: '#worker', type: 'PractitionerRole' },
};

function member(role: string, ods: string, name: string, period: { start?: string; end?: string } = { start: '2026-10-14' }) {
  return {
    role: [{ coding: [{ system: ROLE, code: role }] }],
    member: { type: 'Practitioner', display: name },
    onBehalfOf: org(ods),
    ...(Object.keys(period).length ? { period } : {}),
  };
}

function careTeam(participant: unknown[]): Resource {
  return { resourceType: 'CareTeam', status: 'active', subject: { reference: `Patient/${P}` }, participant } as Resource;
}

const issueAt = (r: TestResponse, expression: string) => (r.body.issue ?? []).find((i: { expression?: string[] }) => i.expression?.includes(expression));

describe.each(backends())('joint work through HTTP ($name)', (backend) => {
  const s = suiteServer(backend);
  const as: Record<string, Record<string, string>> = {};

  const tokenFor = async (ods: string, kind: OrganisationKind) =>
    ({ authorization: `Bearer ${await s.issueToken({ organisation: { ods, name: `Org ${ods}`, kind }, purposeOfUse: 'TREAT', scopes: parseScopes('system/*.cruds') })}` });

  beforeAll(async () => {
    await s.db.query('DELETE FROM sharing_agreement');
    await s.addAgreement(JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8')));
    as.hospital = await tokenFor(HOSPITAL, 'nhs-trust');
    as.council = await tokenFor(COUNCIL, 'local-authority');
    as.outsider = await tokenFor(OUTSIDER, 'nhs-trust');
    await writeAs(s, COUNCIL, {
      resourceType: 'Patient',
      id: P,
      identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: makeTestNhsNumber(7001) }],
      name: [{ family: 'Testman', given: ['Albert'] }],
      birthDate: '1941-03-02',
      generalPractitioner: [org('X99001')],
    } as Resource);
  });

  describe('formal requests for joint work', () => {
    let taskId = '';

    it('the hospital asks the council for a discharge assessment in one transaction; the deadline skips a weekend and a bank holiday', async () => {
      // Friday 28 August 2026; Monday 31 August is the summer bank holiday: 2 working days → Wednesday 2 September.
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:6f0c1d2e-0000-4000-8000-000000000001', resource: { ...serviceRequest('x', 'discharge-assessment'), id: undefined }, request: { method: 'POST', url: 'ServiceRequest' } },
          {
            resource: { ...requestTask('x', 'discharge-assessment', '2026-08-28T15:30:00+01:00'), basedOn: [{ reference: 'urn:uuid:6f0c1d2e-0000-4000-8000-000000000001' }], focus: { reference: 'urn:uuid:6f0c1d2e-0000-4000-8000-000000000001' } },
            request: { method: 'POST', url: 'Task' },
          },
        ],
      };
      const r = await s.request('POST', '/', bundle, as.hospital);
      expect(r.status, r.text).toBe(200);
      const task = r.body.entry[1].resource as Task;
      expect(task.restriction?.period).toEqual({ start: '2026-08-28', end: '2026-09-02' });
      expect(task.basedOn?.[0]?.reference).toMatch(/^ServiceRequest\//);
      taskId = task.id as string;
    });

    it('an overdue request is listed for the requester and the receiver, not for an organisation that may not see it', async () => {
      const mine = await s.request('GET', '/Task?_query=overdue', undefined, as.hospital);
      expect(mine.status, mine.text).toBe(200);
      expect(mine.body.entry.map((e: { resource: Task }) => e.resource.id)).toContain(taskId);
      const theirs = await s.request('GET', `/Task?_query=overdue&owner=${COUNCIL}`, undefined, as.council);
      expect(theirs.body.entry.map((e: { resource: Task }) => e.resource.id)).toContain(taskId);
      const outsider = await s.request('GET', '/Task?_query=overdue', undefined, as.outsider);
      expect(outsider.status).toBe(200);
      expect(outsider.body.total).toBe(0);
    });

    it('only the organisation asked may accept, and accepting names who will do it', async () => {
      const current = (await s.request('GET', `/Task/${taskId}`, undefined, as.council)).body as Task;
      expect(current.status).toBe('requested');
      const noWorker = await s.request('PUT', `/Task/${taskId}`, { ...current, status: 'accepted' }, as.council);
      expect(noWorker.status, noWorker.text).toBe(422);
      expect(issueAt(noWorker, 'Task.owner')).toBeTruthy();
      const byRequester = await s.request('PUT', `/Task/${taskId}`, { ...current, status: 'accepted', ...WORKER }, as.hospital);
      expect(byRequester.status, byRequester.text).toBe(422);
      expect(issueAt(byRequester, 'Task.status')?.details.text).toMatch(/Only the organisation asked \(X9C01\)/);
      const moved = await s.request('PUT', `/Task/${taskId}`, { ...current, status: 'accepted', ...WORKER, restriction: { period: { end: '2030-01-01' } } }, as.council);
      expect(moved.status, moved.text).toBe(200);
      // The deadline is not the client's to move.
      expect((moved.body as Task).restriction?.period?.end).toBe('2026-09-02');
    });

    it('the requester sees the acceptance and who will do it; an accepted request is no longer overdue', async () => {
      const seen = await s.request('GET', `/Task/${taskId}`, undefined, as.hospital);
      expect(seen.status).toBe(200);
      expect(seen.body.status).toBe('accepted');
      expect(seen.body.contained[0].practitioner.display).toBe('Sam Testworker');
      const overdue = await s.request('GET', '/Task?_query=overdue', undefined, as.hospital);
      expect(overdue.body.entry.map((e: { resource: Task }) => e.resource.id)).not.toContain(taskId);
      const byStatus = await s.request('GET', `/Task?status=accepted&owner:missing=false`, undefined, as.hospital);
      expect(byStatus.status).toBe(200);
    });

    it('a decline without written reasons is refused (Care Act 2014 s7(3)); with them it is stored and the requester sees why', async () => {
      const sr = await s.request('POST', '/ServiceRequest', serviceRequest('ignored', 'ot-assessment', COUNCIL, HOSPITAL), as.council);
      expect(sr.status, sr.text).toBe(201);
      // Thursday 2 April 2026: Good Friday, the weekend and Easter Monday are not working days; 5 working days (config: ot-assessment) → Monday 13 April.
      const t = await s.request('POST', '/Task', requestTask(sr.body.id, 'ot-assessment', '2026-04-02T09:00:00Z', COUNCIL, HOSPITAL), as.council);
      expect(t.status, t.text).toBe(201);
      expect(t.body.restriction.period.end).toBe('2026-04-13');
      const declined = { ...t.body, status: 'rejected' };
      // No reason at all, or only a code: neither is a written reason.
      for (const statusReason of [undefined, { coding: [{ system: 'https://example.org/decline-reason', code: 'capacity' }] }]) {
        const r = await s.request('PUT', `/Task/${t.body.id}`, { ...declined, ...(statusReason ? { statusReason } : {}) }, as.hospital);
        expect(r.status, r.text).toBe(422);
        expect(r.body.resourceType).toBe('OperationOutcome');
        const issue = issueAt(r, 'Task.statusReason');
        expect(issue, r.text).toBeTruthy();
        expect(issue.severity).toBe('error');
        expect(issue.details.text).toMatch(/Care Act 2014 s7\(3\)/);
      }
      const blank = await s.request('PUT', `/Task/${t.body.id}`, { ...declined, statusReason: { text: '   ' } }, as.hospital);
      expect(blank.status).toBe(422);
      expect(issueAt(blank, 'Task.statusReason.text')).toBeTruthy();
      const reason = 'Our community OT team cannot take on new referrals from this area; please refer to the Northgate reablement OT service.';
      const ok = await s.request('PUT', `/Task/${t.body.id}`, { ...declined, statusReason: { text: reason } }, as.hospital);
      expect(ok.status, ok.text).toBe(200);
      const seen = await s.request('GET', `/Task/${t.body.id}`, undefined, as.council);
      expect(seen.status).toBe(200);
      expect(seen.body.status).toBe('rejected');
      expect(seen.body.statusReason.text).toBe(reason);
      // A declined request is closed: it cannot be accepted afterwards.
      const reopen = await s.request('PUT', `/Task/${t.body.id}`, { ...seen.body, status: 'accepted', ...WORKER }, as.hospital);
      expect(reopen.status).toBe(422);
      expect(issueAt(reopen, 'Task.status')).toBeTruthy();
    });

    it('a request of an unknown kind, or without the organisation asked, is refused', async () => {
      const unknown = await s.request('POST', '/ServiceRequest', serviceRequest('u', 'tea-and-biscuits'), as.hospital);
      expect(unknown.status).toBe(422);
      expect(issueAt(unknown, 'ServiceRequest.code')).toBeTruthy();
      const noPerformer = await s.request('POST', '/ServiceRequest', { ...serviceRequest('u', 'chc-checklist'), performer: undefined }, as.hospital);
      expect(noPerformer.status).toBe(422);
      expect(issueAt(noPerformer, 'ServiceRequest.performer')).toBeTruthy();
      const noOwner = await s.request('POST', '/Task', { ...requestTask('u', 'chc-checklist'), owner: undefined }, as.hospital);
      expect(noOwner.status).toBe(422);
      expect(issueAt(noOwner, 'Task.owner')).toBeTruthy();
    });
  });

  describe('care team roles', () => {
    const gp = (role = 'chair') => member(role, 'X99001', 'Dr Helen Testdoc', { start: '2026-10-20' });
    const ot = () => member('assessor-recorder', HOSPITAL, 'Olu Testtherapist');

    it('a care team from several organisations with one primary contact is stored', async () => {
      const r = await s.request('POST', '/CareTeam', careTeam([member('primary-contact', COUNCIL, 'Sam Testworker'), gp(), ot()]), as.council);
      expect(r.status, r.text).toBe(201);
      // A former primary contact (period ended) does not count.
      const handedOver = await s.request(
        'POST',
        '/CareTeam',
        careTeam([member('primary-contact', COUNCIL, 'Former Worker', { start: '2026-01-01', end: '2026-03-31' }), member('primary-contact', COUNCIL, 'Sam Testworker'), gp()]),
        as.council
      );
      expect(handedOver.status, handedOver.text).toBe(201);
    });

    it('no primary contact, two primary contacts, an unknown role, a member without a period: refused with where', async () => {
      const none = await s.request('POST', '/CareTeam', careTeam([gp(), ot()]), as.council);
      expect(none.status).toBe(422);
      expect(issueAt(none, 'CareTeam.participant')?.details.text).toMatch(/exactly one current primary contact/);

      const two = await s.request('POST', '/CareTeam', careTeam([member('primary-contact', COUNCIL, 'Sam Testworker'), gp('primary-contact'), ot()]), as.council);
      expect(two.status).toBe(422);
      expect(two.body.issue[0].expression).toEqual(['CareTeam.participant[0]', 'CareTeam.participant[1]']);

      const unknown = await s.request('POST', '/CareTeam', careTeam([member('primary-contact', COUNCIL, 'Sam Testworker'), gp('tea-maker')]), as.council);
      expect(unknown.status).toBe(422);
      expect(issueAt(unknown, 'CareTeam.participant[1].role[0]')?.code).toBe('code-invalid');

      const noPeriod = await s.request('POST', '/CareTeam', careTeam([member('primary-contact', COUNCIL, 'Sam Testworker', {}), gp()]), as.council);
      expect(noPeriod.status).toBe(422);
      expect(issueAt(noPeriod, 'CareTeam.participant[0].period')).toBeTruthy();

      const twoChairs = await s.request('POST', '/CareTeam', careTeam([member('primary-contact', COUNCIL, 'Sam Testworker'), gp(), member('chair', HOSPITAL, 'Another Chair')]), as.council);
      expect(twoChairs.status).toBe(422);
    });

    it('a care team without joint-work roles, or no longer active, is not held to them', async () => {
      const plain = await s.request('POST', '/CareTeam', careTeam([{ member: { display: 'Someone' } }]), as.council);
      expect(plain.status, plain.text).toBe(201);
      const inactive = await s.request('POST', '/CareTeam', { ...careTeam([gp(), ot()]), status: 'inactive' }, as.council);
      expect(inactive.status, inactive.text).toBe(201);
    });
  });

  describe('one assessment, not three', () => {
    const OT = { system: KIND, code: 'ot-assessment', display: 'Occupational therapy assessment' };
    const assessment = (ods: string, extra: Partial<Task> = {}): Task => ({
      resourceType: 'Task',
      status: 'in-progress',
      intent: 'plan',
      code: { coding: [{ system: 'https://joinedup.org.uk/fhir/CodeSystem/interweave/Interweave-SocialCareAssessmentType', code: 'OT', display: 'Occupational Therapy Assessment' }] },
      for: { reference: `Patient/${P}` },
      owner: { type: 'Practitioner', display: `OT at ${ods}` },
      authoredOn: new Date().toISOString(),
      ...extra,
    });
    let first = '';

    it('the first assessment of its kind says nothing', async () => {
      const r = await s.request('POST', '/Task', assessment(COUNCIL, { owner: { type: 'Practitioner', display: 'Priya Testassessor', identifier: { system: 'https://joinedup.org.uk/fhir/Id/council-staff-id/X9C01', value: 'STAFF-0777' } } }), { ...as.council, prefer: 'return=OperationOutcome' });
      expect(r.status, r.text).toBe(201);
      expect(r.body.issue.every((i: { severity: string }) => i.severity === 'information')).toBe(true);
      expect(JSON.stringify(r.body)).not.toMatch(/existing-assessment/);
      first = r.headers.get('location')?.match(/Task\/([^/]+)/)?.[1] ?? '';
      expect(first).not.toBe('');
    });

    it('a second agency starting the same assessment is pointed at the first and at who to contact (OperationOutcome, tag, Bundle entry)', async () => {
      const r = await s.request('POST', '/Task', assessment(HOSPITAL), { ...as.hospital, prefer: 'return=OperationOutcome' });
      expect(r.status, r.text).toBe(201);
      const notice = r.body.issue.find((i: { details?: { coding?: { code: string }[] } }) => i.details?.coding?.[0]?.code === 'existing-assessment');
      expect(notice.severity).toBe('information');
      expect(notice.diagnostics).toBe(`Task/${first}`);
      expect(notice.details.text).toMatch(/Priya Testassessor/);
      expect(notice.extension[0].valueReference.reference).toBe(`Task/${first}`);
      expect(notice.extension[1].valueReference.display).toBe('Priya Testassessor');

      const rep = await s.request('POST', '/Task', assessment(HOSPITAL), as.hospital);
      expect(rep.status).toBe(201);
      expect(rep.body.meta.tag).toEqual([expect.objectContaining({ code: 'existing-assessment' })]);
      // The tag is on the answer only: the stored version has none.
      const stored = await s.request('GET', `/Task/${rep.body.id}`, undefined, as.hospital);
      expect(stored.body.meta.tag).toBeUndefined();

      const batch = await s.request('POST', '/', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: assessment(HOSPITAL), request: { method: 'POST', url: 'Task' } }] }, as.hospital);
      expect(batch.status).toBe(200);
      expect(batch.body.entry[0].response.status).toMatch(/^201/);
      expect(batch.body.entry[0].response.outcome.issue[0].diagnostics).toBe(`Task/${first}`);
    });

    it('an organisation the gate does not let see the first is told nothing; every duplicate is counted', async () => {
      const r = await s.request('POST', '/Task', assessment(OUTSIDER), { ...as.outsider, prefer: 'return=OperationOutcome' });
      expect(r.status, r.text).toBe(201);
      expect(JSON.stringify(r.body)).not.toMatch(/existing-assessment|Task\//);
      const tally = await duplicateTally(s.db, '2000-01-01', '2100-01-01');
      const byOrg = Object.fromEntries(tally.map((t) => [t.organisation, t]));
      expect(byOrg[HOSPITAL]).toEqual({ organisation: HOSPITAL, disclosed: 3, noticed: 3 });
      expect(byOrg[OUTSIDER]).toEqual({ organisation: OUTSIDER, disclosed: 0, noticed: 1 });
    });

    it('a cancelled assessment, another kind, or one outside the window is not a duplicate', async () => {
      const old = await s.request('POST', '/Task', assessment(HOSPITAL, { code: { coding: [OT] }, authoredOn: '2026-01-05T10:00:00Z', status: 'in-progress' } as Partial<Task>), { ...as.hospital, prefer: 'return=OperationOutcome' });
      // A joint-work request kind in Task.code makes it a request Task: it needs its ServiceRequest.
      expect(old.status).toBe(422);
      const other = await s.request('POST', '/Task', assessment(HOSPITAL, { code: { coding: [{ system: 'https://joinedup.org.uk/fhir/CodeSystem/interweave/Interweave-SocialCareAssessmentType', code: 'CA' }] } }), { ...as.hospital, prefer: 'return=OperationOutcome' });
      expect(other.status).toBe(201);
      expect(JSON.stringify(other.body)).not.toMatch(/existing-assessment/);
      const outside = await s.request('POST', '/Task', assessment(HOSPITAL, { authoredOn: '2026-01-05T10:00:00Z' }), { ...as.hospital, prefer: 'return=OperationOutcome' });
      expect(outside.status).toBe(201);
      expect(JSON.stringify(outside.body)).not.toMatch(/existing-assessment/);
    });
  });
});
