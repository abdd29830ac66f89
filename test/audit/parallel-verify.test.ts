import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { archiveAuditSegment } from '../../src/audit/archive.ts';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import { verifyAuditChainParallel } from '../../src/audit/parallel-verify.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { freshSchemaUrl } from '../cli/run-cli.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleRecord } from './sample-records.ts';

const url = process.env.TEST_DATABASE_URL;

// PostgreSQL only: the parallel verifier gives each worker thread its own connection.
describe.runIf(url)('parallel verify (PostgreSQL, worker threads sharing one snapshot)', () => {
  let db: Database;
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  let seqs: number[];
  const parallel = () => verifyAuditChainParallel(schema.url, { workers: 3, minRange: 1, pageSize: 7 });

  beforeAll(async () => {
    schema = await freshSchemaUrl(url!);
    db = await openDatabase({ databaseUrl: schema.url, dataDir: '', poolSize: 2 });
    seqs = await db.transaction((tx) => appendAuditEvents(tx, Array.from({ length: 60 }, (_, i) => sampleRecord(i))));
  });
  afterAll(async () => {
    await db?.close();
    await schema?.drop();
  });

  async function tamper(sql: string): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
      await tx.query(sql);
      await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
    });
  }

  test('agrees with the single-threaded verifier on a good chain, and after archiving', async () => {
    expect(await parallel()).toEqual(await verifyAuditChain(db));
    expect((await parallel()).checked).toBe(60);
    const dir = mkdtempSync(join(tmpdir(), 'joinedup-pv-'));
    try {
      await archiveAuditSegment(db, { before: new Date(Date.UTC(2026, 0, 1) + 10_000), out: join(dir, 'a.ndjson') });
      const single = await verifyAuditChain(db);
      expect(single).toMatchObject({ ok: true, checked: 50 });
      expect(await parallel()).toEqual(single);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('finds the same first broken link wherever it falls: inside a range or on a range boundary', async () => {
    // Ranges of 50 live rows split three ways start near seqs[10], seqs[26], seqs[43].
    await tamper(`UPDATE audit_event SET content = content || ' ' WHERE seq = ${seqs[50]}`);
    let single = await verifyAuditChain(db);
    expect(single.firstBroken?.seq).toBe(seqs[50]);
    expect(await parallel()).toEqual(single);
    await tamper(`DELETE FROM audit_event WHERE seq = ${seqs[43]}`);
    single = await verifyAuditChain(db);
    expect(single.firstBroken?.seq).toBe(seqs[44]);
    expect(await parallel()).toEqual(single);
    await tamper(`UPDATE audit_event SET hash = 'x' WHERE seq = ${seqs[25]}`);
    single = await verifyAuditChain(db);
    expect(single.firstBroken?.seq).toBe(seqs[25]);
    expect(await parallel()).toEqual(single);
  });
});
