import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

describe.each(backends())('FHIR REST interactions ($name)', (backend) => {
  const s = suiteServer(backend);

  test('create answers 201 with Location, ETag and Last-Modified, and read returns it', async () => {
    const created = await s.request('POST', 'Patient', testPatient(1));
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.headers.get('location')).toBe(`${s.fhir}/Patient/${created.body.id}/_history/1`);
    expect(created.headers.get('last-modified')).toBe(new Date(created.body.meta.lastUpdated).toUTCString());
    expect(created.headers.get('content-type')).toContain('application/fhir+json');

    const read = await s.request('GET', `Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(read.headers.get('etag')).toBe('W/"1"');
  });

  test('update with If-Match makes a new version; a stale If-Match gets 412 and changes nothing', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(2))).body;
    const v2 = await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'other' }, { 'if-match': 'W/"1"' });
    expect(v2.status).toBe(200);
    expect(v2.body.meta.versionId).toBe('2');
    expect(v2.headers.get('etag')).toBe('W/"2"');

    const stale = await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'unknown' }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect((await s.request('GET', `Patient/${p.id}`)).body.gender).toBe('other');

    const bare = await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'unknown' }, { 'if-match': '2' });
    expect(bare.status).toBe(200);
    expect(bare.body.meta.versionId).toBe('3');
  });

  test('vread returns each version; history lists them newest first', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(3))).body;
    await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'other' });
    const v1 = await s.request('GET', `Patient/${p.id}/_history/1`);
    expect(v1.status).toBe(200);
    expect(v1.body.gender).toBe(p.gender);
    const v2 = await s.request('GET', `Patient/${p.id}/_history/2`);
    expect(v2.body.gender).toBe('other');
    expect((await s.request('GET', `Patient/${p.id}/_history/9`)).status).toBe(404);

    const history = await s.request('GET', `Patient/${p.id}/_history`);
    expect(history.status).toBe(200);
    expect(history.body.type).toBe('history');
    expect(history.body.total).toBe(2);
    expect(history.body.entry.map((e: any) => e.resource.meta.versionId)).toEqual(['2', '1']);

    const typeHistory = await s.request('GET', 'Patient/_history?_count=2');
    expect(typeHistory.body.type).toBe('history');
    expect(typeHistory.body.entry).toHaveLength(2);
    expect(typeHistory.body.link.find((l: any) => l.relation === 'next')).toBeDefined();
  });

  test('an identical update makes no new version', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(4))).body;
    const again = await s.request('PUT', `Patient/${p.id}`, p);
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe('1');
  });

  test('PUT to a new id creates (201); delete makes reads 410 and keeps history', async () => {
    const id = 'client-chosen-id-1';
    const put = await s.request('PUT', `Patient/${id}`, { ...testPatient(5), id });
    expect(put.status).toBe(201);
    const del = await s.request('DELETE', `Patient/${id}`);
    expect(del.status).toBe(200);
    expect((await s.request('GET', `Patient/${id}`)).status).toBe(410);
    const history = await s.request('GET', `Patient/${id}/_history`);
    expect(history.body.entry[0].request.method).toBe('DELETE');
    expect((await s.request('GET', 'Patient/no-such-id')).status).toBe(404);
  });

  test('conditional create (If-None-Exist) returns the existing resource instead of a duplicate', async () => {
    const patient = testPatient(6);
    const nhs = patient.identifier?.[0]?.value as string;
    const cond = { 'if-none-exist': `identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}` };
    const first = await s.request('POST', 'Patient', patient, cond);
    expect(first.status).toBe(201);
    const second = await s.request('POST', 'Patient', patient, cond);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
  });

  test('Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await s.request('POST', 'Patient', testPatient(7), { prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
    expect(minimal.headers.get('location')).toMatch(/\/Patient\/.+\/_history\/1$/);
    const oo = await s.request('POST', 'Patient', testPatient(8), { prefer: 'return=OperationOutcome' });
    expect(oo.status).toBe(201);
    expect(oo.body.resourceType).toBe('OperationOutcome');
  });

  test('CarePlan round trip with a reference to its patient', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(9))).body;
    const cp = await s.request('POST', 'CarePlan', testCarePlan(p.id));
    expect(cp.status).toBe(201);
    expect(cp.body.subject.reference).toBe(`Patient/${p.id}`);
  });
});
