import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgreementCache,
  AgreementEndedError,
  AgreementInvalidError,
  AgreementNotFoundError,
  addAgreement,
  endAgreement,
  getAgreement,
  listAgreements,
  loadAgreements,
} from '../../src/gate/agreements/agreement-store.ts';
import { DEMO_AGREEMENTS } from '../../src/gate/agreements/demo-agreements.ts';
import type { Database } from '../../src/db/sql-client.ts';
import type { SharingAgreement } from '../../src/gate/types.ts';
import { backends } from '../support/backends.ts';

const directCare = () => structuredClone(DEMO_AGREEMENTS.find((a) => a.id === 'midshire-direct-care')!);
const expiredPilot = () => structuredClone(DEMO_AGREEMENTS.find((a) => a.id === 'northgate-discharge-to-assess-pilot')!);
const NOW = new Date('2026-11-21T12:00:00Z');

describe.each(backends())('agreement store on $name', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => db?.close());

  it('adds an agreement as version 1; the same content again changes nothing; new content is the next version', async () => {
    expect(await addAgreement(db, directCare())).toEqual({ id: 'midshire-direct-care', version: 1, created: true });
    expect(await addAgreement(db, directCare())).toEqual({ id: 'midshire-direct-care', version: 1, created: false });
    const v2 = { ...directCare(), purposes: ['TREAT'] };
    expect(await addAgreement(db, v2)).toEqual({ id: 'midshire-direct-care', version: 2, created: true });
    expect(await addAgreement(db, expiredPilot())).toEqual({ id: 'northgate-discharge-to-assess-pilot', version: 1, created: true });
  });

  it('refuses an invalid file with every problem as a JSONPath, storing nothing', async () => {
    const bad = { ...directCare(), id: 'new-one', parties: [{ ods: 'X9C01', name: 'x' }], period: { start: '2026-01-01', end: '2025-01-01' } };
    const err = await addAgreement(db, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgreementInvalidError);
    expect((err as AgreementInvalidError).issues).toEqual([
      { path: '$.parties', message: 'an agreement has at least two parties' },
      { path: '$.period.end', message: 'must not be before start' },
    ]);
    expect(await getAgreement(db, 'new-one')).toBeUndefined();
  });

  it('lists the newest version of each with its status at a given instant', async () => {
    const list = await listAgreements(db, NOW);
    expect(list.map((s) => [s.agreement.id, s.agreement.version, s.status])).toEqual([
      ['midshire-direct-care', 2, 'in-force'],
      ['northgate-discharge-to-assess-pilot', 1, 'expired'],
    ]);
    expect(list[0]!.agreement.purposes).toEqual(['TREAT']);
    expect(list[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await listAgreements(db, new Date('2025-01-01T00:00:00Z')))[0]!.status).toBe('not-yet');
  });

  it('gets one agreement with every version, oldest first', async () => {
    const detail = await getAgreement(db, 'midshire-direct-care', NOW);
    expect(detail?.history.map((h) => [h.agreement.version, h.agreement.purposes])).toEqual([
      [1, ['TREAT', 'CAREMGT']],
      [2, ['TREAT']],
    ]);
    expect(detail?.current.agreement).toEqual({ ...directCare(), purposes: ['TREAT'], version: 2 });
    expect(await getAgreement(db, 'no-such-agreement')).toBeUndefined();
  });

  it('ends the newest version at an instant; ended stays ended and cannot be revived by a new version', async () => {
    const at = new Date('2026-12-01T09:00:00Z');
    expect(await endAgreement(db, 'midshire-direct-care', at)).toEqual({ id: 'midshire-direct-care', version: 2, endedAt: '2026-12-01T09:00:00.000Z' });
    const detail = await getAgreement(db, 'midshire-direct-care', NOW);
    expect(detail?.history.map((h) => h.agreement.endedAt)).toEqual([undefined, '2026-12-01T09:00:00.000Z']);
    expect(detail?.current.status).toBe('in-force'); // the end is scheduled, not yet reached at NOW
    expect((await listAgreements(db, new Date('2026-12-01T09:00:00Z')))[0]!.status).toBe('ended');

    await expect(endAgreement(db, 'midshire-direct-care', new Date('2027-01-01T00:00:00Z'))).rejects.toBeInstanceOf(AgreementEndedError);
    await expect(addAgreement(db, directCare())).rejects.toThrow(/an ended agreement stays ended: give the new agreement a new id/);
    await expect(endAgreement(db, 'no-such-agreement')).rejects.toBeInstanceOf(AgreementNotFoundError);
    expect((await getAgreement(db, 'midshire-direct-care'))?.history).toHaveLength(2);
  });

  it('loads the newest version of each for the gate, ended ones with endedAt', async () => {
    const all = await loadAgreements(db);
    expect(all.map((a) => `${a.id} v${a.version} ${a.endedAt ?? '-'}`)).toEqual([
      'midshire-direct-care v2 2026-12-01T09:00:00.000Z',
      'northgate-discharge-to-assess-pilot v1 -',
    ]);
    expect(all[1]).toEqual({ ...expiredPilot(), version: 1 });
  });

  it('AgreementCache.forDatabase loads through the client it is given (a transaction on PGlite)', async () => {
    const cache = AgreementCache.forDatabase(db);
    const inTx = await db.transaction(async (tx) => cache.get(tx));
    expect(inTx.map((a) => a.id)).toEqual(['midshire-direct-care', 'northgate-discharge-to-assess-pilot']);
    expect(await cache.get()).toBe(inTx);
  });

  it('numbers concurrent additions of one id without collisions', async () => {
    const base = { ...expiredPilot(), id: 'concurrent-test' };
    const results = await Promise.all([1, 2, 3, 4].map((n) => addAgreement(db, { ...base, title: `title ${n}` })));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('AgreementCache', () => {
  const agreement = (version: number): SharingAgreement => ({ ...structuredClone(DEMO_AGREEMENTS[0]!), version });

  it('loads once, serves from memory, reloads after invalidate() and after maxAgeMs', async () => {
    let loads = 0;
    let time = 0;
    const cache = new AgreementCache(async () => [agreement(++loads)], 1000, () => time);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    expect(Object.isFrozen(a)).toBe(true);
    time = 999;
    expect((await cache.get())[0]!.version).toBe(1);
    cache.invalidate();
    expect((await cache.get())[0]!.version).toBe(2);
    time = 2000;
    expect((await cache.get())[0]!.version).toBe(3);
  });

  it('does not keep a load that started before invalidate()', async () => {
    let release!: () => void;
    let version = 0;
    const cache = new AgreementCache(async () => {
      const v = ++version;
      if (v === 1) await new Promise<void>((r) => (release = r));
      return [agreement(v)];
    });
    const stale = cache.get();
    cache.invalidate();
    const fresh = await cache.get();
    release();
    expect((await stale)[0]!.version).toBe(1);
    expect(fresh[0]!.version).toBe(2);
    expect((await cache.get())[0]!.version).toBe(2);
  });

  it('does not cache a failed load', async () => {
    let fail = true;
    const cache = new AgreementCache(async () => {
      if (fail) throw new Error('database down');
      return [agreement(1)];
    });
    await expect(cache.get()).rejects.toThrow('database down');
    fail = false;
    expect(await cache.get()).toHaveLength(1);
  });
});
