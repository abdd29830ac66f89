import type { Database } from '../db/sql-client.ts';
import { appendAuditEventsCommitted } from './audit-writer.ts';
import type { AuditRecordInput } from './types.ts';

export interface AuditBatcherOptions {
  /** Write as soon as this many records wait. */
  maxBatch?: number;
  /** Longest a record waits for others to join its batch. */
  maxDelayMs?: number;
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
 * At most two batches are in flight: appends serialise on the chain lock
 * anyway, but the second can begin its transaction and queue for the lock
 * while the first commits, so the lock is never idle waiting for a round
 * trip; records arriving meanwhile form the next, larger batch. That is the
 * group-commit effect: one COMMIT (one WAL flush) for many reads.
 */
export class AuditBatcher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private static readonly MAX_IN_FLIGHT = 2;
  private closed = false;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly onBatchWritten: ((seconds: number, ok: boolean) => void) | undefined;

  constructor(
    private readonly db: Database,
    options: AuditBatcherOptions = {}
  ) {
    this.maxBatch = options.maxBatch ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 2;
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
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      if (this.inFlight.size > 0) await Promise.race(this.inFlight);
      else this.flush();
    }
  }

  private schedule(): void {
    if (this.inFlight.size >= AuditBatcher.MAX_IN_FLIGHT) return; // a batch's completion picks the queue up
    if (this.queue.length >= this.maxBatch) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.maxDelayMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight.size >= AuditBatcher.MAX_IN_FLIGHT || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    const done: Promise<void> = this.write(batch).finally(() => {
      this.inFlight.delete(done);
      if (this.queue.length > 0) {
        // Records that queued during the write have waited at least that long: go now.
        this.flush();
      }
    });
    this.inFlight.add(done);
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
