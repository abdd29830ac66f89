import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { streamPages } from '../../src/ig/stream-write.ts';

/** A response whose buffer is "full" after every write, draining a tick later. */
function slowResponse(): Response & { chunks: string[]; maxQueued: number } {
  const res = new EventEmitter() as EventEmitter & { chunks: string[]; maxQueued: number; destroyed: boolean; writableEnded: boolean; write(c: string): boolean };
  let queued = 0;
  res.chunks = [];
  res.maxQueued = 0;
  res.destroyed = false;
  res.writableEnded = false;
  res.write = (c: string) => {
    res.chunks.push(c);
    queued++;
    res.maxQueued = Math.max(res.maxQueued, queued);
    setImmediate(() => {
      queued = 0;
      res.emit('drain');
    });
    return false;
  };
  return res as never;
}

describe('IG CSV streaming', () => {
  it('fetches the next page only after the previous one has drained, following the keyset', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ seq: 100 - i }));
    const cursors: (number | undefined)[] = [];
    const res = slowResponse();
    await streamPages(
      res,
      async (cursor) => {
        cursors.push(cursor);
        const from = cursor === undefined ? 0 : rows.findIndex((r) => r.seq === cursor) + 1;
        return rows.slice(from, from + 10);
      },
      10,
      (r) => `${r.seq}\n`
    );
    expect(cursors).toEqual([undefined, 91, 81]);
    expect(res.chunks.join('').trim().split('\n').map(Number)).toEqual(rows.map((r) => r.seq));
    expect(res.maxQueued).toBe(1);
  });

  it('stops when the client goes away', async () => {
    const res = slowResponse();
    let pages = 0;
    const done = streamPages(
      res,
      async () => {
        pages++;
        return Array.from({ length: 10 }, (_, i) => ({ seq: i + 1 }));
      },
      10,
      () => 'x\n'
    );
    (res as unknown as { destroyed: boolean }).destroyed = true;
    res.emit('close');
    await done;
    expect(pages).toBeLessThanOrEqual(2);
  });
});
