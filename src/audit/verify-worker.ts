import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { chainHash, HEADER_COLUMNS, headerFromValues } from './hash-chain.ts';
import { RECORDED_ISO_SQL } from './row-reader.ts';
import { HASH_MISMATCH, LINK_BROKEN } from './verify.ts';

/**
 * One range of the chain, verified in a worker thread on its own connection
 * (see parallel-verify.ts). Loaded by Node directly, so erasable TypeScript
 * only. Rows come as arrays, the header columns first and in hash order,
 * so the header is one JSON.stringify of a slice.
 */
export interface RangeTask {
  url: string;
  /** pg_export_snapshot() of the coordinating transaction: every worker sees the same chain. */
  snapshot: string;
  after: number;
  through: number;
  pageSize: number;
}

export interface RangeResult {
  count: number;
  firstSeq?: number;
  /** The first row's prev_hash: the coordinator checks it against the previous range's last hash. */
  firstPrev?: string;
  lastSeq?: number;
  lastHash?: string;
  /** The first broken record inside the range, and how many verified before it. */
  broken?: { seq: number; reason: string; checkedBefore: number };
}

const SELECT_COLUMNS = HEADER_COLUMNS.map((c) => (c === 'recorded' ? RECORDED_ISO_SQL : c)).join(', ');
const PAGE_SQL = `SELECT seq, ${SELECT_COLUMNS}, content, prev_hash, hash FROM audit_event
  WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`;
const H = HEADER_COLUMNS.length;

async function verifyRange(task: RangeTask): Promise<RangeResult> {
  pg.types.setTypeParser(20, (v: string) => Number(v)); // this worker's own pg: seq and reviews_seq as numbers, as hashed
  const client = new pg.Client({ connectionString: task.url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (!/^[0-9A-F-]+$/i.test(task.snapshot)) throw new Error('bad snapshot id');
    await client.query(`SET TRANSACTION SNAPSHOT '${task.snapshot}'`);
    const fetch = (after: number) => client.query<unknown[]>({ text: PAGE_SQL, values: [after, task.through, task.pageSize], rowMode: 'array' }).then((r) => r.rows);
    const result: RangeResult = { count: 0 };
    let expected: string | undefined;
    let pending: Promise<unknown[][]> | undefined = fetch(task.after);
    while (pending) {
      const rows: unknown[][] = await pending;
      pending = rows.length === task.pageSize ? fetch(rows[rows.length - 1]![0] as number) : undefined;
      for (const row of rows) {
        const seq = row[0] as number;
        const content = row[H + 1] as string;
        const prev = row[H + 2] as string;
        const hash = row[H + 3] as string;
        if (expected === undefined) {
          result.firstSeq = seq;
          result.firstPrev = prev;
        } else if (prev !== expected) {
          result.broken = { seq, reason: LINK_BROKEN, checkedBefore: result.count };
        }
        if (!result.broken && chainHash(prev, headerFromValues(row.slice(1, H + 1) as (string | number | null)[]), content) !== hash) {
          result.broken = { seq, reason: HASH_MISMATCH, checkedBefore: result.count };
        }
        if (result.broken) {
          await pending?.catch(() => undefined);
          return result;
        }
        expected = hash;
        result.count++;
        result.lastSeq = seq;
        result.lastHash = hash;
      }
    }
    return result;
  } finally {
    await client.query('COMMIT').catch(() => undefined);
    await client.end();
  }
}

if (parentPort) {
  const port = parentPort;
  verifyRange(workerData as RangeTask).then(
    (r) => port.postMessage({ ok: r }),
    (err: unknown) => port.postMessage({ error: (err as Error)?.message ?? String(err) })
  );
}
