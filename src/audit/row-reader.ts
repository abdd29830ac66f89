import type { SqlClient } from '../db/sql-client.ts';
import type { AuditRow } from './types.ts';

/**
 * Reads the chain in seq order, one page per query, by keyset (seq > last
 * seen): every page is an index range scan, however deep into the table,
 * unlike OFFSET. recorded comes back as the exact ISO text the writer
 * hashed, formatted by the database, so no Date parsing on the hot path.
 */
export const RECORDED_ISO_SQL = `to_char(recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const PAGE_SQL = `SELECT seq, ${RECORDED_ISO_SQL} AS recorded,
  patient_id, client_id, org_ods, user_id, purpose, outcome, action, subtype, lawful_basis, override,
  review_state, reviews_seq, content, prev_hash, hash
  FROM audit_event WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`;

export interface ChainAnchor {
  throughSeq: number;
  hash: string;
}

export async function latestAnchor(sql: SqlClient): Promise<ChainAnchor | undefined> {
  const r = await sql.query<{ through_seq: number | string; hash: string }>(
    'SELECT through_seq, hash FROM audit_chain_anchor ORDER BY through_seq DESC LIMIT 1'
  );
  const row = r.rows[0];
  return row ? { throughSeq: Number(row.through_seq), hash: row.hash } : undefined;
}

/**
 * Yields pages of rows with afterSeq < seq <= throughSeq. The next page is
 * requested before the current one is handed out, so the database works on
 * it while the caller hashes.
 */
export async function* readChain(sql: SqlClient, afterSeq: number, throughSeq: number, pageSize: number): AsyncGenerator<AuditRow[]> {
  const fetch = (after: number) => sql.query<AuditRow>(PAGE_SQL, [after, throughSeq, pageSize]).then((r) => r.rows);
  let pending: Promise<AuditRow[]> | undefined = fetch(afterSeq);
  try {
    while (pending) {
      const rows: AuditRow[] = await pending;
      for (const row of rows) {
        // PGlite hands bigint back as BigInt or string depending on version; pg as a number (src/db/postgres.ts).
        row.seq = Number(row.seq);
        if (row.reviews_seq !== null) row.reviews_seq = Number(row.reviews_seq);
      }
      pending = rows.length === pageSize ? fetch(rows[rows.length - 1]!.seq) : undefined;
      if (rows.length > 0) yield rows;
    }
  } finally {
    // A caller that stops early (a broken link) must not end its transaction under a running query.
    await pending?.catch(() => undefined);
  }
}

/** The highest seq now stored (0 when empty). */
export async function maxSeq(sql: SqlClient): Promise<number> {
  const r = await sql.query<{ m: number | string | null }>('SELECT max(seq) AS m FROM audit_event');
  return Number(r.rows[0]?.m ?? 0);
}
