import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';

describe.each(backends())('chained search ($name)', (backend) => {
  let db: Database;
  let s: TestServer;
  const ids = { a: '', b: '', cpA: '', cpB: '' };
  let nhsA = '';

  beforeAll(async () => {
    db = await backend.open();
    s = await startTestServer(db);
    const a = testPatient(501, { name: [{ family: 'Chainfirst', given: ['Ada'] }], birthDate: '1941-05-06' });
    const b = testPatient(502, {
      name: [{ family: 'Chainsecond', given: ['Bo'] }],
      birthDate: '1980-01-02',
      generalPractitioner: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X99777' } }],
    });
    nhsA = a.identifier?.[0]?.value as string;
    ids.a = (await s.request('POST', 'Patient', a)).body.id;
    ids.b = (await s.request('POST', 'Patient', b)).body.id;
    ids.cpA = (await s.request('POST', 'CarePlan', testCarePlan(ids.a))).body.id;
    ids.cpB = (await s.request('POST', 'CarePlan', testCarePlan(ids.b))).body.id;
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });

  const matchIds = (body: any): string[] =>
    (body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();

  test('subject.identifier finds CarePlans of the patient with that NHS number', async () => {
    const r = await s.request('GET', `CarePlan?subject.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhsA}`);
    expect(r.status).toBe(200);
    expect(matchIds(r.body)).toEqual([ids.cpA]);
  });

  test('subject:Patient.name with a modifier, and patient.birthdate with a prefix', async () => {
    expect(matchIds((await s.request('GET', 'CarePlan?subject:Patient.name=chainsec')).body)).toEqual([ids.cpB]);
    expect(matchIds((await s.request('GET', 'CarePlan?subject:Patient.family:exact=Chainfirst')).body)).toEqual([ids.cpA]);
    expect(matchIds((await s.request('GET', 'CarePlan?patient.birthdate=lt1950')).body)).toEqual([ids.cpA]);
  });

  test('two links: CarePlan by the ODS code of the patient’s GP practice reference', async () => {
    // general-practitioner is a reference; :identifier on its last link matches Reference.identifier.
    const r = await s.request('GET', 'CarePlan?subject:Patient.general-practitioner:identifier=https://fhir.nhs.uk/Id/ods-organization-code|X99777');
    expect(r.status).toBe(200);
    expect(matchIds(r.body)).toEqual([ids.cpB]);
  });

  test('a chain that matches nothing returns nothing, never everything', async () => {
    const r = await s.request('GET', 'CarePlan?subject.name=nobody-has-this-name');
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(0);
  });

  test('a chain over an unknown parameter is reported, and refused under strict handling', async () => {
    const lax = await s.request('GET', 'CarePlan?subject.nonsense=x');
    expect(lax.status).toBe(200);
    expect(lax.body.entry.some((e: any) => e.search?.mode === 'outcome')).toBe(true);
    const strict = await s.request('GET', 'CarePlan?subject.nonsense=x', undefined, { prefer: 'handling=strict' });
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0].expression).toEqual(['subject.nonsense']);
  });

  test('paging links keep the chain', async () => {
    const r = await s.request('GET', 'CarePlan?subject.name=chain&_count=1');
    expect(r.body.total).toBe(2);
    const next = r.body.link.find((l: any) => l.relation === 'next').url as string;
    expect(decodeURIComponent(next)).toContain('subject.name=chain');
    const page2 = await s.request('GET', next);
    expect(page2.body.entry).toHaveLength(1);
    expect(page2.body.entry[0].resource.id).not.toBe(r.body.entry[0].resource.id);
  });
});
