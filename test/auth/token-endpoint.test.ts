import type { AuditEvent } from '@medplum/fhirtypes';
import { createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import {
  assertionWithCrypto,
  assertionWithJose,
  b2b,
  b64url,
  claims,
  ecKey,
  postToken,
  rsaKey,
  signWithCrypto,
  TEST_ODS,
  tokenForm,
} from '../support/assertions.ts';
import type { TestKey, TokenResponse } from '../support/assertions.ts';
import { backends } from '../support/backends.ts';
import { startTestServer, suiteServer } from '../support/test-server.ts';

const CLIENT = 'attack-test-client';
const SUSPENDED = 'attack-suspended-client';
const rsa = rsaKey('rsa-1');
const ec = ecKey('ec-1');
const ec256 = ecKey('ec-1', 'P-256');
// Not registered anywhere: an attacker's own key, claiming a registered kid.
const rogue = ecKey('rogue-for-ec-1');
const REGISTERED_SCOPES = ['system/Patient.rs', 'system/CarePlan.rs'];

/** Status, code and the rules every refusal follows: no-store, RFC 6749 shape, nothing internal or echoed. */
function expectRefusal(r: TokenResponse, status: number, error: string, assertion?: string): void {
  expect({ status: r.status, error: r.body?.error }).toEqual({ status, error });
  expect(r.headers.get('cache-control')).toBe('no-store');
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(r.body).sort()).toEqual(['error', 'error_description']);
  expect(r.body.error_description).toEqual(expect.any(String));
  expect(r.text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d|\bSELECT\b|\bINSERT\b|assertion_jti|stack|Error:/i);
  if (assertion) {
    for (const part of assertion.split('.')) if (part.length >= 12) expect(r.text).not.toContain(part);
  }
}

interface Ctx {
  tokenUrl: string;
  /** Valid claims for the attack client; override or drop (undefined) members. */
  c(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Valid claims whose hl7-b2b members are overridden. */
  withB2b(overrides: Record<string, unknown>): Record<string, unknown>;
}

interface AttackCase {
  name: string;
  status: number;
  error: string;
  /** Builds (and may pre-send) the request; returns what to POST. */
  request(ctx: Ctx): Promise<{ body: string; contentType?: string; assertion?: string }>;
}

const form = (assertion: string, extra: Record<string, string | undefined> = {}) => ({ body: tokenForm(assertion, extra), assertion });

const ATTACKS: AttackCase[] = [
  // Algorithms and keys: invalid_client.
  { name: 'alg none', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('none', undefined, x.c(), { kid: 'ec-1' })) },
  {
    name: 'HS384 keyed with the public key',
    status: 401,
    error: 'invalid_client',
    request: async (x) => form(signWithCrypto('HS384', publicPem(rsa), x.c(), { kid: 'rsa-1' })),
  },
  { name: 'RS256', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('RS256', rsa.privateKey, x.c(), { kid: 'rsa-1' })) },
  { name: 'ES256', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('ES256', ec256.privateKey, x.c(), { kid: 'ec-1' })) },
  { name: 'unknown kid', status: 401, error: 'invalid_client', request: async (x) => form(assertionWithCrypto(ec, x.c(), { kid: 'no-such-kid' })) },
  { name: 'no kid, client has several keys', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('ES384', ec.privateKey, x.c())) },
  { name: 'RSA key claiming ES384', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('ES384', ec.privateKey, x.c(), { kid: 'rsa-1' })) },
  { name: 'EC key claiming RS384', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('RS384', rsa.privateKey, x.c(), { kid: 'ec-1' })) },
  {
    name: 'bad signature (one byte flipped)',
    status: 401,
    error: 'invalid_client',
    request: async (x) => {
      const [h, p, s] = assertionWithCrypto(ec, x.c()).split('.') as [string, string, string];
      const sig = Buffer.from(s, 'base64url');
      sig[10] = (sig[10] as number) ^ 0x01;
      return form(`${h}.${p}.${b64url(sig)}`);
    },
  },
  {
    name: 'ES384 header with the signature stripped',
    status: 401,
    error: 'invalid_client',
    request: async (x) => form(`${assertionWithCrypto(ec, x.c()).split('.').slice(0, 2).join('.')}.`),
  },
  { name: 'signed by another key with the same kid', status: 401, error: 'invalid_client', request: async (x) => form(signWithCrypto('ES384', rogue.privateKey, x.c(), { kid: 'ec-1' })) },
  {
    name: 'embedded jwk header (the key is not taken from the assertion)',
    status: 401,
    error: 'invalid_client',
    request: async (x) => form(signWithCrypto('ES384', rogue.privateKey, x.c(), { kid: rogue.kid, jwk: rogue.publicJwk })),
  },
  { name: 'typ at+jwt (an access token is not an assertion)', status: 401, error: 'invalid_client', request: async (x) => form(assertionWithCrypto(ec, x.c(), { typ: 'at+jwt' })) },
  // Who the client is: invalid_client.
  { name: 'iss differs from client_id in the form', status: 401, error: 'invalid_client', request: async (x) => form(assertionWithCrypto(ec, x.c()), { client_id: 'someone-else' }) },
  {
    name: 'unknown client',
    status: 401,
    error: 'invalid_client',
    request: async (x) => form(assertionWithCrypto(ec, x.c({ iss: 'never-registered', sub: 'never-registered' }))),
  },
  { name: 'iss with a NUL byte', status: 401, error: 'invalid_client', request: async (x) => form(assertionWithCrypto(ec, x.c({ iss: `${CLIENT}\u0000`, sub: `${CLIENT}\u0000` }))) },
  { name: 'suspended client', status: 401, error: 'invalid_client', request: async (x) => form(assertionWithCrypto(ec, x.c({ iss: SUSPENDED, sub: SUSPENDED }))) },
  // Claims: invalid_grant.
  { name: 'iss differs from sub', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ sub: 'someone-else' }))) },
  { name: 'wrong aud', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ aud: 'https://other.example.org/token' }))) },
  { name: 'aud with a trailing slash', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ aud: `${x.tokenUrl}/` }))) },
  { name: 'aud array without ours', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ aud: ['https://a.example.org', 'https://b.example.org'] }))) },
  { name: 'missing aud', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ aud: undefined }))) },
  { name: 'expired', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ iat: now() - 200, exp: now() - 90 }))) },
  { name: 'exp more than 5 minutes ahead', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ exp: now() + 600 }))) },
  { name: 'missing exp', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ exp: undefined }))) },
  { name: 'exp as a string', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ exp: String(now() + 60) }))) },
  { name: 'nbf in the future', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ nbf: now() + 200 }))) },
  { name: 'iat in the future', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ iat: now() + 200 }))) },
  { name: 'iat too long ago', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ iat: now() - 3600 }))) },
  { name: 'missing jti', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ jti: undefined }))) },
  { name: 'jti over 256 characters', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ jti: 'j'.repeat(257) }))) },
  { name: 'jti with a NUL byte', status: 400, error: 'invalid_grant', request: async (x) => form(assertionWithCrypto(ec, x.c({ jti: 'abc\u0000def' }))) },
  {
    name: 'replayed jti (the same assertion twice)',
    status: 400,
    error: 'invalid_grant',
    request: async (x) => {
      const f = form(assertionWithCrypto(ec, x.c()));
      expect((await postToken(x.tokenUrl, f.body)).status).toBe(200);
      return f;
    },
  },
  // The request itself: invalid_request / unsupported_grant_type.
  {
    name: 'oversized assertion (> 16 KB)',
    status: 400,
    error: 'invalid_request',
    request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ padding: 'x'.repeat(17_000) }))),
  },
  { name: 'malformed JWS: two parts', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c()).split('.').slice(0, 2).join('.')) },
  { name: 'malformed JWS: bad base64url', status: 400, error: 'invalid_request', request: async () => form('eyJhbGciOiJFUzM4NCJ9!.eyJ+/.c2ln') },
  { name: 'malformed JWS: impossible base64url length', status: 400, error: 'invalid_request', request: async () => form('eyJhbGciOiJFUzM4NCJ9a.eyJ9.c2ln') },
  { name: 'malformed JWS: JSON garbage', status: 400, error: 'invalid_request', request: async () => form(`${b64url('{"alg":"ES384",')}.${b64url('not json')}.${b64url('sig')}`) },
  { name: 'malformed JWS: header is a JSON array', status: 400, error: 'invalid_request', request: async () => form(`${b64url('["ES384"]')}.${b64url('{}')}.${b64url('sig')}`) },
  { name: 'form larger than 64 KB', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c()), { padding: 'x'.repeat(70_000) }) },
  { name: 'empty client_assertion', status: 400, error: 'invalid_request', request: async () => form('') },
  {
    name: 'wrong client_assertion_type',
    status: 400,
    error: 'invalid_request',
    request: async (x) => form(assertionWithCrypto(ec, x.c()), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }),
  },
  { name: 'missing client_assertion_type', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c()), { client_assertion_type: undefined }) },
  { name: 'wrong grant_type', status: 400, error: 'unsupported_grant_type', request: async (x) => form(assertionWithCrypto(ec, x.c()), { grant_type: 'authorization_code' }) },
  { name: 'missing grant_type', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c()), { grant_type: undefined }) },
  { name: 'missing client_assertion', status: 400, error: 'invalid_request', request: async () => ({ body: tokenForm(undefined) }) },
  {
    name: 'a parameter given twice',
    status: 400,
    error: 'invalid_request',
    request: async (x) => {
      const f = form(assertionWithCrypto(ec, x.c()));
      return { ...f, body: `${f.body}&grant_type=client_credentials` };
    },
  },
  {
    name: 'JSON body instead of a form',
    status: 400,
    error: 'invalid_request',
    request: async (x) => {
      const assertion = assertionWithCrypto(ec, x.c());
      const body = JSON.stringify({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
      return { body, contentType: 'application/json', assertion };
    },
  },
  // What the client may do: invalid_scope / unauthorized_client.
  { name: 'scope not allowed', status: 400, error: 'invalid_scope', request: async (x) => form(assertionWithCrypto(ec, x.c()), { scope: 'system/Patient.rs system/Observation.r' }) },
  { name: 'scope more than allowed on an allowed type', status: 400, error: 'invalid_scope', request: async (x) => form(assertionWithCrypto(ec, x.c()), { scope: 'system/Patient.cruds' }) },
  { name: 'purpose not allowed for the client', status: 400, error: 'unauthorized_client', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ purpose_of_use: ['HRESCH'] }))) },
  {
    name: 'organisation is not the client’s',
    status: 400,
    error: 'unauthorized_client',
    request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ organization_id: 'https://fhir.nhs.uk/Id/ods-organization-code|Z99999' }))),
  },
  // The request context: invalid_request.
  { name: 'missing hl7-b2b', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c({ extensions: {} }))) },
  { name: 'missing extensions', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.c({ extensions: undefined }))) },
  { name: 'bad subject_role', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ subject_role: 'consultant' }))) },
  { name: 'missing subject_id', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ subject_id: undefined }))) },
  { name: 'BTG without justification', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ purpose_of_use: ['BTG'] }))) },
  { name: 'multiple purposes', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ purpose_of_use: ['TREAT', 'CAREMGT'] }))) },
  { name: 'unknown purpose code', status: 400, error: 'invalid_request', request: async (x) => form(assertionWithCrypto(ec, x.withB2b({ purpose_of_use: ['MARKETING'] }))) },
];

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** The public half in PEM, the secret a careless HMAC verifier would end up using. */
function publicPem(k: TestKey): Buffer {
  return Buffer.from(createPublicKey(k.privateKey).export({ type: 'spki', format: 'pem' }));
}

async function registerAttackClients(registry: ClientRegistry): Promise<void> {
  const base = {
    organisation: { ods: TEST_ODS, name: 'Attack Test Council', kind: 'local-authority' as const },
    jwks: { keys: [rsa.publicJwk, ec.publicJwk] },
    scopes: REGISTERED_SCOPES,
    purposes: ['TREAT', 'CAREMGT', 'BTG'],
  };
  await registry.register({ clientId: CLIENT, ...base });
  await registry.register({ clientId: SUSPENDED, ...base });
  await registry.setStatus(SUSPENDED, 'suspended');
}

function decodeJwt(token: string): { header: any; payload: any } {
  const [h, p] = token.split('.') as [string, string];
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}

describe.each(backends())('token endpoint ($name)', (backend) => {
  const s = suiteServer(backend);
  let ctx: Ctx;
  beforeAll(async () => {
    await registerAttackClients(new ClientRegistry(s.db));
    const tokenUrl = `${s.baseUrl}/auth/token`;
    ctx = {
      tokenUrl,
      c: (overrides = {}) => claims(CLIENT, tokenUrl, overrides),
      withB2b: (overrides) => claims(CLIENT, tokenUrl, { extensions: { 'hl7-b2b': b2b(overrides) } }),
    };
  });

  it('has at least 30 attack cases', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(30);
  });

  describe('refuses', () => {
    it.each(ATTACKS)('$name → $status $error', async (attack) => {
      const req = await attack.request(ctx);
      const r = await postToken(ctx.tokenUrl, req.body, req.contentType);
      expectRefusal(r, attack.status, attack.error, req.assertion);
    });
  });

  it('a body the form parser refuses (too large) is a refusal like any other: invalid_request, and a security event naming the request', async () => {
    const r = await postToken(ctx.tokenUrl, `grant_type=client_credentials&pad=${'p'.repeat(70 * 1024)}`);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'invalid_request', error_description: 'The request is too large' });
    expect(r.headers.get('cache-control')).toBe('no-store');
    const requestId = r.headers.get('x-request-id');
    const events = (await s.db.query<{ content: string; outcome: string; subtype: string }>("SELECT content, outcome, subtype FROM audit_event WHERE subtype = 'token'")).rows.filter(
      (e) => (JSON.parse(e.content) as AuditEvent).entity?.[0]?.what?.identifier?.value === requestId
    );
    expect(events.map((e) => [e.outcome, (JSON.parse(e.content) as AuditEvent).outcomeDesc])).toEqual([['deny', 'token request refused: invalid_request']]);
  });

  describe('issues tokens', () => {
    it.each([
      ['RS384', 'node:crypto'],
      ['RS384', 'node-jose'],
      ['ES384', 'node:crypto'],
      ['ES384', 'node-jose'],
    ])('for an %s assertion made by %s', async (alg, maker) => {
      const key = alg === 'RS384' ? rsa : ec;
      const assertion = maker === 'node-jose' ? await assertionWithJose(key, ctx.c()) : assertionWithCrypto(key, ctx.c());
      const r = await postToken(ctx.tokenUrl, tokenForm(assertion));
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), scope: REGISTERED_SCOPES.join(' ') });
      expect(r.body.expires_in).toBeGreaterThan(0);
      expect(r.body.expires_in).toBeLessThanOrEqual(300);
    });

    it('grants exactly the requested subset and carries the context in the token', async () => {
      const assertion = assertionWithCrypto(ec, ctx.withB2b({ purpose_of_use: 'BTG', justification: 'Found unconscious at home' }));
      const r = await postToken(ctx.tokenUrl, tokenForm(assertion, { scope: 'system/Patient.r', client_id: CLIENT }));
      expect(r.status).toBe(200);
      expect(r.body.scope).toBe('system/Patient.r');
      const { header, payload } = decodeJwt(r.body.access_token);
      expect(header).toMatchObject({ alg: 'ES384', typ: 'at+jwt' });
      expect(payload).toMatchObject({
        iss: s.baseUrl,
        aud: `${s.baseUrl}/fhir`,
        sub: CLIENT,
        scope: 'system/Patient.r',
        ctx: {
          org: { ods: TEST_ODS, name: 'Attack Test Council', kind: 'local-authority' },
          user: { id: 'user-0001', name: 'Test User', role: 'R1330' },
          pou: 'BTG',
          justification: 'Found unconscious at home',
        },
      });
      expect(payload.exp - payload.iat).toBeLessThanOrEqual(300);
    });

    it('the token opens the FHIR data routes its scope covers, and no others', async () => {
      const r = await postToken(ctx.tokenUrl, tokenForm(assertionWithCrypto(rsa, ctx.c()), { scope: 'system/Patient.rs' }));
      expect(r.status).toBe(200);
      const auth = { authorization: `Bearer ${r.body.access_token}` };
      expect((await s.request('GET', 'Patient?_count=1', undefined, auth)).status).toBe(200);
      expect((await s.request('GET', 'CarePlan?_count=1', undefined, auth)).status).toBe(403);
      expect((await s.request('GET', 'Patient?_count=1', undefined, { authorization: '' })).status).toBe(401);
    });
  });

  describe('replay memory lives in the database', () => {
    it('refuses a replay at another instance on the same database', async () => {
      // Instances behind one load balancer share the public base URL, so the same aud is valid at both.
      const env = { BASE_URL: 'https://gateway.example.org' };
      const a = await startTestServer(s.db, env);
      const b = await startTestServer(s.db, env);
      try {
        const body = tokenForm(assertionWithCrypto(ec, claims(CLIENT, 'https://gateway.example.org/auth/token')));
        expect((await postToken(`${a.url}/auth/token`, body)).status).toBe(200);
        expectRefusal(await postToken(`${b.url}/auth/token`, body), 400, 'invalid_grant');
        expectRefusal(await postToken(`${a.url}/auth/token`, body), 400, 'invalid_grant');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('refuses a replay after a restart', async () => {
      const env = { BASE_URL: 'https://gateway.example.org' };
      const body = tokenForm(assertionWithCrypto(rsa, claims(CLIENT, 'https://gateway.example.org/auth/token')));
      const first = await startTestServer(s.db, env);
      try {
        expect((await postToken(`${first.url}/auth/token`, body)).status).toBe(200);
      } finally {
        await first.close();
      }
      const restarted = await startTestServer(s.db, env);
      try {
        expectRefusal(await postToken(`${restarted.url}/auth/token`, body), 400, 'invalid_grant');
      } finally {
        await restarted.close();
      }
    });

    it('lets exactly one of several concurrent uses of one assertion through', async () => {
      const body = tokenForm(assertionWithCrypto(ec, ctx.c()));
      const results = await Promise.all(Array.from({ length: 6 }, () => postToken(ctx.tokenUrl, body)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400]);
    });
  });
});
