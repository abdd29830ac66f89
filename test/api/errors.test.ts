import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestResponse, TestServer } from '../support/test-server.ts';

// What must never reach a client: stack frames, driver/SQL messages, JavaScript internals.
const LEAKS = [/\n\s+at /, /node_modules/, /syntax error/i, /relation "/, /violates/, /duplicate key/, /column "/, /index row/, /Cannot read prop/, /is not a function/, /undefined/];

/** An OperationOutcome answer with this status, naming `expression` when given, and leaking nothing. */
function expectOutcome(res: TestResponse, status: number, expression?: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { resourceType: 'OperationOutcome' } });
  expect(res.headers.get('content-type')).toContain('application/fhir+json');
  expect(res.body.issue.length).toBeGreaterThan(0);
  for (const issue of res.body.issue) {
    expect(issue.severity).toMatch(/^(fatal|error|warning|information)$/);
    expect(typeof issue.code).toBe('string');
    expect(issue.details?.text ?? issue.diagnostics).toBeTruthy();
  }
  if (expression) {
    expect(res.body.issue.flatMap((i: any) => i.expression ?? [])).toContain(expression);
  }
  expectNoLeak(res);
}

function expectNoLeak(res: TestResponse): void {
  for (const leak of LEAKS) {
    expect(res.text).not.toMatch(leak);
  }
}

describe.each(backends())('error answers ($name)', (backend) => {
  let db: Database;
  let s: TestServer;
  let small: TestServer;
  beforeAll(async () => {
    db = await backend.open();
    s = await startTestServer(db);
    small = await startTestServer(db, { MAX_BODY_BYTES: '2048', MAX_JSON_DEPTH: '10' });
  });
  afterAll(async () => {
    await small?.close();
    await s?.close();
    await db?.close();
  });

  describe('request format (400, 413, 415, 406)', () => {
    test('malformed JSON is 400', async () => {
      expectOutcome(await s.request('POST', 'Patient', '{"resourceType": "Patient",'), 400);
      expectOutcome(await s.request('POST', '', '{not json'), 400);
    });

    test('a body over MAX_BODY_BYTES is 413', async () => {
      const big = testPatient(1, { name: [{ family: 'x'.repeat(4000) }] });
      expectOutcome(await small.request('POST', 'Patient', big), 413);
      expect((await small.request('POST', 'Patient', testPatient(1))).status).toBe(201);
    });

    test('JSON nested deeper than MAX_JSON_DEPTH is 400', async () => {
      const deep = `{"resourceType":"Patient","extension":${'['.repeat(20)}${']'.repeat(20)}}`;
      expectOutcome(await small.request('POST', 'Patient', deep), 400);
      expectOutcome(await s.request('POST', 'Patient', `{"resourceType":"Patient","a":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`), 400);
    });

    test.each(['text/plain', 'application/xml', 'application/fhir+xml'])('Content-Type %s is 415', async (type) => {
      expectOutcome(await s.request('POST', 'Patient', '<Patient xmlns="http://hl7.org/fhir"/>', { 'content-type': type }), 415, 'Content-Type');
    });

    test('Accept: application/fhir+xml and _format=xml are 406', async () => {
      expectOutcome(await s.request('GET', 'Patient', undefined, { accept: 'application/fhir+xml' }), 406, 'Accept');
      expectOutcome(await s.request('GET', 'metadata?_format=xml'), 406, '_format');
      expectOutcome(await s.request('GET', 'Patient?_format=application/fhir%2Bxml'), 406, '_format');
      // JSON in any of its spellings is fine.
      expect((await s.request('GET', 'metadata?_format=json')).status).toBe(200);
      expect((await s.request('GET', 'metadata', undefined, { accept: 'application/json' })).status).toBe(200);
    });

    test('a path that is not valid percent-encoding is 400', async () => {
      expectOutcome(await s.request('GET', 'Patient/%E0%A4%A'), 400);
    });
  });

  describe('routing (404, 405)', () => {
    test.each([
      ['OPTIONS', 'Patient'],
      ['PATCH', 'metadata'],
      ['POST', 'metadata'],
      ['POST', 'Patient/some-id'],
      ['DELETE', 'Patient'],
      ['PUT', 'Patient?identifier=x'],
      ['GET', 'Patient/$validate'],
      ['GET', ''],
      ['POST', 'Patient/some-id/_history'],
      ['DELETE', 'Patient/some-id/$everything'],
    ])('%s %s is 405 with an Allow header', async (method, path) => {
      const res = await s.request(method, path, method === 'GET' || method === 'OPTIONS' || method === 'DELETE' ? undefined : {});
      expectOutcome(res, 405);
      expect(res.headers.get('allow')).toMatch(/^(GET|POST|PUT|DELETE|PATCH)(, (GET|POST|PUT|DELETE|PATCH))*$/);
      expect(res.headers.get('allow')).not.toContain(method);
    });

    test('HEAD is 405 (with no body, as HEAD must)', async () => {
      const res = await s.request('HEAD', 'Patient/some-id');
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, PUT, DELETE, PATCH');
      expect(res.text).toBe('');
    });

    test.each(['Foo', 'Foo/1', 'Observation', 'Patient/x/y/z/w', 'Patient/$frobnicate', 'CarePlan/x/$everything', 'Patient/_history/1', '$graphql'])(
      'GET %s is 404',
      async (path) => {
        expectOutcome(await s.request('GET', path), 404);
      }
    );

    test('unknown id is 404, deleted is 410, unknown version is 404', async () => {
      expectOutcome(await s.request('GET', 'Patient/does-not-exist'), 404);
      const p = (await s.request('POST', 'Patient', testPatient(2))).body;
      await s.request('DELETE', `Patient/${p.id}`);
      expectOutcome(await s.request('GET', `Patient/${p.id}`), 410);
      expectOutcome(await s.request('GET', `Patient/${p.id}/_history/7`), 404);
      expectOutcome(await s.request('GET', `Patient/${p.id}/_history/not-a-number`), 404);
    });
  });

  describe('conditional requests (412, 400)', () => {
    test('a stale If-Match is 412 on PUT, PATCH and DELETE', async () => {
      const p = (await s.request('POST', 'Patient', testPatient(3))).body;
      await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'other' });
      expectOutcome(await s.request('PUT', `Patient/${p.id}`, p, { 'if-match': 'W/"1"' }), 412, 'If-Match');
      const patch = [{ op: 'replace', path: '/gender', value: 'male' }];
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, patch, { 'if-match': 'W/"1"', 'content-type': 'application/json-patch+json' }), 412, 'If-Match');
      expectOutcome(await s.request('DELETE', `Patient/${p.id}`, undefined, { 'if-match': 'W/"1"' }), 412, 'If-Match');
      expect((await s.request('GET', `Patient/${p.id}`)).body.meta.versionId).toBe('2');
    });

    test('an If-None-Exist without search criteria is 400: it would match any one resource', async () => {
      await s.request('POST', 'Patient', testPatient(13));
      expectOutcome(await s.request('POST', 'Patient', testPatient(14), { 'if-none-exist': '_count=1' }), 400, 'If-None-Exist');
      const tx = await s.request('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: testPatient(14), request: { method: 'POST', url: 'Patient', ifNoneExist: '_sort=name' } }],
      });
      expectOutcome(tx, 400, 'Bundle.entry[0].request.ifNoneExist');
    });

    test('an If-Match that is not an ETag is 400, not silently ignored', async () => {
      const p = (await s.request('POST', 'Patient', testPatient(4))).body;
      expectOutcome(await s.request('PUT', `Patient/${p.id}`, { ...p, gender: 'other' }, { 'if-match': 'W/"' }), 400, 'If-Match');
      expect((await s.request('GET', `Patient/${p.id}`)).body.meta.versionId).toBe('1');
    });
  });

  describe('bodies that are not the resource the URL names (400)', () => {
    test.each([
      ['null', 'null'],
      ['a string', '"Patient"'],
      ['an array', '[{"resourceType":"Patient"}]'],
      ['an object without resourceType', '{"name":[{"family":"X"}]}'],
      ['nothing', undefined],
    ])('POST Patient with %s is 400', async (_label, body) => {
      const res = await s.request('POST', 'Patient', body, body === undefined ? { 'content-type': 'application/fhir+json' } : {});
      expectOutcome(res, 400);
    });

    test('resource type in the body differing from the URL is 400 (create and update)', async () => {
      expectOutcome(await s.request('POST', 'Patient', testCarePlan('x')), 400, 'resourceType');
      expectOutcome(await s.request('PUT', 'Patient/abc', { ...testCarePlan('x'), id: 'abc' }), 400, 'resourceType');
    });

    test('id in the body differing from (or missing against) the URL on PUT is 400', async () => {
      expectOutcome(await s.request('PUT', 'Patient/abc', { ...testPatient(5), id: 'def' }), 400, 'Patient.id');
      expectOutcome(await s.request('PUT', 'Patient/abc', testPatient(5)), 400, 'Patient.id');
      expectOutcome(await s.request('PUT', 'Patient/bad%20id', { ...testPatient(5), id: 'bad id' }), 400, 'Patient.id');
    });

    test('a JSON Patch that is malformed, fails, or would change the id is refused and changes nothing', async () => {
      const p = (await s.request('POST', 'Patient', testPatient(6))).body;
      const jp = { 'content-type': 'application/json-patch+json' };
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, [{ op: 'frobnicate', path: '/gender' }], jp), 400);
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, [{ op: 'remove', path: '/telecom/0' }], jp), 400);
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, [{ op: 'replace', path: '/id', value: 'another' }], jp), 400);
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, [{ op: 'replace', path: '/resourceType', value: 'CarePlan' }], jp), 400);
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, { op: 'replace' }, jp), 400);
      expectOutcome(await s.request('PATCH', `Patient/${p.id}`, [{ op: 'test', path: '/gender', value: 'other' }], jp), 409);
      expect((await s.request('GET', `Patient/${p.id}`)).body.meta.versionId).toBe('1');
      expect((await s.request('GET', 'Patient/another')).status).toBe(404);
    });
  });

  describe('resources that break R4 or profile rules (422, one issue per problem)', () => {
    test('unknown element and bad gender code: two issues, each located', async () => {
      const res = await s.request('POST', 'Patient', { ...testPatient(7), favouriteColour: 'blue', gender: 'sometimes' });
      expectOutcome(res, 422, 'Patient.favouriteColour');
      expect(res.body.issue.flatMap((i: any) => i.expression)).toContain('Patient.gender');
      expect(res.body.issue.filter((i: any) => i.severity === 'error')).toHaveLength(2);
    });

    test('an NHS number with a bad check digit', async () => {
      const res = await s.request('POST', 'Patient', testPatient(8, { identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000019' }] }));
      expectOutcome(res, 422, 'Patient.identifier[0].value');
    });

    test('a CarePlan without its subject', async () => {
      expectOutcome(await s.request('POST', 'CarePlan', { ...testCarePlan('x'), subject: undefined }), 422, 'CarePlan.subject');
    });

    test('every issue of a refused write carries an expression', async () => {
      const res = await s.request('PUT', 'Patient/p-422', { ...testPatient(9), id: 'p-422', gender: 'x', birthDate: 'yesterday', foo: 1 });
      expectOutcome(res, 422);
      for (const issue of res.body.issue) {
        expect(issue.expression?.length).toBeGreaterThan(0);
      }
      expect((await s.request('GET', 'Patient/p-422')).status).toBe(404);
    });
  });

  describe('bad input is never a 500 and never leaks internals', () => {
    test('values the database cannot index or store are handled', async () => {
      const long = randomBytes(3000).toString('hex');
      const created = await s.request('POST', 'Patient', testPatient(10, { name: [{ family: long }], identifier: [{ system: 'urn:example:ids', value: long }] }));
      expect(created.status).toBe(201);
      expectOutcome(await s.request('GET', 'Patient?family=a%00b'), 400, 'family');
      expectOutcome(await s.request('POST', 'Patient', testPatient(11), { 'if-none-exist': 'family=a%00b' }), 400, 'If-None-Exist');
      expectOutcome(await s.request('GET', 'Patient/_history?_since=1'), 400, '_since');
      expectOutcome(await s.request('GET', 'Patient/_history?_count=-1'), 400, '_count');
      expectOutcome(await s.request('POST', 'Patient', testPatient(12, { name: [{ family: 'a\u0000b' }] })), 422, 'Patient.name[0].family');
    });

    test('arbitrary JSON posted as a Patient gets 201, 400 or 422', async () => {
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }), async (fields) => {
          const res = await s.request('POST', 'Patient', { ...fields, resourceType: 'Patient' });
          expect([201, 400, 422]).toContain(res.status);
          expectNoLeak(res);
        }),
        { numRuns: 60, seed: 20250101 }
      );
    });

    test('arbitrary text in Patient search parameters gets 200 or 400', async () => {
      const params = ['name', 'family', 'identifier', 'birthdate', 'gender', 'general-practitioner', '_id', '_lastUpdated', '_count', '_sort'];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...params), fc.string({ maxLength: 40 }), async (param, value) => {
          const res = await s.request('GET', `Patient?${param}=${encodeURIComponent(value)}`);
          expect([200, 400]).toContain(res.status);
          expectNoLeak(res);
        }),
        { numRuns: 150, seed: 20250102 }
      );
    });
  });
});
