import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const urn = (): string => `urn:uuid:${randomUUID()}`;
const nhsOf = (p: { identifier?: { value?: string }[] }): string => p.identifier?.[0]?.value as string;

describe.each(backends())('batch and transaction Bundles ($name)', (backend) => {
  const s = suiteServer(backend);

  const post = (type: 'batch' | 'transaction', entry: unknown[]) => s.request('POST', '', { resourceType: 'Bundle', type, entry });
  /** Every row the store holds: the proof that a refused transaction left nothing behind. */
  const storedRows = async (): Promise<number> =>
    Number((await s.db.query<{ n: number }>('SELECT (SELECT count(*) FROM resource) + (SELECT count(*) FROM resource_version) AS n')).rows[0]?.n);
  const patientsWithNhs = async (nhs: string): Promise<number> => (await s.request('GET', `Patient?identifier=${NHS}|${nhs}`)).body.entry?.length ?? 0;

  test('transaction: urn:uuid references are rewritten and every entry answers status, location, etag', async () => {
    const patientUrn = urn();
    const practitionerUrn = urn();
    const res = await post('transaction', [
      { fullUrl: patientUrn, resource: testPatient(101), request: { method: 'POST', url: 'Patient' } },
      { fullUrl: practitionerUrn, resource: { resourceType: 'Practitioner', name: [{ family: 'Carer' }] }, request: { method: 'POST', url: `${s.fhir}/Practitioner` } },
      { fullUrl: urn(), resource: testCarePlan('x', { subject: { reference: patientUrn } }), request: { method: 'POST', url: 'CarePlan' } },
      {
        fullUrl: urn(),
        resource: testCarePlan('x', { subject: { reference: patientUrn }, author: { reference: practitionerUrn } }),
        request: { method: 'POST', url: 'CarePlan' },
      },
      {
        fullUrl: urn(),
        resource: { resourceType: 'CareTeam', status: 'active', subject: { reference: patientUrn }, participant: [{ member: { reference: practitionerUrn } }] },
        request: { method: 'POST', url: 'CareTeam' },
      },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry).toHaveLength(5);
    for (const e of res.body.entry) {
      expect(e.response.status).toBe('201 Created');
      expect(e.response.location).toBe(`${e.resource.resourceType}/${e.resource.id}/_history/1`);
      expect(e.response.etag).toBe('W/"1"');
      expect(e.response.lastModified).toBe(e.resource.meta.lastUpdated);
    }
    const [patient, practitioner, cp1, cp2, team] = res.body.entry.map((e: any) => e.resource);
    for (const cp of [cp1, cp2]) {
      const read = await s.request('GET', `CarePlan/${cp.id}`);
      expect(read.body.subject.reference).toBe(`Patient/${patient.id}`);
    }
    expect((await s.request('GET', `CarePlan/${cp2.id}`)).body.author.reference).toBe(`Practitioner/${practitioner.id}`);
    const readTeam = (await s.request('GET', `CareTeam/${team.id}`)).body;
    expect(readTeam.subject.reference).toBe(`Patient/${patient.id}`);
    expect(readTeam.participant[0].member.reference).toBe(`Practitioner/${practitioner.id}`);
    // The search index holds the rewritten reference, not the urn.
    const byPatient = await s.request('GET', `CarePlan?subject=Patient/${patient.id}`);
    expect(byPatient.body.entry.map((e: any) => e.resource.id).sort()).toEqual([cp1.id, cp2.id].sort());
  });

  test.each([
    ['a CarePlan without subject', { ...testCarePlan('x'), subject: undefined }, 'Bundle.entry[1].resource.subject'],
    [
      'a Patient with a bad NHS number check digit',
      testPatient(103, { identifier: [{ system: NHS, value: '9990000019' }] }),
      'Bundle.entry[1].resource.identifier[0].value',
    ],
  ])('transaction with %s is refused whole (422) and stores nothing', async (_label, bad, expression) => {
    const before = await storedRows();
    const good = testPatient(102);
    const patientUrn = urn();
    const res = await post('transaction', [
      { fullUrl: patientUrn, resource: good, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: urn(), resource: bad, request: { method: 'POST', url: bad.resourceType } },
      { fullUrl: urn(), resource: testCarePlan('x', { subject: { reference: patientUrn } }), request: { method: 'POST', url: 'CarePlan' } },
    ]);
    expect(res.status).toBe(422);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.map((i: any) => i.expression?.[0])).toContain(expression);
    for (const issue of res.body.issue) {
      expect(issue.expression?.[0]).toMatch(/^Bundle\.entry\[\d+\]/);
    }
    expect(await storedRows()).toBe(before);
    expect(await patientsWithNhs(nhsOf(good))).toBe(0);
  });

  test('a transaction whose PUT has a stale If-Match rolls back the writes already done (412)', async () => {
    const a = (await s.request('POST', 'Patient', testPatient(110))).body;
    const b = (await s.request('POST', 'Patient', testPatient(111))).body;
    await s.request('PUT', `Patient/${b.id}`, { ...b, gender: 'other' });
    const before = await storedRows();
    const fresh = testPatient(112);
    const res = await post('transaction', [
      { fullUrl: urn(), resource: fresh, request: { method: 'POST', url: 'Patient' } },
      { resource: { ...a, gender: 'other' }, request: { method: 'PUT', url: `Patient/${a.id}`, ifMatch: 'W/"1"' } },
      { resource: { ...b, gender: 'unknown' }, request: { method: 'PUT', url: `Patient/${b.id}`, ifMatch: 'W/"1"' } },
    ]);
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await storedRows()).toBe(before);
    const readA = (await s.request('GET', `Patient/${a.id}`)).body;
    expect(readA.meta.versionId).toBe('1');
    expect(readA.gender).toBe(a.gender);
    expect((await s.request('GET', `Patient/${b.id}`)).body.gender).toBe('other');
    expect(await patientsWithNhs(nhsOf(fresh))).toBe(0);
  });

  test('a bare version number in request.ifMatch is honoured, not ignored', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(113))).body;
    await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'other' });
    const res = await post('transaction', [{ resource: { ...p, gender: 'unknown' }, request: { method: 'PUT', url: `Patient/${p.id}`, ifMatch: '1' } }]);
    expect(res.status).toBe(412);
    expect((await s.request('GET', `Patient/${p.id}`)).body.gender).toBe('other');
  });

  test('conditional create (ifNoneExist) in a transaction reuses a match and points references at it', async () => {
    const existing = (await s.request('POST', 'Patient', testPatient(120))).body;
    const patientUrn = urn();
    const ifNoneExist = `identifier=${NHS}|${nhsOf(existing)}`;
    // More than 8 entries: the router alone refuses such transactions when one is conditional.
    const carePlans = Array.from({ length: 9 }, () => ({
      fullUrl: urn(),
      resource: testCarePlan('x', { subject: { reference: patientUrn } }),
      request: { method: 'POST', url: 'CarePlan' },
    }));
    const res = await post('transaction', [
      { fullUrl: patientUrn, resource: testPatient(120, { gender: 'other' }), request: { method: 'POST', url: 'Patient', ifNoneExist } },
      ...carePlans,
    ]);
    expect(res.status).toBe(200);
    const [first, ...rest] = res.body.entry;
    expect(first.response.status).toBe('200 OK');
    expect(first.resource.id).toBe(existing.id);
    expect(first.resource.meta.versionId).toBe('1');
    expect(first.resource.gender).toBe(existing.gender);
    expect(rest).toHaveLength(9);
    for (const e of rest) {
      expect(e.response.status).toBe('201 Created');
      expect(e.resource.subject.reference).toBe(`Patient/${existing.id}`);
    }
    expect(await patientsWithNhs(nhsOf(existing))).toBe(1);
    expect((await s.request('GET', `Patient/${existing.id}`)).body.meta.versionId).toBe('1');

    // No match: an ordinary create.
    const fresh = testPatient(121);
    const created = await post('transaction', [
      { fullUrl: urn(), resource: fresh, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|${nhsOf(fresh)}` } },
    ]);
    expect(created.status).toBe(200);
    expect(created.body.entry[0].response.status).toBe('201 Created');
    expect(await patientsWithNhs(nhsOf(fresh))).toBe(1);
  });

  test('concurrent conditional creates of one person, direct and in transactions, make one Patient', async () => {
    const person = testPatient(126);
    const ifNoneExist = `identifier=${NHS}|${nhsOf(person)}`;
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2
          ? s.request('POST', 'Patient', person, { 'if-none-exist': ifNoneExist })
          : post('transaction', [{ fullUrl: urn(), resource: person, request: { method: 'POST', url: 'Patient', ifNoneExist } }])
      )
    );
    expect(answers.map((a) => a.status).filter((st) => st >= 300)).toEqual([]);
    expect(await patientsWithNhs(nhsOf(person))).toBe(1);
  });

  test('conditional create matching several resources refuses the transaction (412)', async () => {
    const family = `Twin${randomUUID().slice(0, 8)}`;
    await s.request('POST', 'Patient', testPatient(122, { name: [{ family }] }));
    await s.request('POST', 'Patient', testPatient(123, { name: [{ family }] }));
    const before = await storedRows();
    const res = await post('transaction', [
      { fullUrl: urn(), resource: testPatient(124), request: { method: 'POST', url: 'Patient' } },
      { fullUrl: urn(), resource: testPatient(125, { name: [{ family }] }), request: { method: 'POST', url: 'Patient', ifNoneExist: `family=${family}` } },
    ]);
    expect(res.status).toBe(412);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].request.ifNoneExist']);
    expect(await storedRows()).toBe(before);
  });

  test('batch: GET, search and DELETE entries each answer for themselves', async () => {
    const keep = (await s.request('POST', 'Patient', testPatient(130))).body;
    const drop = (await s.request('POST', 'Patient', testPatient(131))).body;
    const res = await post('batch', [
      { request: { method: 'GET', url: `Patient/${keep.id}` } },
      { request: { method: 'DELETE', url: `Patient/${drop.id}` } },
      { request: { method: 'GET', url: `Patient?_id=${keep.id}` } },
      { request: { method: 'GET', url: 'Patient/no-such-patient' } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const [read, del, search, missing] = res.body.entry;
    expect(read.response.status).toBe('200 OK');
    expect(read.response.etag).toBe('W/"1"');
    expect(read.resource.id).toBe(keep.id);
    expect(del.response.status).toMatch(/^(200|204)/);
    expect(search.response.status).toBe('200 OK');
    expect(search.resource.type).toBe('searchset');
    expect(search.resource.entry.map((e: any) => e.resource.id)).toEqual([keep.id]);
    expect(missing.response.status).toBe('404 Not Found');
    expect(missing.response.outcome.resourceType).toBe('OperationOutcome');
    expect((await s.request('GET', `Patient/${drop.id}`)).status).toBe(410);
  });

  test('batch: bad entries get their own 4xx and outcome; the good ones are done', async () => {
    const good = testPatient(140);
    const res = await post('batch', [
      { fullUrl: urn(), resource: good, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: urn(), resource: { ...testCarePlan('x'), subject: undefined }, request: { method: 'POST', url: 'CarePlan' } },
      { resource: { ...testPatient(141), id: 'other-id' }, request: { method: 'PUT', url: 'Patient/some-id' } },
      { request: { method: 'GET', url: 'Foo/1' } },
      { request: { method: 'DELETE', url: `Patient?identifier=${NHS}|${nhsOf(good)}` } },
      { resource: { resourceType: 'Bundle', type: 'batch', entry: [] }, request: { method: 'POST', url: '' } },
      { resource: { resourceType: 'Parameters' }, request: { method: 'POST', url: '$graphql' } },
      { request: { method: 'GET', url: 'Patient/x/$everything' } },
      null,
      { resource: testPatient(142), request: { method: 'POST', url: 'CarePlan' } },
    ]);
    expect(res.status).toBe(200);
    const statuses = res.body.entry.map((e: any) => Number.parseInt(e.response.status, 10));
    expect(statuses).toEqual([201, 422, 400, 404, 405, 400, 404, 400, 400, 400]);
    const [created, invalid, ...rest] = res.body.entry;
    expect(created.response.location).toMatch(/^Patient\/[^/]+\/_history\/1$/);
    expect(invalid.response.outcome.issue[0].expression).toEqual(['CarePlan.subject']);
    for (const e of [invalid, ...rest]) {
      expect(e.response.outcome.resourceType).toBe('OperationOutcome');
      expect(e.response.outcome.issue[0].details.text).not.toMatch(/Cannot read|undefined/);
    }
    // Conditional delete is not offered, so the patient just created survives.
    expect(await patientsWithNhs(nhsOf(good))).toBe(1);
  });

  test('a transaction holding an entry this server does not offer is refused whole (400)', async () => {
    const before = await storedRows();
    const res = await post('transaction', [
      { fullUrl: urn(), resource: testPatient(150), request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'DELETE', url: 'Patient?family=Nobody' } },
      { request: { url: 'Patient' } },
      'not an entry',
    ]);
    expect(res.status).toBe(400);
    expect(res.body.issue.map((i: any) => i.expression[0])).toEqual([
      'Bundle.entry[1].request.url',
      'Bundle.entry[2].request.method',
      'Bundle.entry[3]',
    ]);
    expect(await storedRows()).toBe(before);
  });

  test.each([
    ['a Patient', testPatient(160), 'resourceType'],
    ['a collection Bundle', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: testPatient(161) }] }, 'Bundle.type'],
    ['a Bundle without type', { resourceType: 'Bundle', entry: [] }, 'Bundle.type'],
    ['a transaction without entries', { resourceType: 'Bundle', type: 'transaction' }, 'Bundle.entry'],
    ['a batch with an empty entry list', { resourceType: 'Bundle', type: 'batch', entry: [] }, 'Bundle.entry'],
  ])('POST of %s to the base is 400', async (_label, body, expression) => {
    const before = await storedRows();
    const res = await s.request('POST', '', body);
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression).toEqual([expression]);
    expect(await storedRows()).toBe(before);
  });

  test('GET on the base is 405: no system-wide search is offered', async () => {
    const res = await s.request('GET', '');
    expect(res.status).toBe(405);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});
