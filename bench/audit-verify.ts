/**
 * npm run bench:audit — issue 6's "audit verify events/s" (goal >= 100,000/s),
 * and whether group commit (AuditBatcher) matters for audited reads.
 *
 * 1. Opens a fresh schema on BENCH_DATABASE_URL, DATABASE_URL or
 *    TEST_DATABASE_URL (PostgreSQL), else an in-memory PGlite.
 * 2. Appends BENCH_AUDIT_EVENTS (200,000) realistic BALP read/search events
 *    with appendAuditEvents, 5,000 per transaction (one multi-row INSERT of
 *    unnested arrays each), then ANALYZE.
 * 3. Three times each, alternating: verifyAuditChainInDatabase (what
 *    `audit verify` runs: PostgreSQL recomputes every hash itself, two seq
 *    ranges on two connections there, one on PGlite), verifyAuditChain
 *    (pages of 10,000 by keyset, recomputing every hash in JavaScript, one
 *    thread), on PostgreSQL also verifyAuditChainParallel (worker threads,
 *    what `audit verify --independent` runs there), and the baseline: the
 *    same paged SELECT of the same rows, streamed without hashing. Prints
 *    the medians of events/s and the ratios to the baseline, with the core
 *    count and load average (the figures move with whatever else the
 *    machine runs).
 * 4. Group commit: BENCH_AUDIT_CONCURRENCY (64) concurrent "reads" each
 *    writing BENCH_AUDIT_READS / concurrency audit records, first one
 *    transaction per record, then through AuditBatcher; records/s of each.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { AuditBatcher } from '../src/audit/audit-batcher.ts';
import { appendAuditEvents } from '../src/audit/audit-writer.ts';
import { buildExchangeAuditRecord } from '../src/audit/balp.ts';
import { canonicalJson } from '../src/audit/canonical.ts';
import { storedEventText } from '../src/audit/event-text.ts';
import { verifyAuditChainInDatabase } from '../src/audit/in-database-verify.ts';
import { readChain } from '../src/audit/row-reader.ts';
import type { AuditRecordInput } from '../src/audit/types.ts';
import { verifyAuditChainParallel } from '../src/audit/parallel-verify.ts';
import { verifyAuditChain } from '../src/audit/verify.ts';
import { migrate } from '../src/db/migrations.ts';
import { openPglite } from '../src/db/pglite.ts';
import { openPostgres } from '../src/db/postgres.ts';
import type { Database } from '../src/db/sql-client.ts';

const N = Number(process.env.BENCH_AUDIT_EVENTS ?? 200_000);
const CONCURRENCY = Number(process.env.BENCH_AUDIT_CONCURRENCY ?? 64);
const READS = Number(process.env.BENCH_AUDIT_READS ?? 6_400);
const PAGE = 10_000;

function record(i: number): AuditRecordInput {
  const search = i % 4 === 0;
  return buildExchangeAuditRecord({
    recorded: new Date(Date.UTC(2025, 0, 1) + i * 150),
    requestId: `req-${i}`,
    actor: {
      clientId: `client-${i % 40}`,
      organisation: { ods: `A8${String(i % 900).padStart(4, '0')}`, name: 'x', kind: 'gp-practice' },
      user: { id: `user-${i % 3000}`, role: 'R8000' },
      purposeOfUse: 'TREAT',
      scopes: [],
      tokenId: `jti-${Math.floor(i / 20)}`,
    },
    interaction: search ? 'search-type' : 'read',
    patientId: `${(i * 7919) % 50_000}-4d3c-8b2a-${String(i % 1000).padStart(12, '0')}`,
    resources: search ? [`CarePlan/cp-${i}`, `CarePlan/cp-${i + 1}`, `Task/t-${i}`] : [`CarePlan/cp-${i}`],
    query: search ? `patient=Patient/p${i % 50_000}&status=active&_count=20` : undefined,
    outcome: i % 17 === 0 ? 'deny' : 'permit',
    decision: {
      outcome: 'permit',
      rules: [{ rule: 'R3-implied-consent-direct-care', effect: 'permit', reason: 'direct care', sources: [] }],
      lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', commonLaw: 'implied-consent' },
      reliedOn: { agreement: { id: 'isa-north', version: 3 } },
      obligations: [],
      explanation: 'Permitted for direct care under the North Yorkshire ISA.',
    },
  });
}

async function openBenchDatabase(): Promise<{ db: Database; url?: string; label: string; drop(): Promise<void> }> {
  const url = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!url) {
    const db = await openPglite('memory://');
    await migrate(db);
    return { db, label: 'PGlite (in memory)', drop: async () => undefined };
  }
  const schema = `bench_audit_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await admin(`CREATE SCHEMA ${schema}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema},public`);
  const db = await openPostgres(u.toString(), 10);
  await migrate(db);
  return { db, url: u.toString(), label: `PostgreSQL (${u.host})`, drop: () => admin(`DROP SCHEMA ${schema} CASCADE`) };
}

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** The baseline: the same pages of the same rows, read and dropped. */
async function streamOnly(db: Database): Promise<number> {
  let n = 0;
  await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for await (const page of readChain(tx, 0, Number.MAX_SAFE_INTEGER, PAGE)) n += page.length;
  });
  return n;
}

async function groupCommit(db: Database): Promise<{ perTx: number; batched: number; batches: number }> {
  const each = Math.ceil(READS / CONCURRENCY);
  const workers = (write: (r: AuditRecordInput) => Promise<unknown>) =>
    Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let k = 0; k < each; k++) await write(record(N + w * each + k));
    }));
  const [, perTxMs] = await timed(() => workers((r) => db.transaction((tx) => appendAuditEvents(tx, [r]))));
  let batches = 0;
  // A batch is one audit_append statement (its own implicit transaction), or an explicit transaction when larger.
  const counting: Database = {
    ...db,
    query: (text, params) => (text.includes('audit_append(') && batches++, db.query(text, params)),
    transaction: (fn) => (batches++, db.transaction(fn)),
  };
  const batcher = new AuditBatcher(counting);
  const [, batchedMs] = await timed(() => workers((r) => batcher.append(r)));
  await batcher.close();
  return { perTx: rate(each * CONCURRENCY, perTxMs), batched: rate(each * CONCURRENCY, batchedMs), batches };
}

async function main(): Promise<void> {
  const { db, url, label, drop } = await openBenchDatabase();
  try {
    process.stdout.write(`audit bench on ${label}: ${N} events\n`);
    const sample = storedEventText(record(1)).length;
    const rendered = canonicalJson(record(1).event).length;
    const [, loadMs] = await timed(async () => {
      for (let start = 0; start < N; start += 5000) {
        const batch = Array.from({ length: Math.min(5000, N - start) }, (_, k) => record(start + k));
        await db.transaction((tx) => appendAuditEvents(tx, batch));
      }
    });
    await db.analyze();
    process.stdout.write(`loaded at ${rate(N, loadMs)} events/s (stored ~${sample} bytes: the exchange's facts, its AuditEvent ~${rendered} bytes rendered)\n`);
    await streamOnly(db); // warm the cache (and set hint bits) before timing either
    const inDb: number[] = [];
    const verify: number[] = [];
    const parallel: number[] = [];
    const baseline: number[] = [];
    for (let run = 0; run < 3; run++) {
      const [d, dMs] = await timed(() => verifyAuditChainInDatabase(db));
      if (!d.ok || d.checked !== N) throw new Error(`in-database verify failed: ${JSON.stringify(d)}`);
      inDb.push(rate(N, dMs));
      const [v, vMs] = await timed(() => verifyAuditChain(db, { pageSize: PAGE }));
      if (!v.ok || v.checked !== N) throw new Error(`verify failed: ${JSON.stringify(v)}`);
      verify.push(rate(N, vMs));
      if (url) {
        const [p, pMs] = await timed(() => verifyAuditChainParallel(url, { pageSize: PAGE }));
        if (!p.ok || p.checked !== N || p.head.hash !== v.head.hash) throw new Error(`parallel verify failed: ${JSON.stringify(p)}`);
        if (d.head.hash !== v.head.hash) throw new Error(`in-database verify ended at ${d.head.hash}, not ${v.head.hash}`);
        parallel.push(rate(N, pMs));
      }
      const [n, bMs] = await timed(() => streamOnly(db));
      if (n !== N) throw new Error(`baseline read ${n} rows`);
      baseline.push(rate(N, bMs));
      const p = url ? `, parallel verify ${parallel[run]} events/s` : '';
      process.stdout.write(`run ${run + 1}: in-database verify ${inDb[run]} events/s, verify ${verify[run]} events/s${p}, baseline ${baseline[run]} events/s\n`);
    }
    const v = median(verify);
    const b = median(baseline);
    const pv = url ? median(parallel) : undefined;
    const d = median(inDb);
    process.stdout.write(`in-database verify (what \`audit verify\` runs) ${d} events/s (in-database/baseline ${(d / b).toFixed(2)})\n`);
    process.stdout.write(`medians: verify ${v} events/s (verify/baseline ${(v / b).toFixed(2)}); baseline (same paged SELECT, no hashing) ${b} events/s\n`);
    if (pv !== undefined) process.stdout.write(`parallel verify (what \`audit verify --independent\` runs on PostgreSQL) ${pv} events/s (parallel/baseline ${(pv / b).toFixed(2)})\n`);
    process.stdout.write(`goal >= 100000 events/s for \`audit verify\`: ${d >= 100_000 ? 'met' : 'NOT met'} (${d}); machine: ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)}\n`);
    const gc = await groupCommit(db);
    process.stdout.write(
      `audited reads, ${CONCURRENCY} concurrent: one transaction each ${gc.perTx} records/s; AuditBatcher ${gc.batched} records/s ` +
        `(${gc.batches} commits, ${(gc.batched / gc.perTx).toFixed(2)}x)\n`
    );
    process.stdout.write(`${JSON.stringify({ bench: 'audit', backend: label, events: N, inDatabaseVerifyPerSec: d, verifyPerSec: v, parallelVerifyPerSec: pv, baselinePerSec: b, ratio: +(v / b).toFixed(3), groupCommit: gc })}\n`);
  } finally {
    await db.close();
    await drop();
  }
}

await main();
