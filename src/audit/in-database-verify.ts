import type { Database, SqlClient } from '../db/sql-client.ts';
import { GENESIS_HASH, HEADER_COLUMNS } from './hash-chain.ts';
import { latestAnchor, RECORDED_ISO_SQL } from './row-reader.ts';
import { HASH_MISMATCH, LINK_BROKEN } from './verify.ts';
import type { VerifyResult } from './verify.ts';

/**
 * verifyAuditChain done by PostgreSQL itself: every hash is recomputed from
 * the stored content and columns with the built-in sha256(), and every link
 * checked with lag(hash), so no row crosses the wire. Reading 200,000 rows
 * of ~3.5 kB through the driver costs more than the goal allows (issue 6,
 * docs/performance.md); here only the first broken seq comes back.
 *
 * What it trusts, and why it is still a real check: ADR 0010, "Verifying
 * inside the database". The JavaScript verifier (verifyAuditChain, `audit
 * verify --independent`) stays as the check that does not trust the
 * database's own sha256 and string functions.
 *
 * The header is rebuilt in SQL byte for byte as hashHeader's
 * JSON.stringify: to_json escapes exactly the characters JSON.stringify
 * does (", \, control characters as \b \f \n \r \t or \u00xx lower-case)
 * and writes a bigint as its digits; recorded is the same ISO text the
 * readers use. test/audit/in-database-verify.test.ts checks this on awkward
 * values on both backends.
 */
const HEADER_SQL = `'[' || ${HEADER_COLUMNS.map((c) => `coalesce(to_json(${c === 'recorded' ? RECORDED_ISO_SQL : c})::text, 'null')`).join(` || ',' || `)} || ']'`;

/** The hash chainHash computes, as SQL over one audit_event row. */
export const CHAIN_HASH_SQL = `encode(sha256(convert_to(prev_hash || ${HEADER_SQL} || content, 'UTF8')), 'hex')`;

/**
 * The first broken record with after < seq <= through, if any. The first
 * row's link is checked against the stored hash of the row before the range
 * (or the anchor's hash when there is none after the anchor), so ranges can
 * be checked separately, and in parallel, and together they check every
 * link the sequential walk does. A row whose link and hash are both wrong
 * is reported as a broken link, as verifyAuditChain does. The window's
 * output is already in seq order, so LIMIT 1 stops at the first break.
 */
const RANGE_SQL = `WITH r AS (
  SELECT seq, prev_hash, hash,
         lag(hash, 1, coalesce(
           (SELECT hash FROM audit_event WHERE seq <= $1 AND seq > $3 ORDER BY seq DESC LIMIT 1), $4::text
         )) OVER (ORDER BY seq) AS expected_prev,
         ${CHAIN_HASH_SQL} AS computed
    FROM audit_event WHERE seq > $1 AND seq <= $2
)
SELECT seq, prev_hash IS DISTINCT FROM expected_prev AS link_broken
  FROM r WHERE prev_hash IS DISTINCT FROM expected_prev OR computed IS DISTINCT FROM hash
 ORDER BY seq LIMIT 1`;

interface Broken {
  seq: number;
  reason: string;
}

async function firstBrokenIn(sql: SqlClient, after: number, through: number, anchorSeq: number, anchorHash: string): Promise<Broken | undefined> {
  const r = await sql.query<{ seq: number | string; link_broken: boolean }>(RANGE_SQL, [after, through, anchorSeq, anchorHash]);
  const row = r.rows[0];
  return row ? { seq: Number(row.seq), reason: row.link_broken ? LINK_BROKEN : HASH_MISMATCH } : undefined;
}

/**
 * Verifies the chain from the archive anchor (or genesis), split into
 * `ranges` seq ranges checked at once on as many connections (PostgreSQL:
 * default 2, the helpers import the coordinator's exported snapshot, so all
 * see exactly one chain; PGlite: one range on its one connection). Same
 * result as verifyAuditChain, field for field. On PostgreSQL it holds
 * `ranges` pool connections at once: give a pool of at least that many
 * (the CLI's has 2), or ranges: 1.
 */
export async function verifyAuditChainInDatabase(db: Database, options: { ranges?: number } = {}): Promise<VerifyResult> {
  const ranges = db.kind === 'postgres' ? Math.max(1, options.ranges ?? 2) : 1;
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const anchor = await latestAnchor(tx);
    const anchorSeq = anchor?.throughSeq ?? 0;
    const anchorHash = anchor?.hash ?? GENESIS_HASH;
    const b = (await tx.query<{ lo: number | string | null; hi: number | string | null }>('SELECT min(seq) AS lo, max(seq) AS hi FROM audit_event WHERE seq > $1', [anchorSeq])).rows[0];
    if (b?.lo == null || b.hi == null) return { ok: true, checked: 0, anchor, head: { seq: anchor?.throughSeq ?? null, hash: anchorHash } };
    const lo = Number(b.lo) - 1;
    const hi = Number(b.hi);
    const k = Math.min(ranges, hi - lo);
    const bounds = Array.from({ length: k + 1 }, (_, i) => (i === k ? hi : lo + Math.floor(((hi - lo) * i) / k)));
    const check = (sql: SqlClient, i: number) => firstBrokenIn(sql, bounds[i]!, bounds[i + 1]!, anchorSeq, anchorHash);
    let found: (Broken | undefined)[];
    if (k === 1) {
      found = [await check(tx, 0)];
    } else {
      const snapshot = (await tx.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error('unexpected snapshot id');
      const helper = (i: number) =>
        db.transaction(async (h) => {
          await h.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
          await h.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
          return check(h, i);
        });
      found = await Promise.all([check(tx, 0), ...Array.from({ length: k - 1 }, (_, i) => helper(i + 1))]);
    }
    // Ranges are in seq order: the first one with a break has the chain's first break.
    const firstBroken = found.find((f) => f !== undefined);
    const end = firstBroken ? firstBroken.seq : hi + 1;
    const h = (
      await tx.query<{ n: number | string; seq: number | string | null; hash: string | null }>(
        `SELECT (SELECT count(*) FROM audit_event WHERE seq > $1 AND seq < $2) AS n, last.seq, last.hash
           FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, hash FROM audit_event WHERE seq > $1 AND seq < $2 ORDER BY seq DESC LIMIT 1) last ON true`,
        [anchorSeq, end]
      )
    ).rows[0]!;
    const head = h.seq == null ? { seq: anchor?.throughSeq ?? null, hash: anchorHash } : { seq: Number(h.seq), hash: h.hash! };
    const checked = Number(h.n);
    return firstBroken ? { ok: false, checked, firstBroken, anchor, head } : { ok: true, checked, anchor, head };
  });
}
