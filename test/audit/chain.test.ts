import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import { GENESIS_HASH } from '../../src/audit/hash-chain.ts';
import { verifyAuditChainInDatabase } from '../../src/audit/in-database-verify.ts';
import { HASH_MISMATCH, LINK_BROKEN, verifyAuditChain } from '../../src/audit/verify.ts';
import type { VerifyResult } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { sampleRecord } from './sample-records.ts';

for (const backend of backends()) {
  describe(`audit chain on ${backend.name}`, () => {
    let db: Database;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => {
      await db?.close();
    });

    test('an empty chain verifies, with the genesis hash as head', async () => {
      expect(await verifyBoth(db)).toMatchObject({ ok: true, checked: 0, head: { seq: null, hash: GENESIS_HASH } });
    });

    test('appends inside a transaction chain up and verify, across page boundaries', async () => {
      const seqs = await db.transaction((tx) => appendAuditEvents(tx, [0, 1, 2, 3, 4].map((i) => sampleRecord(i))));
      expect(seqs).toHaveLength(5);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      await db.transaction((tx) => appendAuditEvents(tx, [sampleRecord(5), sampleRecord(6)]));
      const result = await verifyBoth(db, { pageSize: 3 });
      expect(result).toMatchObject({ ok: true, checked: 7 });
      const first = await db.query<{ prev_hash: string; hash: string }>('SELECT prev_hash, hash FROM audit_event ORDER BY seq LIMIT 1');
      expect(first.rows[0]?.prev_hash).toBe(GENESIS_HASH);
      const last = await db.query<{ hash: string }>('SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1');
      expect(result.head.hash).toBe(last.rows[0]?.hash);
    });

    test('a rolled-back transaction leaves no audit record', async () => {
      const before = await count(db);
      await expect(
        db.transaction(async (tx) => {
          await appendAuditEvents(tx, [sampleRecord(50)]);
          throw new Error('the data write failed');
        })
      ).rejects.toThrow('the data write failed');
      expect(await count(db)).toBe(before);
      expect((await verifyAuditChain(db)).ok).toBe(true);
    });

    test('UPDATE, DELETE and TRUNCATE are refused by the trigger', async () => {
      await expect(db.query("UPDATE audit_event SET outcome = 'deny' WHERE seq = (SELECT min(seq) FROM audit_event)")).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM audit_event')).rejects.toThrow(/append-only/);
      await expect(db.query('TRUNCATE audit_event')).rejects.toThrow(/append-only/);
      // The archive switch alone is not enough: only rows an anchor already covers may go.
      await expect(
        db.transaction(async (tx) => {
          await tx.query("SET LOCAL joinedup.audit_archive = 'on'");
          await tx.query('DELETE FROM audit_event');
        })
      ).rejects.toThrow(/append-only/);
      await expect(db.query("INSERT INTO audit_chain_anchor (through_seq, hash, archived_count, before) VALUES (0, 'x', 0, now())")).resolves.toBeDefined();
      await expect(db.query('DELETE FROM audit_chain_anchor')).rejects.toThrow(/append-only/);
      await expect(db.query("UPDATE audit_chain_anchor SET hash = 'y'")).rejects.toThrow(/append-only/);
      expect((await verifyBoth(db)).ok).toBe(false); // that stray anchor does not match genesis
    });
  });

  describe(`tampering on ${backend.name}`, () => {
    let db: Database;
    let seqs: number[];
    beforeAll(async () => {
      db = await backend.open();
      seqs = await db.transaction((tx) => appendAuditEvents(tx, Array.from({ length: 30 }, (_, i) => sampleRecord(i))));
    });
    afterAll(async () => {
      await db?.close();
    });

    // As the table owner (or a superuser) could: switch the trigger off, change a row, switch it back.
    async function tamper(sql: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query(sql);
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
    }

    test('content altered in SQL: that seq is the first broken link', async () => {
      const target = seqs[17]!;
      await tamper(`UPDATE audit_event SET content = replace(content, 'pat-17', 'pat-99') WHERE seq = ${target}`);
      const r = await verifyBoth(db, { pageSize: 7 });
      expect(r).toMatchObject({ ok: false, checked: 17, firstBroken: { seq: target, reason: HASH_MISMATCH } });
    });

    test('a searchable column altered is detected too', async () => {
      await tamper(`UPDATE audit_event SET patient_id = 'someone-else' WHERE seq = ${seqs[4]}`);
      expect((await verifyBoth(db)).firstBroken).toEqual({ seq: seqs[4], reason: HASH_MISMATCH });
    });

    test('a row deleted: the next one breaks the link', async () => {
      await tamper(`DELETE FROM audit_event WHERE seq = ${seqs[2]}`);
      expect((await verifyBoth(db)).firstBroken).toEqual({ seq: seqs[3], reason: LINK_BROKEN });
    });
  });
}

/**
 * The JavaScript verifier's result, after checking the in-database one
 * (whole chain, and split into ranges) finds exactly the same.
 */
async function verifyBoth(db: Database, options: { pageSize?: number } = {}): Promise<VerifyResult> {
  const js = await verifyAuditChain(db, options);
  expect(await verifyAuditChainInDatabase(db, { ranges: 1 })).toEqual(js);
  expect(await verifyAuditChainInDatabase(db, { ranges: 3 })).toEqual(js);
  return js;
}

async function count(db: Database): Promise<number> {
  return Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event')).rows[0]?.n);
}
