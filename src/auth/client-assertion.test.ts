import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertionWithCrypto, assertionWithJose, b2b, claims, ecKey, rsaKey, signWithCrypto, TEST_ODS } from '../../test/support/assertions.ts';
import { backends } from '../../test/support/backends.ts';
import type { Database } from '../db/sql-client.ts';
import { ASSERTION_TYPE, verifyClientAssertion } from './client-assertion.ts';
import type { AssertionDeps } from './client-assertion.ts';
import { ClientRegistry } from './client-registry.ts';
import { JtiStore } from './jti-store.ts';
import { JwksSource } from './jwks-source.ts';
import { OAuthError } from './oauth-error.ts';

const TOKEN_URL = 'https://gateway.example.org/auth/token';
const rsa = rsaKey();
const ec = ecKey();
const rsaAlgPinned = { ...rsaKey('rsa-pinned'), publicJwk: { ...rsaKey('rsa-pinned').publicJwk, alg: 'RS256' } };
const smallRsa = { ...rsaKey('rsa-small', 1024), alg: 'RS384' as const };

describe('verifyClientAssertion', () => {
  let db: Database;
  let deps: AssertionDeps;
  beforeAll(async () => {
    db = await (backends()[0] as { open(): Promise<Database> }).open();
    const clients = new ClientRegistry(db);
    await clients.register({
      clientId: 'unit-client',
      organisation: { ods: TEST_ODS, name: 'Unit Test Council', kind: 'local-authority' },
      jwks: { keys: [rsa.publicJwk, ec.publicJwk, rsaAlgPinned.publicJwk, smallRsa.publicJwk] },
      scopes: ['system/*.rs'],
      purposes: ['TREAT', 'BTG'],
    });
    deps = { clients, jwks: new JwksSource(), jtis: new JtiStore(db), tokenUrl: TOKEN_URL };
  });
  afterAll(async () => {
    await db.close();
  });

  const form = (assertion: string, extra: Record<string, unknown> = {}) => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra });
  const refusal = async (assertion: string, extra: Record<string, unknown> = {}) => {
    try {
      await verifyClientAssertion(deps, form(assertion, extra));
    } catch (err) {
      expect(err).toBeInstanceOf(OAuthError);
      return { error: (err as OAuthError).error, status: (err as OAuthError).status, description: (err as OAuthError).description };
    }
    throw new Error('expected a refusal');
  };

  it('accepts RS384 and ES384, made by node:crypto and by node-jose, and builds the actor', async () => {
    for (const key of [rsa, ec]) {
      for (const make of [assertionWithCrypto, assertionWithJose]) {
        const v = await verifyClientAssertion(deps, form(await make(key, claims('unit-client', TOKEN_URL)), { scope: 'system/Patient.r' }));
        expect(v.client.clientId).toBe('unit-client');
        expect(v.requestedScopes).toBe('system/Patient.r');
        expect(v.actor).toEqual({
          clientId: 'unit-client',
          organisation: { ods: TEST_ODS, name: 'Unit Test Council', kind: 'local-authority' },
          user: { id: 'user-0001', name: 'Test User', role: 'R1330' },
          purposeOfUse: 'TREAT',
        });
      }
    }
  });

  it('carries justification and consent reference into the actor', async () => {
    const c = claims('unit-client', TOKEN_URL, {
      extensions: { 'hl7-b2b': b2b({ purpose_of_use: 'BTG', justification: 'Unconscious, no records', consent_reference: ['urn:uuid:1'] }) },
    });
    const v = await verifyClientAssertion(deps, form(assertionWithCrypto(ec, c)));
    expect(v.actor.purposeOfUse).toBe('BTG');
    expect(v.actor.justification).toBe('Unconscious, no records');
    expect(v.actor.consentReference).toBe('urn:uuid:1');
  });

  it('refuses a key whose own alg member disagrees with the header', async () => {
    const r = await refusal(signWithCrypto('RS384', rsaAlgPinned.privateKey, claims('unit-client', TOKEN_URL), { kid: 'rsa-pinned' }));
    expect(r).toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('refuses RSA keys under 2048 bits', async () => {
    const r = await refusal(assertionWithCrypto(smallRsa, claims('unit-client', TOKEN_URL)));
    expect(r).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a typ other than JWT (an access token is at+jwt)', async () => {
    const r = await refusal(assertionWithCrypto(ec, claims('unit-client', TOKEN_URL), { typ: 'at+jwt' }));
    expect(r.error).toBe('invalid_client');
  });

  it('refuses crit headers', async () => {
    const r = await refusal(assertionWithCrypto(ec, claims('unit-client', TOKEN_URL), { crit: ['exp'] }));
    expect(r.error).toBe('invalid_client');
  });

  it('refuses an ES384 signature one byte short, even when the byte dropped was a zero node-jose would put back', async () => {
    // About 1 in 256 signatures ends in 0x00: sign until one does (RFC 7518 section 3.4 wants all 96 bytes).
    let assertion = '';
    for (let i = 0; i < 5000 && !assertion; i++) {
      const a = assertionWithCrypto(ec, claims('unit-client', TOKEN_URL));
      if (Buffer.from(a.split('.')[2] as string, 'base64url')[95] === 0) assertion = a;
    }
    expect(assertion, 'no signature ending in a zero byte in 5,000 tries').not.toBe('');
    const [h, p, s] = assertion.split('.') as [string, string, string];
    const short = `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 95).toString('base64url')}`;
    expect(await refusal(short)).toMatchObject({ error: 'invalid_client', status: 401 });
    await expect(verifyClientAssertion(deps, form(assertion))).resolves.toBeDefined();
  });

  it('accepts a jti again once its first use has expired, not before', async () => {
    const now = Date.now();
    const jti = 'reused-after-expiry';
    const clock = { t: now };
    const timed = { ...deps, now: () => clock.t, jtis: new JtiStore(db, { now: () => clock.t }) };
    const first = claims('unit-client', TOKEN_URL, { jti, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60 });
    await verifyClientAssertion(timed, form(assertionWithCrypto(ec, first)));
    const again = await verifyClientAssertion(timed, form(assertionWithCrypto(ec, first))).catch((e: OAuthError) => e.error);
    expect(again).toBe('invalid_grant');
    clock.t = now + 10 * 60_000;
    const t = Math.floor(clock.t / 1000);
    const later = claims('unit-client', TOKEN_URL, { jti, iat: t, exp: t + 60 });
    await expect(verifyClientAssertion(timed, form(assertionWithCrypto(ec, later)))).resolves.toBeDefined();
  });

  it('never puts claim values into the description', async () => {
    const secret = 'Jane-Doe-9990001234';
    const cases = [
      claims('unit-client', TOKEN_URL, { aud: secret }),
      claims('unit-client', TOKEN_URL, { sub: secret }),
      claims('unit-client', TOKEN_URL, { extensions: { 'hl7-b2b': { subject_role: secret } } }),
      claims('unit-client', TOKEN_URL, { extensions: { 'hl7-b2b': { organization_id: secret } } }),
    ];
    for (const c of cases) {
      const r = await refusal(assertionWithCrypto(ec, c));
      expect(r.description).not.toContain(secret);
    }
  });
});
