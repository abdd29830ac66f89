import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendAuditEvents, columnsOf } from '../../src/audit/audit-writer.ts';
import { storedEventText } from '../../src/audit/event-text.ts';
import { chainHash, GENESIS_HASH, hashHeader } from '../../src/audit/hash-chain.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { sampleRecord } from './sample-records.ts';

/**
 * appendAuditEvents hashes in the database (audit_append, migration 9): each
 * stored hash must be byte for byte what chainHash computes in JS, which is
 * what `audit verify` recomputes, including for text outside ASCII.
 */
for (const backend of backends()) {
  describe(`audit_append on ${backend.name}`, () => {
    let db: Database;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => {
      await db?.close();
    });

    test('stores the hashes chainHash computes, for non-ASCII content and columns too', async () => {
      const odd = ['Zoë Ñúñez', '王小明', 'emoji 😀 and \u2028 separator', 'quote " backslash \\ tab \t', 'x'.repeat(20_000)];
      const records = odd.map((text, i) => {
        const r = sampleRecord(i, { patientId: `pat-${text.slice(0, 12)}` });
        return { ...r, userId: text.slice(0, 40), event: { ...r.event, outcomeDesc: text } };
      });
      const seqs = await db.transaction((tx) => appendAuditEvents(tx, records));
      expect(seqs).toHaveLength(records.length);
      await db.transaction((tx) => appendAuditEvents(tx, [sampleRecord(9)]));

      const all = [...records, sampleRecord(9)];
      const rows = await db.query<{ prev_hash: string; hash: string }>('SELECT prev_hash, hash FROM audit_event ORDER BY seq');
      let prev = GENESIS_HASH;
      rows.rows.forEach((row, i) => {
        const expected = chainHash(prev, hashHeader(columnsOf(all[i]!)), storedEventText(all[i]!));
        expect(row.prev_hash).toBe(prev);
        expect(row.hash).toBe(expected);
        prev = expected;
      });
      expect(rows.rows).toHaveLength(records.length + 1);
      expect(await verifyAuditChain(db, { pageSize: 4 })).toMatchObject({ ok: true, checked: records.length + 1 });
    });

    test('a batch larger than one call takes (1,000) chains on across its calls, in input order', async () => {
      const before = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event')).rows[0]?.n);
      const records = Array.from({ length: 2_345 }, (_, i) => sampleRecord(100 + i, { requestId: `bulk-${i}` }));
      const seqs = await db.transaction((tx) => appendAuditEvents(tx, records));
      expect(seqs).toHaveLength(records.length);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const stored = await db.query<{ request: string }>(
        `SELECT content::json ->> 'request' AS request FROM audit_event WHERE seq >= $1 ORDER BY seq`,
        [seqs[0]]
      );
      expect(stored.rows.map((r) => r.request)).toEqual(records.map((_, i) => `bulk-${i}`));
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: before + records.length });
    });

    test('an empty batch writes nothing, and mismatched arrays are refused', async () => {
      await expect(db.transaction((tx) => appendAuditEvents(tx, []))).resolves.toEqual([]);
      await expect(db.query("SELECT audit_append('{}','{}','{}','{}','{}','{}','{}','{}','{}','{}','{}','{}','{}', ARRAY['[]'], '{}')")).rejects.toThrow(
        /must match/
      );
    });
  });
}
