/**
 * Interoperability: drive the real HTTP API with an independent FHIR client
 * library (fhir-kit-client), so that what we test is what a third-party
 * client actually sees — its URL building, headers, paging and error shapes.
 */
import type { Bundle, CapabilityStatement, CarePlan, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { CapabilityTool, Client } from 'fhir-kit-client';
import type { FhirResource } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

/** The error fhir-kit-client throws for a non-2xx answer. */
interface ClientError extends Error {
  response: { status: number; data: unknown };
  config: { status: number; method: string; url: string; headers: Headers };
}

/** Await a call that must fail, and hand back the client's error. */
async function failure(p: Promise<unknown> | undefined): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toHaveProperty('response.status');
    return err as ClientError;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

function nhsOf(p: Patient): string {
  const v = p.identifier?.find((i) => i.system === NHS)?.value;
  if (!v) throw new Error('fixture has no NHS number');
  return v;
}

const as = <T>(r: FhirResource): T => r as unknown as T;
const asResource = (r: object): FhirResource => r as unknown as FhirResource;

describe.each(backends())('fhir-kit-client against JoinedUp ($name)', (backend) => {
  let db: Database;
  let s: TestServer;
  let client: Client;
  beforeAll(async () => {
    db = await backend.open();
    s = await startTestServer(db);
    client = new Client({ baseUrl: s.fhir, bearerToken: s.token });
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });

  test('capabilityStatement() reads /metadata and CapabilityTool understands it', async () => {
    const raw = await client.capabilityStatement();
    const cs = as<CapabilityStatement>(raw);
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    expect(Client.httpFor(raw).response?.status).toBe(200);
    expect(Client.httpFor(raw).response?.headers.get('content-type')).toContain('application/fhir+json');

    const tool = new CapabilityTool(raw);
    expect(tool.serverCan('transaction')).toBe(true);
    expect(tool.resourceCan('Patient', 'create')).toBe(true);
    expect(tool.resourceCan('Patient', 'history-instance')).toBe(true);
    expect(tool.resourceCan('CarePlan', 'search-type')).toBe(true);
    expect(tool.resourceSearch('Patient', 'identifier')).toBe(true);
    expect(tool.resourceSearch('CarePlan', 'subject')).toBe(true);
    expect(tool.capabilityContents({ resourceType: 'CarePlan', capabilityType: 'searchInclude' })).toContain('CarePlan:subject');
  });

  test('create a Patient and a CarePlan, then read them back', async () => {
    const createdRaw = await client.create({ resourceType: 'Patient', body: asResource(testPatient(101)) });
    const created = as<Patient>(createdRaw);
    const { response } = Client.httpFor(createdRaw);
    expect(response?.status).toBe(201);
    expect(response?.headers.get('location')).toBe(`${s.fhir}/Patient/${created.id}/_history/1`);
    expect(response?.headers.get('etag')).toBe('W/"1"');
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.meta?.versionId).toBe('1');

    const cp = as<CarePlan>(await client.create({ resourceType: 'CarePlan', body: asResource(testCarePlan(created.id!)) }));
    expect(cp.id).toBeTruthy();
    expect(cp.subject?.reference).toBe(`Patient/${created.id}`);

    const read = as<Patient>(await client.read({ resourceType: 'Patient', id: created.id! }));
    expect(read).toEqual(created);
    const readCp = as<CarePlan>(await client.read({ resourceType: 'CarePlan', id: cp.id! }));
    expect(readCp.status).toBe('active');
    expect(readCp.subject?.reference).toBe(`Patient/${created.id}`);
  });

  test('conditional create with If-None-Exist returns the existing Patient the second time', async () => {
    const patient = testPatient(102);
    const options = { headers: { 'If-None-Exist': `identifier=${NHS}|${nhsOf(patient)}` } };
    const firstRaw = await client.create({ resourceType: 'Patient', body: asResource(patient), options });
    expect(Client.httpFor(firstRaw).response?.status).toBe(201);
    const secondRaw = await client.create({ resourceType: 'Patient', body: asResource(patient), options });
    expect(Client.httpFor(secondRaw).response?.status).toBe(200);
    expect(as<Patient>(secondRaw).id).toBe(as<Patient>(firstRaw).id);
    expect(as<Patient>(secondRaw).meta?.versionId).toBe('1');

    const found = as<Bundle>(
      await client.search({ resourceType: 'Patient', searchParams: { identifier: `${NHS}|${nhsOf(patient)}` } })
    );
    expect(found.entry).toHaveLength(1);
  });

  test('search Patient by NHS number (system|value token)', async () => {
    const patient = testPatient(103);
    const created = as<Patient>(await client.create({ resourceType: 'Patient', body: asResource(patient) }));
    await client.create({ resourceType: 'Patient', body: asResource(testPatient(104)) });

    const bundle = as<Bundle<Patient>>(
      await client.search({ resourceType: 'Patient', searchParams: { identifier: `${NHS}|${nhsOf(patient)}` } })
    );
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
    expect(bundle.entry?.[0]?.search?.mode).toBe('match');
    expect(bundle.entry?.[0]?.fullUrl).toBe(`${s.fhir}/Patient/${created.id}`);

    // Value only (any system) finds it too; a wrong system does not.
    const valueOnly = as<Bundle>(await client.search({ resourceType: 'Patient', searchParams: { identifier: nhsOf(patient) } }));
    expect(valueOnly.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
    const wrongSystem = as<Bundle>(
      await client.search({ resourceType: 'Patient', searchParams: { identifier: `https://example.org/other|${nhsOf(patient)}` } })
    );
    expect(wrongSystem.entry ?? []).toHaveLength(0);
  });

  test('search CarePlan with _include=CarePlan:subject brings in the Patient', async () => {
    const p = as<Patient>(await client.create({ resourceType: 'Patient', body: asResource(testPatient(105)) }));
    const cp = as<CarePlan>(await client.create({ resourceType: 'CarePlan', body: asResource(testCarePlan(p.id!)) }));

    const bundle = as<Bundle>(
      await client.search({
        resourceType: 'CarePlan',
        searchParams: { subject: `Patient/${p.id}`, _include: 'CarePlan:subject' },
      })
    );
    const matches = bundle.entry?.filter((e) => e.search?.mode === 'match') ?? [];
    const included = bundle.entry?.filter((e) => e.search?.mode === 'include') ?? [];
    expect(matches.map((e) => e.resource?.id)).toEqual([cp.id]);
    expect(included).toHaveLength(1);
    const incl = included[0]?.resource as Patient;
    expect(incl.resourceType).toBe('Patient');
    expect(incl.id).toBe(p.id);
    expect(incl.identifier?.[0]?.value).toBe(nhsOf(testPatient(105)));
    // The included entry is resolvable in-bundle by the client's reference resolver.
    const resolved = as<Patient>(await client.resolve({ reference: `Patient/${p.id}`, context: asResource(bundle) }));
    expect(resolved.id).toBe(p.id);
  });

  test('paging with nextPage() walks every page exactly once, and prevPage() goes back', async () => {
    const p = as<Patient>(await client.create({ resourceType: 'Patient', body: asResource(testPatient(106)) }));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const cp = as<CarePlan>(
        await client.create({ resourceType: 'CarePlan', body: asResource(testCarePlan(p.id!, { title: `Plan ${i}` })) })
      );
      ids.push(cp.id!);
    }

    let page: FhirResource | undefined = await client.search({
      resourceType: 'CarePlan',
      searchParams: { subject: `Patient/${p.id}`, _count: 3 },
    });
    const seen: string[] = [];
    const pages: Bundle[] = [];
    while (page) {
      const b = as<Bundle>(page);
      pages.push(b);
      expect(b.type).toBe('searchset');
      expect(b.link?.find((l) => l.relation === 'self')?.url).toBeTruthy();
      for (const e of b.entry ?? []) seen.push(e.resource!.id!);
      if (pages.length > 10) throw new Error('paging does not terminate');
      page = await client.nextPage({ bundle: page as Parameters<Client['nextPage']>[0]['bundle'] });
    }
    expect(pages.map((b) => b.entry?.length ?? 0)).toEqual([3, 3, 1]);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(pages[0]?.link?.find((l) => l.relation === 'next')?.url.startsWith(s.fhir)).toBe(true);

    const last = pages[2]!;
    const back = await client.prevPage({ bundle: asResource(last) as Parameters<Client['prevPage']>[0]['bundle'] });
    expect(back).toBeDefined();
    expect(as<Bundle>(back!).entry?.map((e) => e.resource?.id)).toEqual(pages[1]?.entry?.map((e) => e.resource?.id));
  });

  test('transaction Bundle with urn:uuid references is resolved to real ids', async () => {
    const patientUrn = 'urn:uuid:0b1b4f7e-7f3c-4d1a-9b7e-5f0e2a1c3d4e';
    const patient = testPatient(107);
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrn, resource: patient, request: { method: 'POST', url: 'Patient' } },
        {
          fullUrl: 'urn:uuid:6a3e1c2b-8d4f-4e5a-b6c7-d8e9f0a1b2c3',
          resource: { ...testCarePlan('placeholder'), subject: { reference: patientUrn } },
          request: { method: 'POST', url: 'CarePlan' },
        },
      ],
    };
    const raw = await client.transaction({ body: asResource(tx) });
    expect(Client.httpFor(raw).response?.status).toBe(200);
    const result = as<Bundle>(raw);
    expect(result.resourceType).toBe('Bundle');
    expect(result.type).toBe('transaction-response');
    expect(result.entry).toHaveLength(2);
    for (const e of result.entry ?? []) {
      expect(e.response?.status).toMatch(/^201/);
      expect(e.response?.location).toBeTruthy();
    }
    const patientId = result.entry?.[0]?.resource?.id ?? result.entry?.[0]?.response?.location?.match(/Patient\/([^/]+)/)?.[1];
    const carePlanId = result.entry?.[1]?.resource?.id ?? result.entry?.[1]?.response?.location?.match(/CarePlan\/([^/]+)/)?.[1];
    expect(patientId).toBeTruthy();
    expect(carePlanId).toBeTruthy();

    const cp = as<CarePlan>(await client.read({ resourceType: 'CarePlan', id: carePlanId! }));
    expect(cp.subject?.reference).toBe(`Patient/${patientId}`);
    const p = as<Patient>(await client.read({ resourceType: 'Patient', id: patientId! }));
    expect(nhsOf(p)).toBe(nhsOf(patient));
  });

  test('update, then history (history and resourceHistory) and vread', async () => {
    const v1 = as<Patient>(await client.create({ resourceType: 'Patient', body: asResource(testPatient(108)) }));
    const v2Raw = await client.update({ resourceType: 'Patient', id: v1.id!, body: asResource({ ...v1, gender: 'other' }) });
    const v2 = as<Patient>(v2Raw);
    expect(Client.httpFor(v2Raw).response?.status).toBe(200);
    expect(v2.meta?.versionId).toBe('2');
    expect(v2.gender).toBe('other');

    // Conditional (If-Match) update through the client's options.
    const v3 = as<Patient>(
      await client.update({
        resourceType: 'Patient',
        id: v1.id!,
        body: asResource({ ...v2, gender: 'unknown' }),
        options: { headers: { 'If-Match': 'W/"2"' } },
      })
    );
    expect(v3.meta?.versionId).toBe('3');
    const stale = await failure(
      client.update({
        resourceType: 'Patient',
        id: v1.id!,
        body: asResource({ ...v2, gender: 'male' }),
        options: { headers: { 'If-Match': 'W/"1"' } },
      })
    );
    expect(stale.response.status).toBe(412);
    expect((stale.response.data as OperationOutcome).resourceType).toBe('OperationOutcome');

    const history = as<Bundle<Patient>>(await client.history({ resourceType: 'Patient', id: v1.id! }));
    expect(history.type).toBe('history');
    expect(history.total).toBe(3);
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['3', '2', '1']);
    const same = as<Bundle<Patient>>(await client.resourceHistory({ resourceType: 'Patient', id: v1.id! }));
    expect(same.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['3', '2', '1']);

    const typeHistory = as<Bundle>(await client.typeHistory({ resourceType: 'Patient' }));
    expect(typeHistory.type).toBe('history');
    expect(typeHistory.entry?.some((e) => e.resource?.id === v1.id)).toBe(true);

    const old = as<Patient>(await client.vread({ resourceType: 'Patient', id: v1.id!, version: '1' }));
    expect(old.gender).toBe(v1.gender);
    expect(old.meta?.versionId).toBe('1');
    const mid = as<Patient>(await client.vread({ resourceType: 'Patient', id: v1.id!, version: '2' }));
    expect(mid.gender).toBe('other');
    const missing = await failure(client.vread({ resourceType: 'Patient', id: v1.id!, version: '99' }));
    expect(missing.response.status).toBe(404);
  });

  test('delete, then read fails with 410 Gone; history keeps the delete', async () => {
    const p = as<Patient>(await client.create({ resourceType: 'Patient', body: asResource(testPatient(109)) }));
    const delRaw = await client.delete({ resourceType: 'Patient', id: p.id! });
    expect(Client.httpFor(delRaw).response?.status).toBe(200);

    const gone = await failure(client.read({ resourceType: 'Patient', id: p.id! }));
    expect(gone.response.status).toBe(410);
    expect((gone.response.data as OperationOutcome).resourceType).toBe('OperationOutcome');

    const history = as<Bundle>(await client.history({ resourceType: 'Patient', id: p.id! }));
    expect(history.entry?.[0]?.request?.method).toBe('DELETE');
    expect(history.entry?.[1]?.resource?.id).toBe(p.id);
    const absent = as<Bundle>(await client.search({ resourceType: 'Patient', searchParams: { _id: p.id! } }));
    expect(absent.entry ?? []).toHaveLength(0);
  });

  test('error responses parse as OperationOutcome', async () => {
    const notFound = await failure(client.read({ resourceType: 'Patient', id: 'no-such-patient' }));
    expect(notFound.response.status).toBe(404);
    const oo = notFound.response.data as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue?.length).toBeGreaterThan(0);
    expect(oo.issue?.[0]?.severity).toMatch(/^(error|fatal)$/);
    expect(oo.issue?.[0]?.code).toBeTruthy();

    // An invalid resource: wrong NHS number check digit / bad gender code.
    const invalid = await failure(
      client.create({ resourceType: 'Patient', body: asResource({ ...testPatient(110), gender: 'not-a-gender' }) })
    );
    expect([400, 422]).toContain(invalid.response.status);
    const invalidOo = invalid.response.data as OperationOutcome;
    expect(invalidOo.resourceType).toBe('OperationOutcome');
    expect(invalidOo.issue?.some((i) => i.severity === 'error')).toBe(true);

    // A resource type the server does not support.
    const unsupported = await failure(client.read({ resourceType: 'Observation', id: 'x' }));
    expect(unsupported.response.status).toBe(404);
    expect((unsupported.response.data as OperationOutcome).resourceType).toBe('OperationOutcome');
  });
});
