import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { SqlClient } from '../db/sql-client.ts';
import { GENESIS_HASH } from './hash-chain.ts';
import { latestAnchor } from './row-reader.ts';
import { LINK_BROKEN } from './verify.ts';
import type { VerifyResult } from './verify.ts';
import type { RangeResult, RangeTask } from './verify-worker.ts';

/**
 * verifyAuditChain for PostgreSQL, on every core: one thread reading and
 * hashing tops out near the speed the driver can parse rows (issue 6 asks
 * for >= 100,000 events/s). The seq range is split between worker threads,
 * each with its own connection; each checks the links and hashes inside its
 * range and reports its first prev_hash and last hash, and the links
 * between ranges are checked here. All workers import one exported snapshot
 * (pg_export_snapshot), so together they see exactly one consistent chain,
 * as the single-threaded verifier's REPEATABLE READ transaction does.
 * PGlite is one in-process connection: it uses verifyAuditChain.
 */
export async function verifyAuditChainParallel(url: string, options: { workers?: number; pageSize?: number; minRange?: number } = {}): Promise<VerifyResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const sql: SqlClient = {
    query: async <R>(text: string, params?: unknown[]) => {
      const r = await client.query(text, params);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    exec: async (text: string) => void (await client.query(text)),
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const anchor = await latestAnchor(sql);
    const after = anchor?.throughSeq ?? 0;
    const b = (await client.query<{ lo: string | null; hi: string | null }>('SELECT min(seq) AS lo, max(seq) AS hi FROM audit_event WHERE seq > $1', [after])).rows[0];
    const head = { seq: anchor?.throughSeq ?? null, hash: anchor?.hash ?? GENESIS_HASH };
    if (!b?.lo || !b.hi) return { ok: true, checked: 0, anchor, head };
    const lo = Number(b.lo) - 1;
    const hi = Number(b.hi);
    // Starting a worker costs ~0.1 s: small chains are not split.
    const k = Math.max(1, Math.min(options.workers ?? availableParallelism(), Math.ceil((hi - lo) / (options.minRange ?? 20_000))));
    const tasks: RangeTask[] = Array.from({ length: k }, (_, i) => ({
      url,
      snapshot,
      after: lo + Math.floor(((hi - lo) * i) / k),
      through: i === k - 1 ? hi : lo + Math.floor(((hi - lo) * (i + 1)) / k),
      pageSize: options.pageSize ?? 10_000,
    }));
    const results = await Promise.all(tasks.map(runWorker));
    return stitch(results, anchor, head);
  } finally {
    await client.query('COMMIT').catch(() => undefined);
    await client.end();
  }
}

/** Joins the ranges in seq order: each must start from the previous range's last hash. */
function stitch(results: RangeResult[], anchor: VerifyResult['anchor'], head: VerifyResult['head']): VerifyResult {
  let expected = head.hash;
  let headSeq = head.seq;
  let checked = 0;
  for (const r of results) {
    if (r.firstSeq === undefined) continue; // an empty range (a gap in seq)
    if (r.firstPrev !== expected) return { ok: false, checked, firstBroken: { seq: r.firstSeq, reason: LINK_BROKEN }, anchor, head: { seq: headSeq, hash: expected } };
    if (r.broken) {
      // head: the last record that verified, inside this range if any did.
      const last = r.lastSeq === undefined ? { seq: headSeq, hash: expected } : { seq: r.lastSeq, hash: r.lastHash! };
      return { ok: false, checked: checked + r.broken.checkedBefore, firstBroken: { seq: r.broken.seq, reason: r.broken.reason }, anchor, head: last };
    }
    checked += r.count;
    expected = r.lastHash!;
    headSeq = r.lastSeq!;
  }
  return { ok: true, checked, anchor, head: { seq: headSeq, hash: expected } };
}

function runWorker(task: RangeTask): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./verify-worker.ts', import.meta.url), { workerData: task });
    worker.once('message', (m: { ok?: RangeResult; error?: string }) => {
      void worker.terminate();
      if (m.ok) resolve(m.ok);
      else reject(new Error(`audit verify worker: ${m.error}`));
    });
    worker.once('error', reject);
  });
}
