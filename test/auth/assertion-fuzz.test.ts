import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ASSERTION_TYPE } from '../../src/auth/client-assertion.ts';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import { assertionWithCrypto, b2b, b64url, claims, ecKey, postToken, signWithCrypto, TEST_ODS, tokenForm } from '../support/assertions.ts';
import type { TokenResponse } from '../support/assertions.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';

/*
 * Property tests: whatever arrives at the token endpoint, the answer is an
 * RFC 6749 error (or, for a mutation that happens to stay valid, a token),
 * never a 500 and never anything internal.
 */

const CLIENT = 'fuzz-client';
const key = ecKey('fuzz-ec');
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'];

function expectRfc6749Refusal(r: TokenResponse): void {
  expect([400, 401]).toContain(r.status);
  expect(ERRORS).toContain(r.body?.error);
  expect(r.body.error_description).toEqual(expect.any(String));
  expect(r.headers.get('cache-control')).toBe('no-store');
  expect(r.text).not.toMatch(/node_modules|\.ts:\d|\bSELECT\b|\bINSERT\b|stack/i);
}

/** A refusal, or a token when a mutation happened to leave the assertion valid. */
function expectRefusalOrToken(r: TokenResponse): void {
  if (r.status === 200) expect(r.body.token_type).toBe('Bearer');
  else expectRfc6749Refusal(r);
}

const base64urlPart = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 80 });
const json = fc.jsonValue({ maxDepth: 4 });
const claimNames = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'extensions'] as const;

describe.each(backends())('token endpoint under fuzzing ($name)', (backend) => {
  const s = suiteServer(backend);
  let tokenUrl = '';
  beforeAll(async () => {
    tokenUrl = `${s.baseUrl}/auth/token`;
    await new ClientRegistry(s.db).register({
      clientId: CLIENT,
      organisation: { ods: TEST_ODS, name: 'Fuzz Council', kind: 'local-authority' },
      jwks: { keys: [key.publicJwk] },
      scopes: ['system/Patient.rs'],
      purposes: ['TREAT', 'CAREMGT'],
    });
  });

  it('random strings as client_assertion', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), async (assertion) => {
        expectRfc6749Refusal(await postToken(tokenUrl, tokenForm(assertion)));
      }),
      { numRuns: RUNS }
    );
  });

  it('random JWS-shaped inputs', async () => {
    const shaped = fc.oneof(
      fc.tuple(base64urlPart, base64urlPart, base64urlPart).map((p) => p.join('.')),
      fc.tuple(json, json, base64urlPart).map(([h, p, sig]) => `${b64url(JSON.stringify(h) ?? 'null')}.${b64url(JSON.stringify(p) ?? 'null')}.${sig}`),
      // A plausible header with random members, over random claims.
      fc.tuple(fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 5 }), json, base64urlPart).map(
        ([h, p, sig]) => `${b64url({ alg: 'ES384', kid: key.kid, ...h })}.${b64url(JSON.stringify(p) ?? 'null')}.${sig}`
      ),
      fc.array(base64urlPart, { minLength: 1, maxLength: 6 }).map((p) => p.join('.'))
    );
    await fc.assert(
      fc.asyncProperty(shaped, async (assertion) => {
        expectRfc6749Refusal(await postToken(tokenUrl, tokenForm(assertion)));
      }),
      { numRuns: RUNS }
    );
  });

  it('random claim objects, validly signed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(json, fc.dictionary(fc.constantFrom(...claimNames), json)), async (payload) => {
        const assertion = signWithCrypto('ES384', key.privateKey, (payload ?? null) as object, { kid: key.kid });
        expectRfc6749Refusal(await postToken(tokenUrl, tokenForm(assertion)));
      }),
      { numRuns: RUNS }
    );
  });

  it('valid claims with some members replaced by random values, validly signed', async () => {
    const mutation = fc.dictionary(fc.constantFrom(...claimNames), fc.oneof(json, fc.integer(), fc.double(), fc.constant(undefined)), { minKeys: 1 });
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const assertion = assertionWithCrypto(key, claims(CLIENT, tokenUrl, m));
        expectRefusalOrToken(await postToken(tokenUrl, tokenForm(assertion)));
      }),
      { numRuns: RUNS }
    );
  });

  it('random hl7-b2b contents, validly signed', async () => {
    const member = fc.constantFrom('organization_id', 'subject_id', 'subject_name', 'subject_role', 'purpose_of_use', 'justification', 'consent_reference', 'version');
    const ext = fc.oneof(json, fc.dictionary(member, fc.oneof(json, fc.string({ maxLength: 1200 }))).map((d) => b2b(d)));
    await fc.assert(
      fc.asyncProperty(ext, async (e) => {
        const assertion = assertionWithCrypto(key, claims(CLIENT, tokenUrl, { extensions: { 'hl7-b2b': e } }));
        expectRefusalOrToken(await postToken(tokenUrl, tokenForm(assertion)));
      }),
      { numRuns: RUNS }
    );
  });

  it('random forms and raw bodies', async () => {
    const param = fc.constantFrom('grant_type', 'client_assertion_type', 'client_assertion', 'client_id', 'scope', 'x');
    const forms = fc.array(fc.tuple(param, fc.oneof(fc.string({ maxLength: 50 }), fc.constant(ASSERTION_TYPE), fc.constant('client_credentials'))), { maxLength: 8 }).map((pairs) => {
      const p = new URLSearchParams();
      for (const [k, v] of pairs) p.append(k, v);
      return p.toString();
    });
    const raw = fc.string({ unit: 'binary', maxLength: 400 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(forms, raw), fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', 'application/x-www-form-urlencoded; charset=utf-8'), async (body, type) => {
        expectRfc6749Refusal(await postToken(tokenUrl, body, type));
      }),
      { numRuns: RUNS }
    );
  });
});
