import { randomUUID } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ASSERTION_TYPE } from '../../src/auth/client-assertion.ts';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import { assertionWithCrypto, b64url, claims, ecKey, jwksOf, postToken, rsaKey, signWithCrypto, TEST_ODS, tokenForm } from '../support/assertions.ts';
import type { TokenResponse } from '../support/assertions.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { anyJson, nastyString, fuzzParams, FUZZ_TEST_TIMEOUT_MS, printTally, tally } from './fuzz-support.ts';

/*
 * POST /auth/token under fuzzing. A correctly made client assertion is taken
 * and broken in one way at a time (its header's alg, its signature, one
 * claim, its size), and the form around it is varied (grant types, content
 * types, repeated and unknown fields, scope strings). Properties: never a
 * 5xx; every refusal is RFC 6749 JSON with a registered error code and the
 * status that code takes; and a broken assertion never gets a token. The
 * unbroken assertion does get one, so "never a token" is not vacuous.
 * test/auth/assertion-fuzz.test.ts fuzzes random (rather than mutated) inputs.
 */

const CLIENT = 'token-fuzz-client';
const ec = ecKey('tf-ec');
const rsa = rsaKey('tf-rsa');
const REGISTERED_SCOPES = ['system/Patient.rs', 'system/CarePlan.rs'];
/** RFC 6749 section 5.2 error codes, and the status each takes here. */
const STATUS_OF: Record<string, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
};

/** A refusal: 400/401 per its code, RFC 6749 JSON and nothing else, no-store, nothing internal. */
function expectOAuthRefusal(r: TokenResponse, what: string): void {
  tally(`token ${r.status} ${r.body?.error}`);
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(r.status, `${what}: no token for this: ${r.text.slice(0, 300)}`).not.toBe(200);
  expect(r.body?.access_token, what).toBeUndefined();
  expect(Object.keys(STATUS_OF), `${what}: ${r.text.slice(0, 300)}`).toContain(r.body?.error);
  expect(r.status, `${what}: ${r.body.error}`).toBe(STATUS_OF[r.body.error]);
  expect(Object.keys(r.body).every((k) => ['error', 'error_description', 'error_uri'].includes(k)), `${what}: ${r.text}`).toBe(true);
  if (r.body.error_description !== undefined) expect(r.body.error_description, what).toEqual(expect.any(String));
  expect(r.headers.get('content-type'), what).toMatch(/^application\/json/);
  expect(r.headers.get('cache-control'), what).toBe('no-store');
  expect(r.text, what).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d|\bSELECT\b|\bINSERT\b|stack|Error:/i);
}

const now = (): number => Math.floor(Date.now() / 1000);

/** One way to break a valid assertion: each yields an assertion no correct server may accept. */
type Break = (valid: () => Record<string, unknown>) => string;

const wrongKey = ecKey('tf-rogue');
const algBreaks: fc.Arbitrary<Break> = fc.oneof(
  fc.constant<Break>((c) => signWithCrypto('none', undefined, c(), { kid: ec.kid })),
  fc.constant<Break>((c) => signWithCrypto('HS384', Buffer.from(JSON.stringify(ec.publicJwk)), c(), { kid: ec.kid })),
  fc.constant<Break>((c) => signWithCrypto('HS384', createPublicKey(rsa.privateKey).export({ format: 'pem', type: 'spki' }) as unknown as Buffer, c(), { kid: rsa.kid })),
  fc.constant<Break>((c) => signWithCrypto('RS256', rsa.privateKey, c(), { kid: rsa.kid })),
  fc.constant<Break>((c) => signWithCrypto('ES256', ecKey('tf-ec256', 'P-256').privateKey, c(), { kid: ec.kid })),
  fc.constant<Break>((c) => signWithCrypto('ES384', rsa.privateKey, c(), { kid: rsa.kid })),
  fc.constant<Break>((c) => signWithCrypto('RS384', rsa.privateKey, c(), { kid: ec.kid })),
  fc.constant<Break>((c) => signWithCrypto('ES384', wrongKey.privateKey, c(), { kid: ec.kid })),
  // The right key and signature under a header that lies about alg.
  fc.constantFrom('none', 'HS256', 'HS384', 'ES512', 'PS384', 'es384', '', 'ES384 ', 'RS384').map<Break>((alg) => (c) => {
    const [, payload, sig] = assertionWithCrypto(ec, c()).split('.') as [string, string, string];
    return `${b64url({ alg, typ: 'JWT', kid: ec.kid })}.${payload}.${sig}`;
  }),
  // Validly signed, under a header no verifier may accept: a kid the client does not have (or none, and the
  // client has two keys), a crit it cannot understand (RFC 7515 section 4.1.11), an access token's typ.
  fc.oneof(nastyString, anyJson, fc.constant(undefined)).filter((kid) => kid !== ec.kid && kid !== rsa.kid).map<Break>((kid) => (c) => assertionWithCrypto(ec, c(), { kid })),
  fc.constantFrom<Record<string, unknown>>({ crit: ['exp'] }, { crit: ['x-unknown'], 'x-unknown': 1 }, { typ: 'at+jwt' }).map<Break>((h) => (c) => assertionWithCrypto(ec, c(), h))
);

const signatureBreaks: fc.Arbitrary<Break> = fc.oneof(
  fc.nat({ max: 95 }).map<Break>((byte) => (c) => {
    const [h, p, s] = assertionWithCrypto(ec, c()).split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[byte % sig.length] = (sig[byte % sig.length] as number) ^ 0x01;
    return `${h}.${p}.${b64url(sig)}`;
  }),
  fc.constantFrom('', 'AA', 'A', '====', '*', 'x'.repeat(128)).map<Break>((s) => (c) => `${assertionWithCrypto(ec, c()).split('.').slice(0, 2).join('.')}.${s}`),
  fc.nat({ max: 95 }).map<Break>((n) => (c) => {
    const [h, p, s] = assertionWithCrypto(ec, c()).split('.') as [string, string, string];
    return `${h}.${p}.${b64url(Buffer.from(s, 'base64url').subarray(0, n))}`;
  }),
  // The signature of another payload (a different jti) over this one.
  fc.constant<Break>((c) => {
    const [h, p] = assertionWithCrypto(ec, c()).split('.') as [string, string];
    const other = assertionWithCrypto(ec, c()).split('.')[2];
    return `${h}.${p}.${other}`;
  }),
  // Payload changed after signing.
  fc.constantFrom('sub', 'aud', 'exp', 'jti').map<Break>((k) => (c) => {
    const claimsNow = c();
    const [h, , s] = assertionWithCrypto(ec, claimsNow).split('.') as [string, string, string];
    return `${h}.${b64url({ ...claimsNow, [k]: k === 'exp' ? (claimsNow.exp as number) + 1 : `${String(claimsNow[k])}x` })}.${s}`;
  }),
  // Structure: an extra part, a missing part, an empty part, reversed.
  fc.constantFrom<(a: string) => string>(
    (a) => `${a}.`,
    (a) => `${a}.${a.split('.')[2]}`,
    (a) => a.split('.').slice(0, 2).join('.'),
    (a) => a.replace('.', '..'),
    (a) => a.split('').reverse().join('')
  ).map<Break>((f) => (c) => f(assertionWithCrypto(ec, c())))
);

/** A claim set to a value that makes the assertion invalid, validly signed. */
const claimBreaks: fc.Arbitrary<Break> = fc.oneof(
  fc.oneof(fc.integer({ min: 61, max: 10_000_000 }).map((d) => () => now() - d), fc.integer({ min: 311, max: 10_000_000 }).map((d) => () => now() + d), fc.constantFrom(() => undefined, () => String(now() + 60), () => null, () => 1e308, () => -1, () => [now() + 60])).map<Break>(
    (exp) => (c) => assertionWithCrypto(ec, { ...c(), exp: exp() })
  ),
  fc.oneof(fc.integer({ min: 61 + 5, max: 10_000_000 }).map((d) => () => now() + d), fc.integer({ min: 361 + 5, max: 10_000_000 }).map((d) => () => now() - d), fc.constantFrom(() => 'now', () => null, () => [1])).map<Break>(
    (iat) => (c) => assertionWithCrypto(ec, { ...c(), iat: iat() })
  ),
  fc.integer({ min: 66, max: 10_000_000 }).map<Break>((d) => (c) => assertionWithCrypto(ec, { ...c(), nbf: now() + d })),
  fc.oneof(nastyString, anyJson, fc.constant(undefined)).map<Break>((aud) => (c) => assertionWithCrypto(ec, { ...c(), aud: aud === undefined ? undefined : Array.isArray(aud) ? aud.filter((x) => typeof x !== 'string' || !x.endsWith('/auth/token')) : typeof aud === 'string' && aud.endsWith('/auth/token') ? `${aud}x` : aud })),
  fc.oneof(nastyString.filter((v) => v !== CLIENT), anyJson.filter((v) => v !== CLIENT), fc.constant(undefined)).chain((v) =>
    fc.constantFrom<Break>((c) => assertionWithCrypto(ec, { ...c(), iss: v }), (c) => assertionWithCrypto(ec, { ...c(), sub: v }), (c) => assertionWithCrypto(ec, { ...c(), iss: v, sub: v }))
  ),
  fc.oneof(fc.constantFrom(undefined, '', null, 0, 1, true, [], {}, 'a\u0000b', 'x\u001f'), fc.integer({ min: 257, max: 5000 }).map((n) => 'j'.repeat(n))).map<Break>((jti) => (c) => assertionWithCrypto(ec, { ...c(), jti })),
  // Over 16 KiB: refused before it is parsed.
  fc.integer({ min: 16 * 1024, max: 40 * 1024 }).map<Break>((n) => (c) => assertionWithCrypto(ec, { ...c(), pad: 'p'.repeat(n) }))
);

describe.each(backends())('token requests under fuzzing ($name)', (backend) => {
  const s = suiteServer(backend);
  afterAll(printTally);
  let tokenUrl = '';
  /** Valid claims, a new jti each time. */
  const valid = (): Record<string, unknown> => claims(CLIENT, tokenUrl, { jti: randomUUID() });

  beforeAll(async () => {
    tokenUrl = `${s.baseUrl}/auth/token`;
    await new ClientRegistry(s.db).register({
      clientId: CLIENT,
      organisation: { ods: TEST_ODS, name: 'Token Fuzz Council', kind: 'local-authority' },
      jwks: jwksOf(ec, rsa),
      scopes: REGISTERED_SCOPES,
      purposes: ['TREAT', 'CAREMGT'],
    });
  });

  test('the unbroken assertion gets a token (the control for the properties below)', async () => {
    const r = await postToken(tokenUrl, tokenForm(assertionWithCrypto(ec, valid())));
    expect(r.status, r.text).toBe(200);
    expect(r.body.token_type).toBe('Bearer');
  });

  test('a broken alg, key or header never gets a token', async () => {
    await fc.assert(
      fc.asyncProperty(algBreaks, async (broken) => {
        const assertion = broken(valid);
        expectOAuthRefusal(await postToken(tokenUrl, tokenForm(assertion)), `alg/header break ${assertion.slice(0, 120)}`);
      }),
      fuzzParams(60)
    );
  });

  test('a broken signature or structure never gets a token', async () => {
    await fc.assert(
      fc.asyncProperty(signatureBreaks, async (broken) => {
        const assertion = broken(valid);
        expectOAuthRefusal(await postToken(tokenUrl, tokenForm(assertion)), `signature break ${assertion.slice(0, 120)}`);
      }),
      fuzzParams(60)
    );
  });

  test('a broken claim (exp, iat, nbf, aud, iss, sub, jti, size) never gets a token', async () => {
    await fc.assert(
      fc.asyncProperty(claimBreaks, async (broken) => {
        const assertion = broken(valid);
        const payload = assertion.split('.')[1] ?? '';
        expectOAuthRefusal(await postToken(tokenUrl, tokenForm(assertion)), `claim break ${Buffer.from(payload, 'base64url').toString().slice(0, 300)}`);
      }),
      fuzzParams(100)
    );
  });

  test('a replayed assertion never gets a second token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 3 }), async (extra) => {
        const assertion = assertionWithCrypto(ec, valid());
        expect((await postToken(tokenUrl, tokenForm(assertion))).status).toBe(200);
        for (let i = 0; i <= extra; i++) {
          const again = await postToken(tokenUrl, tokenForm(assertion));
          expectOAuthRefusal(again, 'replay');
          expect(again.body.error).toBe('invalid_grant');
        }
      }),
      fuzzParams(10)
    );
  });

  test('grant types, assertion types, repeated and unknown fields, content types around a valid assertion', async () => {
    // scope has its own test below; code and username belong to other grants and are ignored like any unknown field.
    const field = fc.constantFrom('grant_type', 'client_assertion_type', 'client_assertion', 'client_id', 'client_secret', 'code', 'username', 'x');
    const variation = fc.record(
      {
        grant_type: fc.oneof(fc.constantFrom('client_credentials', 'authorization_code', 'password', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'CLIENT_CREDENTIALS', '', ' client_credentials'), nastyString),
        client_assertion_type: fc.oneof(fc.constant(ASSERTION_TYPE), fc.constantFrom('urn:ietf:params:oauth:client-assertion-type:saml2-bearer', '', `${ASSERTION_TYPE} `), nastyString),
        extra: fc.array(fc.tuple(field, fc.oneof(fc.constant('client_credentials'), fc.constant(ASSERTION_TYPE), nastyString.map((v) => v.slice(0, 2000)))), { maxLength: 3 }),
        contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=latin1', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', ''),
        asJson: fc.boolean(),
      },
      { requiredKeys: ['grant_type', 'client_assertion_type', 'extra', 'contentType', 'asJson'] }
    );
    await fc.assert(
      fc.asyncProperty(variation, async (v) => {
        const fields: [string, string][] = [
          ['grant_type', v.grant_type],
          ['client_assertion_type', v.client_assertion_type],
          ['client_assertion', assertionWithCrypto(ec, valid())],
          ...v.extra,
        ];
        const body = v.asJson ? JSON.stringify(Object.fromEntries(fields)) : new URLSearchParams(fields).toString();
        const r = await postToken(tokenUrl, body, v.contentType);
        const what = `form (${v.contentType}) ${body.slice(0, 300)}`;
        const wellFormed =
          !v.asJson &&
          v.contentType.startsWith('application/x-www-form-urlencoded') &&
          v.grant_type === 'client_credentials' &&
          v.client_assertion_type === ASSERTION_TYPE &&
          v.extra.every(([k]) => ['x', 'code', 'username'].includes(k));
        if (r.status === 200) {
          // Only an ordinary request around the valid assertion may succeed (unknown fields are ignored, RFC 6749 section 3.2).
          expect(wellFormed, `${what}: a token for a malformed request`).toBe(true);
          expect(r.body.token_type).toBe('Bearer');
          tally('token 200');
        } else expectOAuthRefusal(r, what);
      }),
      fuzzParams(80)
    );
  });

  test('scope strings: a token only for scopes the client is registered for, else invalid_scope', async () => {
    const scopeToken = fc.oneof(
      fc.constantFrom(...REGISTERED_SCOPES, 'system/Patient.r', 'system/Patient.s', 'system/CarePlan.rs', 'system/*.rs', 'system/*.cruds', 'system/Patient.cruds', 'patient/Patient.rs', 'user/*.*', 'openid', 'launch', 'system/Patient.read', 'system/Patient.*', 'system/Patient.rs?category=x', 'system/Patient.sr', 'system/.rs', 'system/Patient.'),
      nastyString.map((v) => v.slice(0, 300))
    );
    const scope = fc.oneof(fc.array(scopeToken, { maxLength: 5 }).map((t) => t.join(' ')), fc.array(scopeToken, { maxLength: 3 }).map((t) => t.join('  \t')), nastyString);
    await fc.assert(
      fc.asyncProperty(scope, async (sc) => {
        const r = await postToken(tokenUrl, tokenForm(assertionWithCrypto(ec, valid()), { scope: sc }));
        const what = `scope ${JSON.stringify(sc).slice(0, 300)}`;
        if (r.status === 200) {
          tally('token 200');
          // Whatever was granted is within what the client is registered for.
          for (const granted of String(r.body.scope).split(' ').filter(Boolean)) {
            const [type = '', v2] = granted.replace(/^system\//, '').split('.');
            // SMART v1 names (read, write, *) as their v2 letters.
            const perms = ({ read: 'rs', write: 'cud', '*': 'cruds' } as Record<string, string>)[v2 ?? ''] ?? v2 ?? '';
            const covering = REGISTERED_SCOPES.find((reg) => reg.startsWith(`system/${type}.`));
            expect(covering, `${what}: granted ${granted}`).toBeDefined();
            for (const p of perms) expect(covering!.split('.')[1], `${what}: granted ${granted}`).toContain(p);
          }
        } else {
          expectOAuthRefusal(r, what);
          expect(['invalid_scope', 'invalid_request'], what).toContain(r.body.error);
        }
      }),
      fuzzParams(80)
    );
  });
}, FUZZ_TEST_TIMEOUT_MS);
