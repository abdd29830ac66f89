import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AuditBatcher } from '../../src/audit/audit-batcher.ts';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import type { AuditRecordInput } from '../../src/audit/types.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import type { Database, SqlClient } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { sampleRecord } from './sample-records.ts';

for (const backend of backends()) {
  describe(`concurrent appends on ${backend.name}`, () => {
    let db: Database;
    beforeAll(async () => {
      // 50 transactions queue on 5 connections and one chain lock: on a loaded machine the last may wait
      // longer for a connection than the 5 s that would otherwise read as "database unavailable".
      db = await backend.open({ waitForConnectionMs: 60_000 });
    });
    afterAll(async () => {
      await db?.close();
    });

    test('50 concurrent transactions, each writing data then its audit, leave one unbroken chain', async () => {
      await db.query('CREATE TABLE IF NOT EXISTS scratch (n int)');
      const seqs = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO scratch VALUES ($1)', [i]);
            await new Promise((r) => setTimeout(r, i % 5)); // interleave the transactions
            return appendAuditEvents(tx, Array.from({ length: 1 + (i % 3) }, (_, k) => sampleRecord(i * 10 + k)));
          })
        )
      );
      const all = seqs.flat();
      expect(new Set(all).size).toBe(all.length);
      const v = await verifyAuditChain(db, { pageSize: 16 });
      expect(v).toMatchObject({ ok: true, checked: all.length });
    });

    test('an append at REPEATABLE READ is refused rather than risk forking the chain', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await appendAuditEvents(tx, [sampleRecord(1)]);
        })
      ).rejects.toThrow(/READ COMMITTED/);
    });
  });

  describe(`AuditBatcher (group commit) on ${backend.name}`, () => {
    let db: Database;
    beforeAll(async () => {
      // 50 transactions queue on 5 connections and one chain lock: on a loaded machine the last may wait
      // longer for a connection than the 5 s that would otherwise read as "database unavailable".
      db = await backend.open({ waitForConnectionMs: 60_000 });
    });
    afterAll(async () => {
      await db?.close();
    });

    /**
     * The database, with a record of every batch written (the batcher sends a
     * batch as one audit_append statement, its own implicit transaction, or
     * in an explicit transaction when larger) and a way to make its commit fail:
     * the statement then runs inside a transaction that is rolled back.
     */
    function observed(failCommit = false) {
      const log = { batches: 0, committed: 0 };
      const isAppend = (text: string) => text.includes('audit_append(');
      const wrapped: Database = {
        ...db,
        async query<R>(text: string, params?: unknown[]) {
          if (!isAppend(text)) return db.query<R>(text, params);
          log.batches++;
          const result = failCommit
            ? await db.transaction(async (tx) => {
                await tx.query<R>(text, params);
                throw new Error('commit failed');
              })
            : await db.query<R>(text, params);
          log.committed++;
          return result;
        },
        async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
          log.batches++;
          const result = await db.transaction(async (tx) => {
            const r = await fn(tx);
            if (failCommit) throw new Error('commit failed');
            return r;
          });
          log.committed++;
          return result;
        },
      };
      return { wrapped, log };
    }

    test('settles each caller only after the COMMIT of its batch, and batches concurrent callers', async () => {
      const { wrapped, log } = observed();
      const batcher = new AuditBatcher(wrapped, { maxBatch: 25 });
      const seen: boolean[] = [];
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          batcher.append(sampleRecord(i)).then(async (seq) => {
            seen.push(log.committed > 0);
            // Visible to everyone else (another pool connection on PostgreSQL): committed.
            const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event WHERE seq = $1', [seq]);
            return r.rows[0]?.n;
          })
        )
      );
      await batcher.close();
      expect(results.every((n) => n === 1)).toBe(true);
      expect(seen.every(Boolean)).toBe(true);
      expect(log.batches).toBeLessThanOrEqual(10);
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: 100 });
    });

    test('a failed batch rejects every caller in it and stores none of them', async () => {
      const before = await count(db);
      const { wrapped } = observed(true);
      const batcher = new AuditBatcher(wrapped, { maxBatch: 50 });
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => batcher.append(sampleRecord(i))));
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      expect(await count(db)).toBe(before);
      await batcher.close();
      // The same through the explicit transaction a batch larger than one statement takes.
      const { wrapped: big } = observed(true);
      const large = new AuditBatcher(big, { maxBatch: 1_500 });
      const many = await Promise.allSettled(Array.from({ length: 1_200 }, (_, i) => large.append(sampleRecord(i))));
      expect(many.every((o) => o.status === 'rejected')).toBe(true);
      expect(await count(db)).toBe(before);
      await large.close();
    });

    test('one bad record fails its whole batch (nothing half-written); the next batch is unaffected', async () => {
      const before = await count(db);
      const batcher = new AuditBatcher(db, { maxBatch: 50 });
      const bad = { ...sampleRecord(1), outcome: 'bogus' } as unknown as AuditRecordInput;
      const outcomes = await Promise.allSettled([batcher.append(sampleRecord(0)), batcher.append(bad), batcher.append(sampleRecord(2))]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(await count(db)).toBe(before);
      await expect(batcher.append(sampleRecord(3))).resolves.toBeGreaterThan(0);
      await batcher.close();
      await expect(batcher.append(sampleRecord(4))).rejects.toThrow(/closed/);
      expect((await verifyAuditChain(db)).ok).toBe(true);
    });
  });
}

async function count(db: Database): Promise<number> {
  return Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event')).rows[0]?.n);
}
