import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { migrate } from '../db/migrations.ts';
import { openPglite } from '../db/pglite.ts';
import type { Database } from '../db/sql-client.ts';
import { GatewayKeys, RETIRED_KEY_GRACE_SECONDS } from './gateway-keys.ts';

describe('GatewayKeys', () => {
  let db: Database;
  beforeEach(async () => {
    db = await openPglite('memory://');
    await migrate(db);
  });
  afterEach(async () => {
    await db.close();
  });

  const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_key')).rows[0]?.n;

  test('the first load creates one ES384 key; later and concurrent loads reuse it', async () => {
    const [a, b] = await Promise.all([GatewayKeys.load(db), GatewayKeys.load(db)]);
    const c = await GatewayKeys.load(db);
    expect(await count()).toBe(1);
    expect(a.signingKey().kid).toBe(b.signingKey().kid);
    expect(c.signingKey().kid).toBe(a.signingKey().kid);
    expect(a.signingKey().toJSON()).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig' });
  });

  test('publicJwks never holds private members', async () => {
    const keys = await GatewayKeys.load(db);
    for (const k of keys.publicJwks().keys) {
      expect(k).not.toHaveProperty('d');
    }
  });

  test('rotate: a new signing key; the old one still verifies and is still published', async () => {
    const keys = await GatewayKeys.load(db);
    const old = keys.signingKey().kid;
    const kid = await keys.rotate();
    expect(keys.signingKey().kid).toBe(kid);
    expect(kid).not.toBe(old);
    expect(await keys.verificationKey(old)).toBeDefined();
    expect(keys.publicJwks().keys.map((k) => (k as { kid: string }).kid).sort()).toEqual([old, kid].sort());
  });

  test('a key retired longer ago than the grace period no longer verifies', async () => {
    const keys = await GatewayKeys.load(db);
    const old = keys.signingKey().kid;
    await keys.rotate();
    await db.query(`UPDATE signing_key SET retired_at = now() - make_interval(secs => $1) WHERE kid = $2`, [RETIRED_KEY_GRACE_SECONDS + 1, old]);
    const fresh = await GatewayKeys.load(db);
    expect(await fresh.verificationKey(old)).toBeUndefined();
    expect(fresh.publicJwks().keys).toHaveLength(1);
  });

  test('an unknown kid triggers a reload, so a key rotated by another instance is found', async () => {
    const here = await GatewayKeys.load(db);
    const elsewhere = await GatewayKeys.load(db);
    const kid = await elsewhere.rotate();
    expect(await here.verificationKey(kid)).toBeDefined();
  });

  test('kids that cannot be ours are refused without a database query', async () => {
    const keys = await GatewayKeys.load(db);
    await db.close();
    // The database is closed: a query would throw.
    expect(await keys.verificationKey('../../etc/passwd')).toBeUndefined();
    expect(await keys.verificationKey('x'.repeat(101))).toBeUndefined();
    db = await openPglite('memory://');
  });
});
