import type { Response } from 'express';

/**
 * Writes a chunk and waits while the client's side of the connection is
 * full, so a large export holds one page in memory, not the whole answer.
 * Resolves false when the client has gone.
 */
export function writeChunk(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve(!res.destroyed);
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Pages of a keyset query, each requested after the previous one is written. */
export async function streamPages<R extends { seq: number }>(
  res: Response,
  fetchPage: (cursor: number | undefined) => Promise<R[]>,
  pageSize: number,
  render: (row: R) => string
): Promise<void> {
  let cursor: number | undefined;
  for (;;) {
    const rows = await fetchPage(cursor);
    if (rows.length && !(await writeChunk(res, rows.map(render).join('')))) return;
    if (rows.length < pageSize) return;
    cursor = rows[rows.length - 1]!.seq;
  }
}
