import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { migrate } from '../db/migrations.ts';
import { openPglite } from '../db/pglite.ts';
import type { Database } from '../db/sql-client.ts';
import type { Actor } from '../request-context.ts';
import { AccessTokens, InvalidTokenError } from './access-token.ts';
import { GatewayKeys } from './gateway-keys.ts';
import { parseScopes } from './scopes.ts';

const ISSUER = 'https://gateway.example';
const AUDIENCE = 'https://gateway.example/fhir';

const actor: Omit<Actor, 'tokenId'> = {
  clientId: 'leeds-gp',
  organisation: { ods: 'B86001', name: 'Test Surgery', kind: 'gp-practice' },
  user: { id: 'user-7', name: 'Dr Test', role: 'R8000' },
  purposeOfUse: 'BTG',
  justification: 'Unconscious patient in A&E',
  consentReference: 'Consent/123',
  scopes: parseScopes('system/Patient.rs system/CarePlan.cruds'),
};

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString());

describe('AccessTokens', () => {
  let db: Database;
  let keys: GatewayKeys;
  beforeAll(async () => {
    db = await openPglite('memory://');
    await migrate(db);
    keys = await GatewayKeys.load(db);
  });
  afterAll(async () => {
    await db.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const tokens = (opts: Partial<ConstructorParameters<typeof AccessTokens>[1]> = {}) =>
    new AccessTokens(keys, { issuer: ISSUER, audience: AUDIENCE, lifetimeSeconds: 300, ...opts });

  test('issue: an ES384 at+jwt with the claims of the design', async () => {
    const issued = await tokens().issue(actor);
    const [h, p] = issued.accessToken.split('.') as [string, string];
    expect(decode(h)).toEqual({ alg: 'ES384', typ: 'at+jwt', kid: keys.signingKey().kid });
    const claims = decode(p);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'leeds-gp',
      jti: issued.tokenId,
      scope: 'system/Patient.rs system/CarePlan.cruds',
      ctx: {
        org: { ods: 'B86001', name: 'Test Surgery', kind: 'gp-practice' },
        user: { id: 'user-7', name: 'Dr Test', role: 'R8000' },
        pou: 'BTG',
        justification: 'Unconscious patient in A&E',
        consent_reference: 'Consent/123',
      },
    });
    expect(claims.exp - claims.iat).toBe(300);
    expect(issued).toMatchObject({ expiresIn: 300, scope: 'system/Patient.rs system/CarePlan.cruds' });
  });

  test('verify gives back the actor, with the token id', async () => {
    const t = tokens();
    const issued = await t.issue(actor);
    const verified = await t.verify(issued.accessToken);
    expect({ ...verified, scopes: verified.scopes.map((s) => s.text) }).toEqual({
      ...actor,
      scopes: actor.scopes.map((s) => s.text),
      tokenId: issued.tokenId,
    });
  });

  test('optional context members stay absent', async () => {
    const t = tokens();
    const { justification: _j, consentReference: _c, ...plain } = actor;
    const verified = await t.verify((await t.issue({ ...plain, user: { id: 'u', role: 'R8000' }, purposeOfUse: 'TREAT' })).accessToken);
    expect(verified).not.toHaveProperty('justification');
    expect(verified).not.toHaveProperty('consentReference');
    expect(verified.user).toEqual({ id: 'u', role: 'R8000' });
  });

  test('a token for another issuer or audience is refused', async () => {
    const mine = tokens();
    await expect(mine.verify((await tokens({ issuer: 'https://other.example' }).issue(actor)).accessToken)).rejects.toThrow(InvalidTokenError);
    await expect(mine.verify((await tokens({ audience: 'https://other.example/fhir' }).issue(actor)).accessToken)).rejects.toThrow(InvalidTokenError);
  });

  test('cached until expiry, then refused without another signature check', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = tokens();
    const { accessToken } = await t.issue(actor);
    await t.verify(accessToken);
    await t.verify(accessToken);
    expect(t.signatureChecks).toBe(1);
    vi.setSystemTime(Date.now() + 301_000);
    await expect(t.verify(accessToken)).rejects.toThrow(/expired/);
    expect(t.signatureChecks).toBe(1);
  });

  test('the cache is bounded: the oldest entry goes first', async () => {
    const t = tokens({ cacheSize: 2 });
    const [a, b, c] = await Promise.all([t.issue(actor), t.issue(actor), t.issue(actor)]).then((x) => x.map((i) => i.accessToken));
    for (const tok of [a, b, c]) await t.verify(tok as string);
    expect(t.signatureChecks).toBe(3);
    await t.verify(c as string);
    expect(t.signatureChecks).toBe(3);
    await t.verify(a as string);
    expect(t.signatureChecks).toBe(4);
  });

  test('an ES384 signature one byte short is refused, even when the byte dropped was a zero node-jose would put back', async () => {
    // About 1 in 256 signatures ends in 0x00: issue until one does (RFC 7518 section 3.4 wants all 96 bytes).
    const t = tokens();
    let token = '';
    for (let i = 0; i < 5000 && !token; i++) {
      const { accessToken } = await t.issue(actor);
      if (Buffer.from(accessToken.split('.')[2] as string, 'base64url')[95] === 0) token = accessToken;
    }
    expect(token, 'no signature ending in a zero byte in 5,000 tries').not.toBe('');
    const [h, p, s] = token.split('.') as [string, string, string];
    const short = `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 95).toString('base64url')}`;
    await expect(t.verify(short)).rejects.toThrow(InvalidTokenError);
    await expect(t.verify(token)).resolves.toBeDefined();
  });

  test('claims we did not issue (unknown purpose) are refused even with a good signature', async () => {
    const t = tokens();
    await expect(t.issue({ ...actor, purposeOfUse: 'SHOPPING' as never }).then((i) => t.verify(i.accessToken))).rejects.toThrow(InvalidTokenError);
  });
});
