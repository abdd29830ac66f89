import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { VerifyResult } from './verify.ts';
import { checkRow } from './verify.ts';
import type { AuditRow } from './types.ts';

/**
 * Re-verifies an archive file written by archiveAuditSegment on its own,
 * without the database: its header names the hash the segment chains from,
 * and every line carries the stored row with its canonical content text.
 * The head it reports is the anchor the database kept.
 */
export async function verifyArchiveFile(path: string): Promise<VerifyResult> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let expected: string | undefined;
  let headSeq: number | null = null;
  let checked = 0;
  for await (const line of lines) {
    if (line === '') continue;
    const value = JSON.parse(line) as Record<string, unknown>;
    if (expected === undefined) {
      if (value.archive !== 'joinedup-audit' || typeof value.prevHash !== 'string') throw new Error(`${path} is not a JoinedUp audit archive`);
      expected = value.prevHash;
      headSeq = Number(value.afterSeq);
      continue;
    }
    const row = value as unknown as AuditRow;
    const problem = checkRow(row, expected);
    if (problem) return { ok: false, checked, firstBroken: { seq: row.seq, reason: problem }, head: { seq: headSeq, hash: expected } };
    expected = row.hash;
    headSeq = row.seq;
    checked++;
  }
  if (expected === undefined) throw new Error(`${path} is empty`);
  return { ok: true, checked, head: { seq: headSeq, hash: expected } };
}
