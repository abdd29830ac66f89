import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';
import { anyJson, expectFhirAnswer, expectOperationOutcome, mutate, mutation, nastyString, fuzzParams, FUZZ_TEST_TIMEOUT_MS, printTally } from './fuzz-support.ts';

/*
 * Batch and transaction Bundles under fuzzing: entries without requests,
 * with bad methods and urls, conditional urls, dangling and circular
 * urn:uuid references, resources of the wrong type or invalid. The answer is
 * never a 5xx, a refusal is an OperationOutcome, a batch answers every entry,
 * and a transaction that fails leaves the store exactly as it was.
 */

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const UUIDS = ['6f1c1c1e-5b8a-4d7e-9a53-0c1f3b2a9d10', '0b6a9f7e-2c3d-4e5f-8a9b-1c2d3e4f5a6b', 'a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4'];
const urn = fc.oneof(fc.constantFrom(...UUIDS).map((u) => `urn:uuid:${u}`), fc.constantFrom('urn:uuid:', 'urn:uuid:not-a-uuid', 'urn:oid:1.2.3', 'urn:uuid:00000000-0000-0000-0000-000000000000'));

/** Seeds for testPatient: new NHS numbers per run, so creates do not collide by chance. */
let seed = 70_000;

/** A reference: to an entry's urn (maybe dangling or circular), a stored resource, or nonsense. */
const reference = (stored: () => string): fc.Arbitrary<string> =>
  fc.oneof(urn, fc.constant('STORED').map(() => stored()), fc.constantFrom('Patient/does-not-exist', 'Patient/', '#contained', 'Patient/../Patient/x', 'http://elsewhere.example/fhir/Patient/1', ''), nastyString);

describe.each(backends())('batch and transaction Bundles under fuzzing ($name)', (backend) => {
  const s = suiteServer(backend);
  afterAll(printTally);
  let storedPatient = '';

  beforeAll(async () => {
    const p = await s.request('POST', 'Patient', testPatient(69_999));
    expect(p.status).toBe(201);
    storedPatient = `Patient/${p.body.id}`;
  });

  /** Every row the store holds: the proof that a refused transaction left nothing behind. */
  const storedRows = async (): Promise<number> =>
    Number((await s.db.query<{ n: number }>('SELECT (SELECT count(*) FROM resource) + (SELECT count(*) FROM resource_version) AS n')).rows[0]?.n);

  /** One entry, well-formed or broken in one of the ways clients break them. */
  function entry(): fc.Arbitrary<unknown> {
    const ref = reference(() => storedPatient);
    const patient = fc.constant(null).map(() => testPatient(seed++));
    const carePlan = ref.map((r) => testCarePlan('x', { subject: { reference: r } }));
    const resource = fc.oneof(
      { weight: 3, arbitrary: patient },
      { weight: 3, arbitrary: carePlan },
      { weight: 1, arbitrary: fc.tuple(ref, ref).map(([a, b]) => ({ resourceType: 'CareTeam', status: 'active', subject: { reference: a }, participant: [{ member: { reference: b } }] })) },
      { weight: 1, arbitrary: fc.constantFrom({ resourceType: 'Observation', status: 'final' }, { resourceType: 'Bundle', type: 'transaction', entry: [] }, { resourceType: 'Patient', birthDate: '2025-02-30' }, { resourceType: 'patient' }, {}) },
      { weight: 2, arbitrary: fc.tuple(fc.oneof(patient, carePlan), fc.array(mutation(anyJson), { minLength: 1, maxLength: 3 })).map(([r, ms]) => mutate(r, ms)) }
    );
    const method = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('POST', 'PUT', 'GET', 'DELETE', 'PATCH') }, { weight: 1, arbitrary: fc.constantFrom('HEAD', 'post', '', 'OPTIONS', 'TRACE') }, { weight: 1, arbitrary: anyJson });
    const url = fc.oneof(
      fc.constantFrom('Patient', 'CarePlan', 'CareTeam', 'Observation', 'Bundle', '', '/', 'metadata', '$export', 'Patient/$validate', '_history', 'Patient/_history', 'Patient/x/_history/1'),
      fc.constantFrom('Patient/', 'Patient/x', 'Patient/x/y/z', '../Patient', 'http://elsewhere.example/fhir/Patient', 'urn:uuid:x', '#', '?', 'Patient?', 'Patient?_count=x'),
      fc.constantFrom(`Patient?identifier=${NHS}|9990000018`, 'Patient?name=x', 'CarePlan?subject=Patient/x', 'Patient?_id=1&_id=2'),
      fc.constant('STORED').map(() => storedPatient),
      nastyString
    );
    const request = fc.oneof(
      { weight: 8, arbitrary: fc.record({ method, url }, { requiredKeys: ['method', 'url'] }) },
      {
        weight: 2,
        arbitrary: fc.record(
          { method, url, ifNoneExist: fc.oneof(fc.constantFrom(`identifier=${NHS}|9990000018`, 'name=x', '', '_count=x', 'x=%00'), anyJson), ifMatch: fc.oneof(fc.constantFrom('W/"1"', '1', '"x"', 'W/1', ''), anyJson), ifModifiedSince: anyJson, ifNoneMatch: anyJson },
          { requiredKeys: ['method', 'url'] }
        ),
      },
      { weight: 1, arbitrary: anyJson }
    );
    const fullUrl = fc.oneof(urn, fc.constantFrom('http://elsewhere.example/fhir/Patient/1', ''), nastyString);
    const wellFormed = fc.oneof(
      patient.chain((p) => fullUrl.map((f) => ({ fullUrl: f, resource: p, request: { method: 'POST', url: 'Patient' } }))),
      carePlan.chain((c) => fullUrl.map((f) => ({ fullUrl: f, resource: c, request: { method: 'POST', url: 'CarePlan' } })))
    );
    return fc.oneof(
      { weight: 4, arbitrary: wellFormed },
      { weight: 6, arbitrary: fc.record({ fullUrl, resource, request }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: anyJson }
    );
  }

  /** Checks a 200 answer to a batch: every entry answered in order, failures as OperationOutcomes. */
  function expectBatchResponse(body: any, entries: number, what: string): void {
    expect(body.resourceType, what).toBe('Bundle');
    expect(body.type, what).toBe('batch-response');
    expect(body.entry, what).toHaveLength(entries);
    for (const [i, e] of body.entry.entries()) {
      const status = Number(String(e.response?.status).split(' ')[0]);
      expect(status, `${what} entry ${i}: ${JSON.stringify(e.response).slice(0, 300)}`).toBeGreaterThanOrEqual(200);
      expect(status, `${what} entry ${i}: ${JSON.stringify(e.response).slice(0, 300)}`).toBeLessThan(500);
      if (status >= 400) expectOperationOutcome(e.response.outcome, `${what} entry ${i}`);
    }
  }

  test('transactions: a failure is an OperationOutcome and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry(), { minLength: 1, maxLength: 5 }), async (entries) => {
        const before = await storedRows();
        const r = await s.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
        const what = `transaction ${JSON.stringify(entries).slice(0, 400)}`;
        expectFhirAnswer(r, what);
        if (r.status === 200) {
          expect(r.body.type, what).toBe('transaction-response');
          expect(r.body.entry, what).toHaveLength(entries.length);
        } else {
          expect(await storedRows(), `${what}: nothing stored`).toBe(before);
        }
      }),
      fuzzParams(80)
    );
  });

  test('batches: every entry answered, each failure an OperationOutcome', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry(), { minLength: 1, maxLength: 5 }), async (entries) => {
        const r = await s.request('POST', '', { resourceType: 'Bundle', type: 'batch', entry: entries });
        const what = `batch ${JSON.stringify(entries).slice(0, 400)}`;
        expectFhirAnswer(r, what);
        if (r.status === 200) expectBatchResponse(r.body, entries.length, what);
      }),
      fuzzParams(80)
    );
  });

  test('Bundle envelopes: arbitrary types, entry shapes and top-level members', async () => {
    const envelope = fc.record(
      {
        resourceType: fc.oneof({ weight: 4, arbitrary: fc.constant('Bundle') }, { weight: 1, arbitrary: anyJson }),
        type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('batch', 'transaction') }, { weight: 1, arbitrary: fc.constantFrom('searchset', 'collection', 'document', 'history', 'message', 'transaction-response', '') }, { weight: 1, arbitrary: anyJson }),
        entry: fc.oneof({ weight: 3, arbitrary: fc.array(entry(), { maxLength: 3 }) }, { weight: 1, arbitrary: anyJson }),
        id: anyJson,
        meta: anyJson,
        link: anyJson,
        total: anyJson,
      },
      { requiredKeys: ['resourceType', 'type'] }
    );
    await fc.assert(
      fc.asyncProperty(envelope, async (bundle) => {
        const before = await storedRows();
        const r = await s.request('POST', '', bundle);
        const what = `Bundle ${JSON.stringify(bundle).slice(0, 400)}`;
        expectFhirAnswer(r, what);
        if (r.status >= 400) expect(await storedRows(), `${what}: nothing stored`).toBe(before);
      }),
      fuzzParams(60)
    );
  });

  test('circular and dangling urn:uuid references in a transaction', async () => {
    // Each entry names one of three urns and refers to one of them (itself, another, or one no entry has).
    const linked = fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 3 }), fc.constantFrom('CarePlan', 'CareTeam', 'Patient')), { minLength: 1, maxLength: 4 }).map((links) =>
      links.map(([own, to, type]) => {
        const target = to < UUIDS.length ? `urn:uuid:${UUIDS[to]}` : 'urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff';
        const resource =
          type === 'CarePlan'
            ? testCarePlan('x', { subject: { reference: target } })
            : type === 'CareTeam'
              ? { resourceType: 'CareTeam', status: 'active', subject: { reference: target } }
              : testPatient(seed++, { link: [{ other: { reference: target }, type: 'seealso' }] });
        return { fullUrl: `urn:uuid:${UUIDS[own]}`, resource, request: { method: 'POST', url: type } };
      })
    );
    await fc.assert(
      fc.asyncProperty(linked, async (entries) => {
        const before = await storedRows();
        const r = await s.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
        const what = `transaction ${JSON.stringify(entries).slice(0, 400)}`;
        expectFhirAnswer(r, what);
        if (r.status !== 200) expect(await storedRows(), `${what}: nothing stored`).toBe(before);
      }),
      fuzzParams(40)
    );
  });
}, FUZZ_TEST_TIMEOUT_MS);
