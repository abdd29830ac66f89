import { open, unlink } from 'node:fs/promises';
import type { Database, SqlClient } from '../db/sql-client.ts';
import { AUDIT_CHAIN_LOCK } from './audit-writer.ts';
import { GENESIS_HASH } from './hash-chain.ts';
import { latestAnchor, readChain } from './row-reader.ts';
import { checkRow } from './verify.ts';

/** Suggested default retention (8 years), until the operator sets AUDIT_RETENTION_DAYS. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 2922;

export interface ArchiveResult {
  archived: number;
  /** The last archived seq and its hash: the new anchor. */
  throughSeq?: number;
  hash?: string;
}

export class AuditArchiveError extends Error {
  override name = 'AuditArchiveError';
}

/**
 * Archives the oldest whole segment of the chain: every record up to the
 * last one before the first record that must stay (recorded at or after
 * `before`, or an override still awaiting review). Exporting before deleting,
 * and deleting only a prefix, is what keeps the rest verifiable:
 *
 * 1. Outside any transaction (those rows can no longer change), write them to
 *    `out` as NDJSON, checking each link as we go; a broken chain is not
 *    archived (that would destroy the evidence). The file must not exist.
 * 2. In one transaction, holding the chain lock: record the new anchor (the
 *    last archived seq and hash), then, with joinedup.audit_archive = 'on'
 *    for this transaction only, delete exactly the exported rows. The
 *    trigger lets through only rows the anchor covers.
 *
 * If step 2 fails, nothing was deleted and the file can be discarded.
 */
export async function archiveAuditSegment(db: Database, options: { before: Date; out: string; pageSize?: number }): Promise<ArchiveResult> {
  const anchor = await latestAnchor(db);
  const from = anchor?.throughSeq ?? 0;
  const through = await segmentEnd(db, options.before);
  if (through === undefined || through <= from) return { archived: 0 };

  // 'wx': an archive is evidence, never overwritten.
  const out = await open(options.out, 'wx');
  let expected = anchor?.hash ?? GENESIS_HASH;
  let lastSeq = from;
  let count = 0;
  try {
    await out.write(`${JSON.stringify({ archive: 'joinedup-audit', afterSeq: from, prevHash: expected, throughSeq: through, before: options.before.toISOString() })}\n`);
    for await (const page of readChain(db, from, through, options.pageSize ?? 10_000)) {
      const lines: string[] = [];
      for (const row of page) {
        const problem = checkRow(row, expected);
        if (problem) throw new AuditArchiveError(`not archived: the chain is broken at seq ${row.seq} (${problem}); run audit verify`);
        // content stays the stored canonical text, so each line re-verifies byte for byte.
        lines.push(JSON.stringify(row));
        expected = row.hash;
        lastSeq = row.seq;
        count++;
      }
      await out.write(`${lines.join('\n')}\n`);
    }
    // On disk before anything is deleted.
    await out.sync();
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    await unlink(options.out).catch(() => undefined);
    throw err;
  }

  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
    const now = await latestAnchor(tx);
    if ((now?.throughSeq ?? 0) !== from) throw new AuditArchiveError('another archive run finished meanwhile; run again');
    await tx.query('INSERT INTO audit_chain_anchor (through_seq, hash, archived_count, before) VALUES ($1, $2, $3, $4)', [
      lastSeq,
      expected,
      count,
      options.before.toISOString(),
    ]);
    await tx.query("SET LOCAL joinedup.audit_archive = 'on'");
    const deleted = await tx.query('DELETE FROM audit_event WHERE seq > $1 AND seq <= $2', [from, lastSeq]);
    if (deleted.rowCount !== count) throw new AuditArchiveError(`exported ${count} records but ${deleted.rowCount} matched; nothing deleted`);
  });
  return { archived: count, throughSeq: lastSeq, hash: expected };
}

/**
 * The last seq of the archivable prefix: just before the first record that
 * is recent enough to keep or is an override nobody has reviewed yet (the
 * review queue must not lose it). Undefined when the table is empty.
 */
async function segmentEnd(sql: SqlClient, before: Date): Promise<number | undefined> {
  const r = await sql.query<{ through: number | string | null }>(
    `SELECT coalesce(
       (SELECT min(seq) - 1 FROM audit_event a
         WHERE a.recorded >= $1
            OR (a.review_state = 'pending' AND NOT EXISTS (SELECT 1 FROM audit_event r WHERE r.reviews_seq = a.seq))),
       (SELECT max(seq) FROM audit_event)) AS through`,
    [before.toISOString()]
  );
  const v = r.rows[0]?.through;
  return v === null || v === undefined ? undefined : Number(v);
}
