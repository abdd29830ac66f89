import type { Database } from '../db/sql-client.ts';
import { appendAuditEventsCommitted } from './audit-writer.ts';
import type { AuditRecordInput } from './types.ts';

export interface AuditBatcherOptions {
  /** The most records one batch (one transaction) takes; the rest form the next. */
  maxBatch?: number;
  /** Told how long each batch's write took (seconds) and whether it committed (metrics). */
  onBatchWritten?: (seconds: number, ok: boolean) => void;
}

interface Pending {
  record: AuditRecordInput;
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for reads, which have no data transaction of their own to
 * carry their audit: records from concurrent requests are queued and written
 * together in ONE transaction, and each caller's promise settles only after
 * that transaction has committed (resolve: the record's seq) or failed
 * (reject: every record of the batch, none of which was stored). A read
 * awaits its promise before sending the response, so no answer goes out
 * without its committed audit record.
 *
 * One batch is in flight at a time, and it is sent at once when the
 * batcher is idle: no timer. Records that arrive while a batch commits wait
 * for it and then go together as the next batch, so the batch size follows
 * the load (one record when quiet, dozens under load) and a record never
 * waits for a timer, only for the commit ahead of it. Appends made in one
 * synchronous turn go together (the flush is a microtask). Measured against
 * a 2 ms timer with two batches in flight (docs/performance.md, audited
 * reads, fourth pass): the second batch only queued on the chain lock,
 * paying a backend wake-up, and the timer added its delay to every quiet
 * read.
 */
export class AuditBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private readonly maxBatch: number;
  private readonly onBatchWritten: ((seconds: number, ok: boolean) => void) | undefined;

  constructor(
    private readonly db: Database,
    options: AuditBatcherOptions = {}
  ) {
    this.maxBatch = options.maxBatch ?? 200;
    this.onBatchWritten = options.onBatchWritten;
  }

  /** Resolves with the record's seq once it is committed; rejects if its batch failed. */
  append(record: AuditRecordInput): Promise<number> {
    if (this.closed) return Promise.reject(new Error('audit batcher is closed'));
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.schedule();
    });
  }

  /** Writes everything queued and waits for it; later appends are refused. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.inFlight) {
      if (this.inFlight) await this.inFlight;
      else this.flush();
    }
  }

  private schedule(): void {
    // While a batch is in flight its completion picks the queue up.
    if (this.inFlight || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = undefined;
      // Records that queued during the write have waited for it: they go now, together.
      this.flush();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const seqs = await appendAuditEventsCommitted(this.db, batch.map((p) => p.record));
      batch.forEach((p, i) => p.resolve(seqs[i]!));
      this.onBatchWritten?.(seconds(), true);
    } catch (err) {
      this.onBatchWritten?.(seconds(), false);
      for (const p of batch) p.reject(err);
    }
  }
}
