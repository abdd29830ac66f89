import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { archiveAuditSegment } from '../../src/audit/archive.ts';
import { verifyArchiveFile } from '../../src/audit/archive-file.ts';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { buildOverrideReviewRecord } from '../../src/audit/review.ts';
import { sampleActor, sampleRecord } from './sample-records.ts';

const DAY = 86_400_000;
const at = (day: number) => new Date(Date.UTC(2026, 0, 1) + day * DAY);

for (const backend of backends()) {
  describe(`archiving on ${backend.name}`, () => {
    let db: Database;
    let dir: string;
    beforeAll(async () => {
      db = await backend.open();
      dir = mkdtempSync(join(tmpdir(), 'joinedup-audit-'));
      // Days 0..9, two records a day; day 3 holds a break-glass still awaiting review.
      for (let day = 0; day < 10; day++) {
        const records = [0, 1].map((k) => ({ ...sampleRecord(day * 2 + k), recorded: at(day) }));
        if (day === 3) Object.assign(records[1]!, { override: 'break-glass', reviewState: 'pending' });
        await db.transaction((tx) => appendAuditEvents(tx, records));
      }
    });
    afterAll(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('exports the old prefix, deletes it, and the chain still verifies from the anchor', async () => {
      const out = join(dir, 'a1.ndjson');
      const r = await archiveAuditSegment(db, { before: at(2), out, pageSize: 3 });
      expect(r.archived).toBe(4);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(5); // header + 4 records
      expect(await verifyArchiveFile(out)).toMatchObject({ ok: true, checked: 4, head: { hash: r.hash } });
      const v = await verifyAuditChain(db);
      expect(v).toMatchObject({ ok: true, checked: 16, anchor: { throughSeq: r.throughSeq, hash: r.hash } });
    });

    test('an unreviewed override stops the segment; a review lets it go', async () => {
      const r = await archiveAuditSegment(db, { before: at(9), out: join(dir, 'a2.ndjson') });
      expect(r.archived).toBe(3); // day 2 and the first of day 3; the pending break-glass stays
      const pending = await db.query<{ seq: number }>("SELECT seq FROM audit_event WHERE review_state = 'pending'");
      const seq = Number(pending.rows[0]?.seq);
      expect(Number((await db.query<{ m: number }>('SELECT min(seq) AS m FROM audit_event')).rows[0]?.m)).toBe(seq);
      // The review is a new record pointing at the override, never an UPDATE.
      const review = buildOverrideReviewRecord({ recorded: at(12), reviewedSeq: seq, reviewer: sampleActor({ clientId: 'ig-portal' }), outcome: 'appropriate', note: 'justified' });
      await db.transaction((tx) => appendAuditEvents(tx, [review]));
      const again = await archiveAuditSegment(db, { before: at(9), out: join(dir, 'a3.ndjson') });
      expect(again.archived).toBe(11); // the reviewed override and the rest of days 3-8
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: 3 });
      expect(await verifyArchiveFile(join(dir, 'a3.ndjson'))).toMatchObject({ ok: true, checked: 11 });
    });

    test('appends after archiving continue the chain; nothing to archive is a no-op; an existing file is never overwritten', async () => {
      await db.transaction((tx) => appendAuditEvents(tx, [{ ...sampleRecord(100), recorded: at(20) }]));
      expect(await archiveAuditSegment(db, { before: at(1), out: join(dir, 'none.ndjson') })).toEqual({ archived: 0 });
      await expect(archiveAuditSegment(db, { before: at(10), out: join(dir, 'a1.ndjson') })).rejects.toThrow(/EEXIST/);
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: 4 });
      const anchors = await db.query('SELECT * FROM audit_chain_anchor');
      expect(anchors.rows).toHaveLength(3);
    });

    test('everything archived: the next append chains from the anchor', async () => {
      const r = await archiveAuditSegment(db, { before: at(30), out: join(dir, 'all.ndjson') });
      expect(r.archived).toBe(4);
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: 0, head: { hash: r.hash } });
      await db.transaction((tx) => appendAuditEvents(tx, [{ ...sampleRecord(101), recorded: at(31) }]));
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, checked: 1 });
    });

    test('a broken chain is not archived', async () => {
      await db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query("UPDATE audit_event SET user_id = 'x'");
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
      const out = join(dir, 'broken.ndjson');
      await expect(archiveAuditSegment(db, { before: at(40), out })).rejects.toThrow(/chain is broken at seq/);
      expect(() => readFileSync(out)).toThrow(); // the partial file is removed
    });
  });
}
