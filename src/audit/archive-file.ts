import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { VerifyResult } from './verify.ts';
import { checkRow } from './verify.ts';
import type { AuditRow } from './types.ts';

/** The first line of an archive file: where the segment chains from. */
export interface ArchiveHeader {
  /** The hash the segment's first record chains from. */
  prevHash: string;
  /** The seq just before the segment. */
  afterSeq: number;
}

/**
 * Opens an archive file written by archiveAuditSegment: its header, then its
 * rows one at a time (each the stored row with its content text as hashed),
 * so a file of any size is read in constant memory.
 */
export async function readArchive(path: string): Promise<{ header: ArchiveHeader; rows: AsyncGenerator<AuditRow> }> {
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    for (;;) {
      const r = await lines.next();
      if (r.done) return undefined;
      if (r.value !== '') return r.value;
    }
  };
  // Closes the file however reading ends: the last row, a reader stopping early (a broken link), a bad header.
  const close = async (): Promise<void> => {
    await lines.return?.();
    input.destroy();
  };
  let header: ArchiveHeader;
  try {
    const first = await next();
    if (first === undefined) throw new Error(`${path} is empty`);
    const value = JSON.parse(first) as Record<string, unknown>;
    if (value.archive !== 'joinedup-audit' || typeof value.prevHash !== 'string') throw new Error(`${path} is not a JoinedUp audit archive`);
    header = { prevHash: value.prevHash, afterSeq: Number(value.afterSeq) };
  } catch (err) {
    await close();
    throw err;
  }
  async function* rows(): AsyncGenerator<AuditRow> {
    try {
      for (let line = await next(); line !== undefined; line = await next()) yield JSON.parse(line) as AuditRow;
    } finally {
      await close();
    }
  }
  return { header, rows: rows() };
}

/**
 * Re-verifies an archive file written by archiveAuditSegment on its own,
 * without the database: its header names the hash the segment chains from,
 * and every line carries the stored row with its canonical content text.
 * The head it reports is the anchor the database kept.
 */
export async function verifyArchiveFile(path: string): Promise<VerifyResult> {
  const { header, rows } = await readArchive(path);
  let expected = header.prevHash;
  let headSeq: number | null = header.afterSeq;
  let checked = 0;
  for await (const row of rows) {
    const problem = checkRow(row, expected);
    if (problem) return { ok: false, checked, firstBroken: { seq: row.seq, reason: problem }, head: { seq: headSeq, hash: expected } };
    expected = row.hash;
    headSeq = row.seq;
    checked++;
  }
  return { ok: true, checked, head: { seq: headSeq, hash: expected } };
}
