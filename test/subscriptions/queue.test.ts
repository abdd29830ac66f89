import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { claimDue, enqueue, finish, release, retryLater } from '../../src/subscriptions/store.ts';
import { backends } from '../support/backends.ts';

describe.each(backends())('the subscription delivery queue ($name)', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  test('claims count an attempt and lease the row; release hands it back uncounted; retry waits', async () => {
    await enqueue(db, [
      { subscriptionId: 's1', resourceType: 'Task', resourceId: 't1' },
      { subscriptionId: 's1', resourceType: 'Task', resourceId: 't2' },
    ]);
    const first = await claimDue(db, 10, 60_000);
    expect(first.map((r) => [r.resource_id, r.attempts])).toEqual([
      ['t1', 1],
      ['t2', 1],
    ]);
    // Leased: nobody else gets them.
    expect(await claimDue(db, 10, 60_000)).toEqual([]);
    await release(db, [first[1]!.id]);
    const again = await claimDue(db, 10, 60_000);
    expect(again.map((r) => [r.resource_id, r.attempts])).toEqual([['t2', 1]]);
    await retryLater(db, again[0]!.id, 60_000, 'HTTP 500');
    expect(await claimDue(db, 10, 60_000)).toEqual([]);
    await retryLater(db, again[0]!.id, 0, 'HTTP 500');
    expect((await claimDue(db, 10, 60_000)).map((r) => r.attempts)).toEqual([2]);
    await finish(db, first[0]!.id);
    await finish(db, again[0]!.id);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_delivery')).rows[0]?.n).toBe(0);
  });
});
