import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseScopes } from '../../src/auth/scopes.ts';
import { pushRecord } from '../../src/council/push/push-record.ts';
import { RECORD_TYPES } from '../../src/council/format/index.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { DEFAULT_MAPPINGS_DIR, MappingRegistry, getMappingRegistry } from '../../src/mapping/mapping-registry.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const EXAMPLES = join(import.meta.dirname, '../../docs/examples/council');
const example = (name: string): any => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8'));
const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
// The examples name X99001 as the person's GP practice: the NHS client is that practice, sharing under an agreement.
const COUNCIL = { ods: 'X9C01', name: 'Test Council', kind: 'local-authority' as const };
const GP = { ods: 'X99001', name: 'Test GP Practice', kind: 'gp-practice' as const };
const DIRECT_CARE = JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8'));

/** A person record of its own (ids and NHS number from the seed), so tests do not share state. */
function person(seed: number, lastUpdated: string, family = `Pushperson${seed}`): any {
  const base = example('person.json');
  return {
    ...base,
    source: { ...base.source, recordId: `PER-T${seed}`, lastUpdated },
    person: { localId: `LOC-T${seed}`, nhsNumber: makeTestNhsNumber(7000 + seed) },
    name: { ...base.name, family },
  };
}

const hasMapping = (t: string) => getMappingRegistry().get('council-v1', t) !== undefined;

describe.each(backends())('POST /council/v1/records ($name)', (backend) => {
  const s = suiteServer(backend);
  let councilToken = '';
  const records = `/council/v1/records`;

  async function push(body: unknown, token?: string): Promise<TestResponse> {
    councilToken ||= await s.issueToken({ organisation: COUNCIL, scopes: parseScopes('system/council.write system/*.rs') });
    return s.request('POST', `${s.baseUrl}${records}`, body, { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token ?? councilToken}` });
  }
  let agreed = false;
  async function nhsToken(): Promise<string> {
    if (!agreed) await s.addAgreement(DIRECT_CARE);
    agreed = true;
    return s.issueToken({ organisation: GP, scopes: parseScopes('system/*.rs') });
  }
  async function patientByNhsNumber(nhs: string): Promise<any> {
    const found = await s.request('GET', `Patient?identifier=${encodeURIComponent(`${NHS_NUMBER}|${nhs}`)}`, undefined, { authorization: `Bearer ${await nhsToken()}` });
    expect(found.status).toBe(200);
    expect(found.body.entry ?? []).toHaveLength(1);
    return found.body.entry[0].resource;
  }
  const history = async (ref: string) => (await s.request('GET', `${ref}/_history`)).body;

  test.each(readdirSync(EXAMPLES).filter((f) => example(f).recordType === 'person'))('the example %s is created and an NHS client finds it by NHS number', async (file) => {
    const rec = example(file);
    const res = await push(rec);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const [result] = res.body.results;
    expect(result).toMatchObject({ index: 0, recordType: 'person', sourceRecordId: rec.source.recordId, status: 'created', httpStatus: 201 });
    expect(res.body.summary).toEqual({ received: 1, created: 1, updated: 0, unchanged: 0, deleted: 0, rejected: 0 });
    const patientRef = result.resources.find((r: string) => r.startsWith('Patient/'));
    const patient = await patientByNhsNumber(rec.person.nhsNumber);
    expect(`Patient/${patient.id}`).toBe(patientRef);
    expect(patient.name[0].family).toBe(rec.name.family);

    // The Provenance names the mapping, the council and the source record.
    const prov = await s.request('GET', `Provenance?target=${patientRef}`);
    expect(prov.body.entry).toHaveLength(1);
    expect(prov.body.entry[0].resource.entity[0].what.identifier.value).toBe(rec.source.recordId);
    expect(prov.body.entry[0].resource.agent[0].who.identifier.value).toBe(COUNCIL.ods);
  });

  test('every example of a mapped record type is created; an unmapped type is refused as not yet supported', async () => {
    for (const file of readdirSync(EXAMPLES)) {
      const rec = example(file);
      if (rec.deleted || rec.recordType === 'person') continue;
      const [result] = (await push(rec)).body.results;
      if (hasMapping(rec.recordType)) {
        expect(result, file).toMatchObject({ status: 'created', httpStatus: 201 });
      } else {
        expect(result, file).toMatchObject({ status: 'rejected', httpStatus: 422 });
        expect(result.issues.issue[0]).toMatchObject({ code: 'not-supported', expression: ['$.recordType'] });
        expect(result.issues.issue[0].details.text).toMatch(/not yet supported/);
      }
    }
  });

  test.skipIf(RECORD_TYPES.every(hasMapping))('a record type without a mapping is rejected 422, not faked', async () => {
    const type = RECORD_TYPES.find((t) => !hasMapping(t))!;
    const file = readdirSync(EXAMPLES).find((f) => example(f).recordType === type && !example(f).deleted)!;
    const [result] = (await push(example(file))).body.results;
    expect(result).toMatchObject({ status: 'rejected', httpStatus: 422, resources: [] });
  });

  test('an unchanged re-push is unchanged and makes no new version or Provenance', async () => {
    const rec = person(1, '2026-01-10T10:00:00Z');
    const first = (await push(rec)).body.results[0];
    expect(first.status).toBe('created');
    const again = await push(rec);
    expect(again.body.results[0]).toMatchObject({ status: 'unchanged', httpStatus: 200, resources: first.resources });
    expect(again.body.summary.unchanged).toBe(1);
    for (const ref of first.resources) expect((await history(ref)).total, ref).toBe(1);
    const patientRef = first.resources.find((r: string) => r.startsWith('Patient/'));
    expect((await s.request('GET', `Provenance?target=${patientRef}`)).body.entry).toHaveLength(1);

    // A newer source time with nothing that maps differently is unchanged too, but moves the ledger on.
    const touched = person(1, '2026-01-10T11:00:00Z');
    expect((await push(touched)).body.results[0].status).toBe('unchanged');
    expect((await push(rec)).body.results[0].httpStatus).toBe(409);
    for (const ref of first.resources) expect((await history(ref)).total, ref).toBe(1);
  });

  test('two concurrent pushes of the same new record: one creates, the other finds it unchanged', async () => {
    const rec = person(12, '2026-06-01T09:00:00Z');
    const [a, b] = await Promise.all([push(rec), push(rec)]);
    expect([a.body.results[0].status, b.body.results[0].status].sort()).toEqual(['created', 'unchanged']);
    for (const ref of a.body.results[0].resources) expect((await history(ref)).total, ref).toBe(1);
  });

  test('a changed record (newer lastUpdated, new name) makes version 2; an older one is refused 409 and changes nothing', async () => {
    const v1 = person(2, '2026-01-10T10:00:00Z');
    const created = (await push(v1)).body.results[0];
    const patientRef = created.resources.find((r: string) => r.startsWith('Patient/'));
    const v2 = person(2, '2026-01-11T10:00:00Z', 'Renamed-Testcase');
    expect((await push(v2)).body.results[0]).toMatchObject({ status: 'updated', httpStatus: 200 });
    const current = await s.request('GET', patientRef);
    expect(current.body.meta.versionId).toBe('2');
    expect(current.body.name[0].family).toBe('Renamed-Testcase');
    expect((await s.request('GET', `Provenance?target=${patientRef}`)).body.entry).toHaveLength(2);

    const older = person(2, '2026-01-10T12:00:00Z', 'Stale-Testcase');
    const refused = (await push(older)).body.results[0];
    expect(refused).toMatchObject({ status: 'rejected', httpStatus: 409, resources: [] });
    expect(refused.issues.issue[0]).toMatchObject({ code: 'conflict', expression: ['$.source.lastUpdated'] });
    const after = await s.request('GET', patientRef);
    expect(after.body).toEqual(current.body);
    expect((await history(patientRef)).total).toBe(2);
  });

  test('replay out of order: v2 then v1 leaves v2, and v1 is refused 409', async () => {
    const v1 = person(3, '2026-02-01T09:00:00Z', 'First-Testcase');
    const v2 = person(3, '2026-02-01T09:00:00.5Z', 'Second-Testcase');
    const res = await push([v2, v1]);
    expect(res.body.results.map((r: any) => [r.status, r.httpStatus])).toEqual([
      ['created', 201],
      ['rejected', 409],
    ]);
    const patient = await patientByNhsNumber(v2.person.nhsNumber);
    expect(patient.name[0].family).toBe('Second-Testcase');
    expect(patient.meta.versionId).toBe('1');
    // Replaying the whole sequence again changes nothing.
    const replay = await push([v1, v2]);
    expect(replay.body.results.map((r: any) => r.status)).toEqual(['rejected', 'unchanged']);
  });

  test('one bad record in an array is rejected with its JSON path; the others are stored', async () => {
    const bad = person(5, '2026-03-01T09:00:00Z');
    bad.person.nhsNumber = '9990000019'; // wrong check digit
    const res = await push([person(4, '2026-03-01T09:00:00Z'), bad, person(6, '2026-03-01T09:00:00Z')]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.status)).toEqual(['created', 'rejected', 'created']);
    expect(res.body.summary).toEqual({ received: 3, created: 2, updated: 0, unchanged: 0, deleted: 0, rejected: 1 });
    const rejected = res.body.results[1];
    expect(rejected).toMatchObject({ index: 1, recordType: 'person', sourceRecordId: 'PER-T5', httpStatus: 400, resources: [] });
    expect(rejected.issues.resourceType).toBe('OperationOutcome');
    expect(rejected.issues.issue.flatMap((i: any) => i.expression)).toContain('$.person.nhsNumber');
    await patientByNhsNumber(person(4, '').person.nhsNumber);
    await patientByNhsNumber(person(6, '').person.nhsNumber);
  });

  test('several problems in one record are each named by path', async () => {
    const rec = person(7, '2026-03-01T09:00:00Z');
    rec.birthDate = '2999-01-01';
    rec.gender = 'robot';
    const [result] = (await push(rec)).body.results;
    expect(result.status).toBe('rejected');
    expect(result.issues.issue.flatMap((i: any) => i.expression)).toEqual(expect.arrayContaining(['$.birthDate', '$.gender']));
  });

  test('a tombstone retires the resources (Patient active=false), keeps history and records a DELETE Provenance', async () => {
    const rec = person(8, '2026-04-01T09:00:00Z');
    const created = (await push(rec)).body.results[0];
    const patientRef = created.resources.find((r: string) => r.startsWith('Patient/'));
    const tombstone = { formatVersion: '1', recordType: 'person', source: { ...rec.source, lastUpdated: '2026-04-02T09:00:00Z' }, person: rec.person, deleted: true };
    const res = await push(tombstone);
    expect(res.body.results[0]).toMatchObject({ status: 'deleted', httpStatus: 200, resources: created.resources });
    expect(res.body.summary.deleted).toBe(1);

    const patient = await s.request('GET', patientRef);
    expect(patient.body.active).toBe(false);
    expect(patient.body.meta.versionId).toBe('2');
    expect((await s.request('GET', `${patientRef}/_history/1`)).body.name[0].family).toBe(rec.name.family);
    const condition = created.resources.find((r: string) => r.startsWith('Condition/'));
    if (condition) expect((await s.request('GET', condition)).body.clinicalStatus.coding[0].code).toBe('inactive');
    const provs = (await s.request('GET', `Provenance?target=${patientRef}`)).body.entry.map((e: any) => e.resource);
    expect(provs.filter((p: any) => p.activity?.coding?.[0]?.code === 'DELETE')).toHaveLength(1);

    // The same tombstone again changes nothing; the live record arriving late is refused.
    expect((await push(tombstone)).body.results[0].status).toBe('unchanged');
    expect((await push(rec)).body.results[0]).toMatchObject({ status: 'rejected', httpStatus: 409 });
    expect((await history(patientRef)).total).toBe(2);

    // A newer live version restores the person.
    const back = await push(person(8, '2026-04-03T09:00:00Z'));
    expect(back.body.results[0].status).toBe('updated');
    expect((await s.request('GET', patientRef)).body.active).not.toBe(false);
  });

  test('a tombstone for a record never seen is remembered, so the late live record is refused', async () => {
    const rec = person(9, '2026-05-01T09:00:00Z');
    const tombstone = { formatVersion: '1', recordType: 'person', source: { ...rec.source, lastUpdated: '2026-05-02T09:00:00Z' }, person: rec.person, deleted: true };
    expect((await push(tombstone)).body.results[0]).toMatchObject({ status: 'deleted', resources: [] });
    expect((await push(rec)).body.results[0].httpStatus).toBe(409);
  });

  test('records are stored under the pushing council: another council gets its own resources', async () => {
    const rec = person(10, '2026-05-01T09:00:00Z');
    const mine = (await push(rec)).body.results[0];
    const other = await s.issueToken({ organisation: { ods: 'X99777', name: 'Other Test Council', kind: 'local-authority' }, scopes: parseScopes('system/council.write') });
    const theirs = (await push(rec, other)).body.results[0];
    expect(theirs.status).toBe('created');
    expect(theirs.resources).not.toEqual(mine.resources);
  });

  test('who may push: no token 401, a non-council 403, a council without council.write 403', async () => {
    const rec = person(11, '2026-05-01T09:00:00Z');
    const none = await s.request('POST', `${s.baseUrl}${records}`, rec, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.body.resourceType).toBe('OperationOutcome');

    const gp = await s.issueToken({ organisation: GP, scopes: parseScopes('system/council.write system/*.cruds') });
    const notCouncil = await push(rec, gp);
    expect(notCouncil.status).toBe(403);
    expect(notCouncil.body.resourceType).toBe('OperationOutcome');

    const noScope = await s.issueToken({ organisation: COUNCIL, scopes: parseScopes('system/*.cruds') });
    const forbidden = await push(rec, noScope);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toContain('insufficient_scope');
    // Nothing was stored by any of them.
    const found = await s.request('GET', `Patient?identifier=${encodeURIComponent(`${NHS_NUMBER}|${rec.person.nhsNumber}`)}`);
    expect(found.body.entry ?? []).toHaveLength(0);
  });

  test('bad requests as a whole: too many records 413, no records 400, not JSON 400, GET 405', async () => {
    const tooMany = await push(Array.from({ length: 1001 }, () => ({})));
    expect(tooMany.status).toBe(413);
    expect((await push([])).status).toBe(400);
    expect((await push('{"formatVersion":')).status).toBe(400);
    const get = await s.request('GET', `${s.baseUrl}${records}`, undefined, { authorization: `Bearer ${councilToken}` });
    expect(get.status).toBe(405);
    const junk = await push([42, null]);
    expect(junk.body.results.map((r: any) => [r.status, r.httpStatus, r.issues.issue[0].expression])).toEqual([
      ['rejected', 400, ['$']],
      ['rejected', 400, ['$']],
    ]);
  });
});

describe('POST /council/v1/records body limit', () => {
  const s = suiteServer(backends()[0]!, { MAX_BODY_BYTES: '4096' });

  test('a body over MAX_BODY_BYTES is refused 413 before any record is stored', async () => {
    const token = await s.issueToken({ organisation: COUNCIL, scopes: parseScopes('system/council.write') });
    const big = Array.from({ length: 20 }, (_, i) => person(100 + i, '2026-01-01T00:00:00Z'));
    const res = await s.request('POST', `${s.baseUrl}/council/v1/records`, big, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(res.status).toBe(413);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect((await s.db.query('SELECT count(*)::int AS n FROM council_record')).rows[0]).toEqual({ n: 0 });
  });
});

describe.each(backends())('pushRecord with a mapping that fails its profile ($name)', (backend) => {
  // A copy of the project's mappings whose person mapping writes an invalid Patient.gender.
  const dir = mkdtempSync(join(tmpdir(), 'joinedup-mappings-'));
  cpSync(DEFAULT_MAPPINGS_DIR, dir, { recursive: true });
  const file = join(dir, 'council-v1', 'person.json');
  const mapping = JSON.parse(readFileSync(file, 'utf8'));
  mapping.resources[0].gender = 'not-a-gender';
  writeFileSync(file, JSON.stringify(mapping));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is rejected 422 with FHIRPath locations, and nothing is stored', async () => {
    const db = await backend.open();
    try {
      const deps = { db, validator: createValidator(), baseUrl: 'http://localhost/fhir', onDbError: () => {}, registry: MappingRegistry.load(dir) };
      const context = { requestId: 'test', authMode: 'smart' as const };
      const result = await pushRecord(deps, context, COUNCIL.ods, person(20, '2026-01-01T00:00:00Z'), 0);
      expect(result).toMatchObject({ status: 'rejected', httpStatus: 422, resources: [] });
      expect(result.issues!.issue!.flatMap((i) => i.expression ?? [])).toEqual(expect.arrayContaining([expect.stringMatching(/^Patient\.gender/)]));
      expect((await db.query('SELECT count(*)::int AS n FROM resource')).rows[0]).toEqual({ n: 0 });
      expect((await db.query('SELECT count(*)::int AS n FROM council_record')).rows[0]).toEqual({ n: 0 });
    } finally {
      await db.close();
    }
  });
});
