import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../test/support/backends.ts';
import type { Database } from '../db/sql-client.ts';
import { JtiStore } from './jti-store.ts';

describe.each(backends())('JtiStore ($name)', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => {
    await db.close();
  });

  const inFiveMinutes = () => new Date(Date.now() + 300_000);

  it('accepts a jti once per client', async () => {
    const store = new JtiStore(db);
    expect(await store.remember('c1', 'j1', inFiveMinutes())).toBe(true);
    expect(await store.remember('c1', 'j1', inFiveMinutes())).toBe(false);
    expect(await store.remember('c2', 'j1', inFiveMinutes())).toBe(true);
  });

  it('shares its memory between instances (the database is the memory)', async () => {
    const a = new JtiStore(db);
    const b = new JtiStore(db);
    expect(await a.remember('c1', 'shared', inFiveMinutes())).toBe(true);
    expect(await b.remember('c1', 'shared', inFiveMinutes())).toBe(false);
  });

  it('lets exactly one of many concurrent uses win', async () => {
    const stores = Array.from({ length: 8 }, () => new JtiStore(db));
    const results = await Promise.all(stores.map((s) => s.remember('c1', 'raced', inFiveMinutes())));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('lets an expired jti be used again and purges expired rows', async () => {
    const clock = { t: Date.now() };
    const store = new JtiStore(db, { now: () => clock.t, purgeIntervalMs: 1000 });
    expect(await store.remember('c3', 'old', new Date(clock.t + 60_000))).toBe(true);
    expect(await store.remember('c3', 'old2', new Date(clock.t + 60_000))).toBe(true);
    clock.t += 120_000;
    expect(await store.remember('c3', 'old', new Date(clock.t + 60_000))).toBe(true);
    const left = await db.query<{ jti: string }>("SELECT jti FROM assertion_jti WHERE client_id = 'c3' ORDER BY jti");
    expect(left.rows.map((r) => r.jti)).toEqual(['old']);
  });
});
