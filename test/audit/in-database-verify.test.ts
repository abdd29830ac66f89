import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { archiveAuditSegment } from '../../src/audit/archive.ts';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import { verifyAuditChainInDatabase } from '../../src/audit/in-database-verify.ts';
import { HASH_MISMATCH, LINK_BROKEN, verifyAuditChain } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { sampleRecord } from './sample-records.ts';

// Every character JSON.stringify escapes, and some it does not, in the
// searchable columns the SQL header must rebuild byte for byte.
const AWKWARD = 'q"uote \\back\\slash \n\r\t\b\f \u0001\u001f\u007f é ü 中文 😀 \u2028 </script>';

for (const backend of backends()) {
  describe(`in-database verify on ${backend.name}`, () => {
    let db: Database;
    let seqs: number[];
    const inDb = (ranges: number) => verifyAuditChainInDatabase(db, { ranges });

    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => {
      await db?.close();
    });

    async function tamper(sql: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query(sql);
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
    }

    test('recomputes the same hashes as chainHash, awkward characters, nulls and reviews_seq included', async () => {
      const odd = { ...sampleRecord(0), patientId: AWKWARD, userId: `u-${AWKWARD}`, purpose: undefined, orgOds: undefined };
      const review = { ...sampleRecord(1), subtype: 'review', reviewState: 'reviewed' as const, reviewsSeq: 1 };
      const big = sampleRecord(2, { query: `name=${'x'.repeat(20_000)}${AWKWARD}` });
      seqs = await db.transaction((tx) => appendAuditEvents(tx, [odd, review, big]));
      seqs.push(...(await db.transaction((tx) => appendAuditEvents(tx, Array.from({ length: 27 }, (_, i) => sampleRecord(i + 3))))));
      const js = await verifyAuditChain(db);
      expect(js).toMatchObject({ ok: true, checked: 30 });
      expect(await inDb(1)).toEqual(js);
      expect(await inDb(3)).toEqual(js);
      expect(await inDb(30)).toEqual(js);
    });

    test('finds the same first broken link as the JavaScript walk, inside a range and on a range boundary', async () => {
      // 30 rows in 3 ranges: seqs[0..9], seqs[10..19], seqs[20..29].
      await tamper(`UPDATE audit_event SET content = content || ' ' WHERE seq = ${seqs[25]}`);
      let js = await verifyAuditChain(db);
      expect(js).toMatchObject({ ok: false, checked: 25, firstBroken: { seq: seqs[25], reason: HASH_MISMATCH } });
      expect(await inDb(3)).toEqual(js);
      // The last row of the first range removed: the first row of the next breaks the link across the boundary.
      await tamper(`DELETE FROM audit_event WHERE seq = ${seqs[9]}`);
      js = await verifyAuditChain(db);
      expect(js.firstBroken).toEqual({ seq: seqs[10], reason: LINK_BROKEN });
      expect(await inDb(3)).toEqual(js);
      expect(await inDb(1)).toEqual(js);
      // A stored hash replaced: that row breaks first, before the link after it.
      await tamper(`UPDATE audit_event SET hash = 'x' WHERE seq = ${seqs[4]}`);
      js = await verifyAuditChain(db);
      expect(js.firstBroken).toEqual({ seq: seqs[4], reason: HASH_MISMATCH });
      expect(await inDb(3)).toEqual(js);
      // The awkward column itself rewritten.
      await tamper(`UPDATE audit_event SET patient_id = patient_id || 'x' WHERE seq = ${seqs[0]}`);
      js = await verifyAuditChain(db);
      expect(js).toMatchObject({ ok: false, checked: 0, firstBroken: { seq: seqs[0], reason: HASH_MISMATCH }, head: { seq: null } });
      expect(await inDb(3)).toEqual(js);
    });
  });

  describe(`in-database verify after archiving, on ${backend.name}`, () => {
    test('starts from the anchor, as the JavaScript walk does', async () => {
      const db = await backend.open();
      const dir = mkdtempSync(join(tmpdir(), 'joinedup-idv-'));
      try {
        await db.transaction((tx) => appendAuditEvents(tx, Array.from({ length: 12 }, (_, i) => sampleRecord(i))));
        await archiveAuditSegment(db, { before: new Date(Date.UTC(2026, 0, 1) + 5_000), out: join(dir, 'a.ndjson') });
        const js = await verifyAuditChain(db);
        expect(js).toMatchObject({ ok: true, checked: 7, anchor: { throughSeq: expect.any(Number) } });
        expect(await verifyAuditChainInDatabase(db, { ranges: 2 })).toEqual(js);
        // The first row after the anchor forged: its link to the anchor is what breaks.
        await db.transaction(async (tx) => {
          await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
          await tx.query(`UPDATE audit_event SET prev_hash = repeat('1', 64) WHERE seq = (SELECT min(seq) FROM audit_event)`);
          await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
        });
        const broken = await verifyAuditChain(db);
        expect(broken.firstBroken?.reason).toBe(LINK_BROKEN);
        expect(await verifyAuditChainInDatabase(db, { ranges: 2 })).toEqual(broken);
      } finally {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
