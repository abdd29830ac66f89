import type { Database } from '../db/sql-client.ts';
import { chainHash, GENESIS_HASH, hashHeader } from './hash-chain.ts';
import { latestAnchor, maxSeq, readChain } from './row-reader.ts';
import type { AuditRow } from './types.ts';

export interface BrokenLink {
  seq: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Records whose link and hash checked out (up to the first broken one). */
  checked: number;
  firstBroken?: BrokenLink;
  /** Where verification started: the archive anchor, if any. */
  anchor?: { throughSeq: number; hash: string };
  /** The newest record: export this hash regularly (see ADR 0010). */
  head: { seq: number | null; hash: string };
}

export const LINK_BROKEN = 'prev_hash is not the hash of the record before it (a record was removed, inserted or rewritten with its hash)';
export const HASH_MISMATCH = 'hash does not match the stored content and columns (the record was altered)';

/**
 * Checks one row against the hash the chain expects before it; returns the
 * problem, if any. Shared by verify and archive (which refuses to remove a
 * segment that does not verify).
 */
export function checkRow(row: AuditRow, expectedPrev: string): string | undefined {
  if (row.prev_hash !== expectedPrev) return LINK_BROKEN;
  if (chainHash(row.prev_hash, hashHeader(row), row.content) !== row.hash) return HASH_MISMATCH;
  return undefined;
}

/**
 * Walks the whole chain from the archive anchor (or genesis) in seq order
 * and reports the first broken link. Runs in one REPEATABLE READ, READ ONLY
 * transaction so it sees one consistent chain while appends (at the end)
 * and an archive run (at the start) carry on.
 */
export async function verifyAuditChain(db: Database, options: { pageSize?: number } = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 10_000;
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const anchor = await latestAnchor(tx);
    const through = await maxSeq(tx);
    let expected = anchor?.hash ?? GENESIS_HASH;
    let headSeq: number | null = anchor?.throughSeq ?? null;
    let checked = 0;
    for await (const page of readChain(tx, anchor?.throughSeq ?? 0, through, pageSize)) {
      for (const row of page) {
        const problem = checkRow(row, expected);
        if (problem) {
          return { ok: false, checked, firstBroken: { seq: row.seq, reason: problem }, anchor, head: { seq: headSeq, hash: expected } };
        }
        expected = row.hash;
        headSeq = row.seq;
        checked++;
      }
    }
    return { ok: true, checked, anchor, head: { seq: headSeq, hash: expected } };
  });
}
