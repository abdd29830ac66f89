/**
 * Enforcement of SMART Backend Services on the FHIR API: every data route
 * needs a valid bearer token (401 otherwise), every interaction a matching
 * scope (403 otherwise), and discovery stays public.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { AccessTokens } from '../../src/auth/access-token.ts';
import { GatewayKeys } from '../../src/auth/gateway-keys.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse, TestServer } from '../support/test-server.ts';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const NO_TOKEN = { authorization: '' };

function expect401(res: TestResponse, error?: 'invalid_token'): void {
  expect(res.status).toBe(401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer realm="joinedup"/);
  if (error) expect(challenge).toContain(`error="${error}"`);
  else expect(challenge).not.toContain('error=');
  expect(res.body?.resourceType).toBe('OperationOutcome');
}

function expect403(res: TestResponse, scope: string): void {
  expect(res.status).toBe(403);
  expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="joinedup", error="insufficient_scope", scope="${scope}"`);
  expect(res.body?.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe('forbidden');
}

/** Same issuer and audience as the server, other options as given. */
function tokensLike(s: TestServer, keys: GatewayKeys, overrides: Partial<{ issuer: string; audience: string; lifetimeSeconds: number }> = {}) {
  return new AccessTokens(keys, { issuer: s.baseUrl, audience: s.fhir, lifetimeSeconds: 300, ...overrides });
}

describe.each(backends())('SMART enforcement on /fhir ($name)', (backend) => {
  const s = suiteServer(backend);
  let patientId = '';
  let carePlanId = '';

  test('setup: a patient and a care plan', async () => {
    const p = await s.request('POST', 'Patient', testPatient(501));
    patientId = p.body.id;
    const c = await s.request('POST', 'CarePlan', testCarePlan(patientId));
    carePlanId = c.body.id;
    expect([p.status, c.status]).toEqual([201, 201]);
  });

  describe('without a token, every data route is 401 with a Bearer challenge', () => {
    const bundle = (type: 'batch' | 'transaction') => ({ resourceType: 'Bundle', type, entry: [{ request: { method: 'GET', url: 'Patient' } }] });
    test.each([
      ['read', 'GET', () => `Patient/${patientId}`],
      ['vread', 'GET', () => `Patient/${patientId}/_history/1`],
      ['search', 'GET', () => 'Patient?gender=female'],
      ['search via POST', 'POST', () => 'Patient/_search'],
      ['create', 'POST', () => 'Patient', testPatient(502)],
      ['update', 'PUT', () => `Patient/${patientId}`, () => ({ ...testPatient(501), id: patientId })],
      ['patch', 'PATCH', () => `Patient/${patientId}`, []],
      ['delete', 'DELETE', () => `CarePlan/${carePlanId}`],
      ['history (instance)', 'GET', () => `Patient/${patientId}/_history`],
      ['history (type)', 'GET', () => 'Patient/_history'],
      ['$everything', 'GET', () => `Patient/${patientId}/$everything`],
      ['$validate', 'POST', () => 'Patient/$validate', testPatient(503)],
      ['batch', 'POST', () => '', bundle('batch')],
      ['transaction', 'POST', () => '', bundle('transaction')],
      ['an unknown type (no hint that it does not exist)', 'GET', () => 'Nonsense/1'],
    ] as [string, string, () => string, unknown?][])('%s', async (_name, method, path, body) => {
      const b = typeof body === 'function' ? (body as () => unknown)() : body;
      const headers = method === 'PATCH' ? { ...NO_TOKEN, 'content-type': 'application/json-patch+json' } : NO_TOKEN;
      expect401(await s.request(method, path(), b, headers));
    });

    test('the resource is still there: nothing ran', async () => {
      expect((await s.request('GET', `CarePlan/${carePlanId}`)).status).toBe(200);
    });

    test('another scheme (Basic) is treated as no token', async () => {
      expect401(await s.request('GET', `Patient/${patientId}`, undefined, { authorization: 'Basic dXNlcjpwYXNz' }));
    });
  });

  describe('a token that must not be honoured is 401 invalid_token', () => {
    const cases: [string, (s: TestServer) => Promise<string>][] = [
      ['not a JWT', async () => 'abc'],
      ['three parts of garbage', async () => 'a.b.c'],
      ['"Bearer" and nothing', async () => ''],
      ['expired', async (s) => (await tokensLike(s, s.keys, { lifetimeSeconds: -5 }).issue(s.actor)).accessToken],
      ['issued for another issuer', async (s) => (await tokensLike(s, s.keys, { issuer: 'https://evil.example' }).issue(s.actor)).accessToken],
      ['issued for another API (audience)', async (s) => (await tokensLike(s, s.keys, { audience: 'https://evil.example/fhir' }).issue(s.actor)).accessToken],
      [
        'payload changed after signing (wider scope)',
        async (s) => {
          const narrow = await s.issueToken({ scopes: parseScopes('system/CarePlan.rs') });
          const [h, p, sig] = narrow.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
          return `${h}.${b64({ ...claims, scope: 'system/*.cruds' })}.${sig}`;
        },
      ],
      [
        'signature of another token',
        async (s) => {
          const [h, p] = s.token.split('.');
          const other = (await s.issueToken()).split('.')[2];
          return `${h}.${p}.${other}`;
        },
      ],
      [
        'alg none',
        async (s) => {
          const [h, p] = s.token.split('.') as [string, string];
          const header = JSON.parse(Buffer.from(h, 'base64url').toString());
          return `${b64({ ...header, alg: 'none' })}.${p}.`;
        },
      ],
      [
        'HS384 signed with the public key as the secret',
        async (s) => {
          const [h, p] = s.token.split('.') as [string, string];
          const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'HS384' };
          const jwk = s.keys.publicJwks().keys[0];
          const input = `${b64(header)}.${p}`;
          return `${input}.${createHmac('sha384', JSON.stringify(jwk)).update(input).digest('base64url')}`;
        },
      ],
      [
        'signed by a key of our kid that is not ours (node:crypto ES384)',
        async (s) => {
          const [h, p] = s.token.split('.') as [string, string];
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
          const input = `${h}.${p}`;
          return `${input}.${sign('sha384', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
        },
      ],
      [
        'a client assertion-style JWT (typ JWT) from our own key',
        async (s) => {
          const [h, p] = s.token.split('.') as [string, string];
          const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), typ: 'JWT' };
          const input = `${b64(header)}.${p}`;
          const jwk = (s.keys.signingKey().toJSON(true) as Record<string, unknown>);
          const { createPrivateKey } = await import('node:crypto');
          const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
          return `${input}.${sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
        },
      ],
      ['far too long', async () => 'a'.repeat(9000)],
    ];
    test.each(cases)('%s', async (_name, make) => {
      const token = await make(s);
      const res = await s.request('GET', `CarePlan/${carePlanId}`, undefined, bearer(token));
      expect401(res, 'invalid_token');
      // Never echoes the token back.
      if (token.length > 20) expect(res.text + (res.headers.get('www-authenticate') ?? '')).not.toContain(token.slice(-20));
    });

    test('a token signed by another gateway key (not in our table) is 401', async () => {
      const otherDb = await backend.open();
      try {
        const foreign = tokensLike(s, await GatewayKeys.load(otherDb));
        const token = (await foreign.issue(s.actor)).accessToken;
        expect401(await s.request('GET', `CarePlan/${carePlanId}`, undefined, bearer(token)), 'invalid_token');
      } finally {
        await otherDb.close();
      }
    });
  });

  describe('a token with only system/CarePlan.rs', () => {
    let token = '';
    test('setup', async () => {
      token = await s.issueToken({ scopes: parseScopes('system/CarePlan.rs') });
    });
    const as = (method: string, path: string, body?: unknown) => s.request(method, path, body, bearer(token));

    test('can read and search CarePlan', async () => {
      expect((await as('GET', `CarePlan/${carePlanId}`)).status).toBe(200);
      const found = await as('GET', `CarePlan?subject=Patient/${patientId}`);
      expect(found.status).toBe(200);
      expect(found.body.entry.map((e: any) => e.resource.id)).toContain(carePlanId);
      expect((await as('POST', 'CarePlan/_search')).status).toBe(200);
    });

    test('cannot read Patient (403 insufficient_scope)', async () => {
      expect403(await as('GET', `Patient/${patientId}`), 'system/Patient.r');
    });

    test('cannot create, update or delete CarePlan', async () => {
      expect403(await as('POST', 'CarePlan', testCarePlan(patientId)), 'system/CarePlan.c');
      expect403(await as('PUT', `CarePlan/${carePlanId}`, { ...testCarePlan(patientId), id: carePlanId }), 'system/CarePlan.u');
      expect403(await as('DELETE', `CarePlan/${carePlanId}`), 'system/CarePlan.d');
      expect403(await as('POST', 'CarePlan/$validate', testCarePlan(patientId)), 'system/CarePlan.c system/CarePlan.u');
    });

    test('cannot reach Patient data through a search: _include, _revinclude, chains', async () => {
      expect403(await as('GET', 'CarePlan?_include=CarePlan:subject'), 'system/Patient.r system/Patient.s');
      expect403(await as('GET', 'CarePlan?_include=CarePlan:subject:Patient'), 'system/Patient.r system/Patient.s');
      expect403(await as('GET', 'CarePlan?subject:Patient.name=Testperson501'), 'system/Patient.s');
      const form = { 'content-type': 'application/x-www-form-urlencoded', ...bearer(token) };
      expect403(await s.request('POST', 'CarePlan/_search', 'subject.identifier=x', form), 'system/Patient.s');
    });

    test('cannot run $everything (needs Patient r)', async () => {
      expect403(await as('GET', `Patient/${patientId}/$everything`), 'system/Patient.r');
    });

    test('a batch with one entry outside the scopes is refused whole, before anything runs', async () => {
      const writer = await s.issueToken({ scopes: parseScopes('system/CarePlan.cruds') });
      const before = (await s.request('GET', 'CarePlan?_summary=count')).body.total;
      for (const type of ['batch', 'transaction']) {
        const res = await s.request(
          'POST',
          '',
          {
            resourceType: 'Bundle',
            type,
            entry: [
              { request: { method: 'POST', url: 'CarePlan' }, resource: testCarePlan(patientId) },
              { request: { method: 'GET', url: `Patient/${patientId}` } },
            ],
          },
          bearer(writer)
        );
        expect403(res, 'system/Patient.r');
        expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1]']);
      }
      expect((await s.request('GET', 'CarePlan?_summary=count')).body.total).toBe(before);
    });

    test('a batch entirely within the scopes runs', async () => {
      const res = await as('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `CarePlan/${carePlanId}` } }] });
      expect(res.status).toBe(200);
      expect(res.body.entry[0].response.status).toMatch(/^200/);
    });
  });

  test('a conditional create also needs search on the type', async () => {
    const createOnly = await s.issueToken({ scopes: parseScopes('system/CarePlan.c') });
    expect403(
      await s.request('POST', 'CarePlan', testCarePlan(patientId), { ...bearer(createOnly), 'if-none-exist': 'status=active' }),
      'system/CarePlan.s'
    );
  });

  test('$everything answers only the types the token may read', async () => {
    const token = await s.issueToken({ scopes: parseScopes('system/Patient.r') });
    const res = await s.request('GET', `Patient/${patientId}/$everything`, undefined, bearer(token));
    expect(res.status).toBe(200);
    expect(new Set(res.body.entry.map((e: any) => e.resource.resourceType))).toEqual(new Set(['Patient']));
    expect403(await s.request('GET', `Patient/${patientId}/$everything?_type=CarePlan`, undefined, bearer(token)), 'system/CarePlan.r');
    // With the harness's wildcard token, the care plan is there.
    const all = await s.request('GET', `Patient/${patientId}/$everything`);
    expect(all.body.entry.map((e: any) => e.resource.id)).toContain(carePlanId);
  });

  describe('public documents', () => {
    test('metadata needs no token and names SMART Backend Services with the token URL', async () => {
      const res = await s.request('GET', 'metadata', undefined, NO_TOKEN);
      expect(res.status).toBe(200);
      const security = res.body.rest[0].security;
      expect(security.description).toMatch(/SMART Backend Services/);
      expect(security.service[0].coding[0].code).toBe('SMART-on-FHIR');
      expect(security.extension).toEqual([
        { url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: `${s.baseUrl}/auth/token` }] },
      ]);
    });

    test.each(['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration'])('%s', async (path) => {
      const res = await fetch(`${s.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const doc = (await res.json()) as any;
      expect(doc).toMatchObject({
        token_endpoint: `${s.baseUrl}/auth/token`,
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        grant_types_supported: ['client_credentials'],
        capabilities: ['client-confidential-asymmetric'],
      });
      expect(doc.scopes_supported).toContain('system/CarePlan.rs');
      expect(doc.scopes_supported).toContain('system/*.cruds');
    });

    test('/.well-known/jwks.json holds public keys only', async () => {
      const res = await fetch(`${s.baseUrl}/.well-known/jwks.json`);
      expect(res.status).toBe(200);
      const { keys } = (await res.json()) as any;
      expect(keys.length).toBeGreaterThanOrEqual(1);
      for (const k of keys) {
        expect(k).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig' });
        expect(k).not.toHaveProperty('d');
      }
      const kid = JSON.parse(Buffer.from(s.token.split('.')[0] as string, 'base64url').toString()).kid;
      expect(keys.map((k: any) => k.kid)).toContain(kid);
    });
  });

  test('a verified token is cached: one signature check for many requests', async () => {
    const token = await s.issueToken();
    const before = s.tokens.signatureChecks;
    for (let i = 0; i < 5; i++) {
      expect((await s.request('GET', `CarePlan/${carePlanId}`, undefined, bearer(token))).status).toBe(200);
    }
    expect(s.tokens.signatureChecks - before).toBe(1);
  });

  test('tokens issued before a key rotation still verify; new ones use the new key', async () => {
    const before = await s.issueToken();
    const oldKid = s.keys.signingKey().kid;
    const newKid = await s.keys.rotate();
    expect(newKid).not.toBe(oldKid);
    const checks = s.tokens.signatureChecks;
    // Never used before the rotation, so not cached: this really verifies with the retired key.
    expect((await s.request('GET', `CarePlan/${carePlanId}`, undefined, bearer(before))).status).toBe(200);
    expect(s.tokens.signatureChecks - checks).toBe(1);
    const after = await s.issueToken();
    expect(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid).toBe(newKid);
    expect((await s.request('GET', `CarePlan/${carePlanId}`, undefined, bearer(after))).status).toBe(200);
    const { keys } = (await (await fetch(`${s.baseUrl}/.well-known/jwks.json`)).json()) as any;
    expect(keys.map((k: any) => k.kid).sort()).toEqual([oldKid, newKid].sort());
  });
});

describe.each(backends())('keys rotated by another instance ($name)', (backend) => {
  const s = suiteServer(backend);

  test('a token signed with a key this instance has not loaded yet is found in the database', async () => {
    // Another instance (or `joinedup keys rotate`) on the same database.
    const elsewhere = await GatewayKeys.load(s.db);
    await elsewhere.rotate();
    const token = (await tokensLike(s, elsewhere).issue(s.actor)).accessToken;
    expect((await s.request('GET', 'CarePlan', undefined, bearer(token))).status).toBe(200);
  });
});

describe.each(backends())('open-development mode ($name)', (backend) => {
  const s = suiteServer(backend, { AUTH_MODE: 'open-development' });

  test('needs no token and says so in the CapabilityStatement', async () => {
    expect((await s.request('GET', 'CarePlan', undefined, NO_TOKEN)).status).toBe(200);
    const cs = await s.request('GET', 'metadata', undefined, NO_TOKEN);
    expect(cs.body.rest[0].security.description).toMatch(/OPEN DEVELOPMENT MODE/);
    expect(cs.body.rest[0].security.extension).toBeUndefined();
  });
});
