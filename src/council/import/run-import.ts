import type { OperationOutcome } from '@medplum/fhirtypes';
import { issue, labelOf, rejected } from '../push/push-outcome.ts';
import type { PushResult, PushStatus } from '../push/push-outcome.ts';
import type { NdjsonLine } from './ndjson-lines.ts';

/** The answer for one input line, written as soon as it (and every line before it) is done. */
export interface ImportLineResult {
  line: number;
  recordType?: string;
  sourceRecordId?: string;
  status: PushStatus;
  httpStatus: number;
  issues?: OperationOutcome;
}

export interface ImportSummary {
  /** Record lines answered (blank lines are not counted). */
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
}

export interface ImportOptions {
  /**
   * Pushes a batch of parsed records (pushBatch's contract: one result per
   * item, in order, each record whole or not at all; never throws).
   * `index` is the line number.
   */
  pushBatch: (items: { json: unknown; index: number }[]) => Promise<PushResult[]>;
  /** Writes one answer line; resolves when the writer can take more (backpressure). */
  write: (result: ImportLineResult) => Promise<void>;
  /** How many batches may be in flight at once (1 = strictly one after another). */
  window: number;
  /** Lines per batch (1 = one transaction per record). */
  batchSize: number;
  /** A part-filled batch starts once no further line has arrived for this long (default 10 ms). */
  flushMs?: number;
  /** Stops taking new lines when it returns true (e.g. the client went away). */
  stopped?: () => boolean;
  /** The largest line accepted, for the text of a tooLong rejection. */
  maxLineBytes: number;
}

/** One line of a batch: a record to push, or a line already answered (bad JSON, too long). */
interface Slot {
  line: number;
  json?: unknown;
  result?: ImportLineResult;
}

const TIMED_OUT = Symbol('timed out');
const HEAD_DONE = Symbol('head batch done');

/**
 * Runs a stream of NDJSON lines through pushBatch in batches of up to
 * `batchSize` lines, at most `window` batches in flight, answering one
 * result per non-blank line in input order, each once its batch has
 * committed. The next line is read only once there is room in the window,
 * so the source is read no faster than records are stored; a part-filled
 * batch starts as soon as the source pauses (flushMs), so a client that
 * sends a few lines and waits is answered. Two lines for the same source
 * record never run at once: within a batch they run in file order, and a
 * batch holding a record another batch in flight holds waits for it.
 *
 * Resolves with the summary when the source ends. If the source throws (the
 * client went away, the stream was too large) the records already started
 * are finished (each is atomic) and answered, then the error is rethrown;
 * lines read but not yet started are started and answered too, unless the
 * client went away (then they are dropped, never stored).
 */
export async function runImport(lines: AsyncIterable<NdjsonLine>, options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { lines: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  const queue: Promise<ImportLineResult[]>[] = [];
  // The latest batch holding each source record still in flight, so a later batch holding it waits.
  const inFlight = new Map<string, Promise<unknown>>();
  const window = Math.max(1, Math.floor(options.window));
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const flushMs = options.flushMs ?? 10;
  let pending: Slot[] = [];
  let pendingKeys = new Set<string>();

  const answerHead = async (): Promise<void> => {
    const results = await queue.shift()!;
    for (const result of results) {
      summary.lines += 1;
      summary[result.status] += 1;
      await options.write(result);
    }
  };

  const startBatch = (): void => {
    if (pending.length === 0) return;
    const slots = pending;
    const waits = [...pendingKeys].flatMap((k) => {
      const w = inFlight.get(k);
      return w ? [w] : [];
    });
    const keys = pendingKeys;
    pending = [];
    pendingKeys = new Set();
    const run = async (): Promise<ImportLineResult[]> => {
      if (waits.length) await Promise.allSettled(waits);
      const todo = slots.filter((x) => x.result === undefined);
      let pushed: PushResult[] = [];
      if (todo.length) {
        try {
          pushed = await options.pushBatch(todo.map((x) => ({ json: x.json, index: x.line })));
        } catch {
          // pushBatch never throws; should another push function, every line is still answered.
          pushed = [];
        }
      }
      let k = 0;
      return slots.map((x) => {
        if (x.result) return x.result;
        const r = pushed[k++];
        return toLineResult(r ?? rejected(labelOf(x.line, x.json), 500, [issue('exception', 'Internal error. This record was not stored.')]));
      });
    };
    const p = run();
    for (const key of keys) {
      inFlight.set(key, p);
      void p.finally(() => {
        if (inFlight.get(key) === p) inFlight.delete(key);
      });
    }
    queue.push(p);
  };

  const take = (l: NdjsonLine): void => {
    if (l.tooLong) {
      pending.push({ line: l.line, result: toLineResult(rejected({ index: l.line }, 413, [issue('too-costly', `This line is longer than ${options.maxLineBytes} bytes; it was not read`)])) });
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(l.text);
    } catch {
      pending.push({ line: l.line, result: toLineResult(rejected({ index: l.line }, 400, [issue('structure', 'This line is not well-formed JSON', '$')])) });
      return;
    }
    pending.push({ line: l.line, json });
    const key = recordKey(json);
    if (key !== undefined) pendingKeys.add(key);
  };

  const startAndMakeRoom = async (): Promise<void> => {
    startBatch();
    while (queue.length >= window) await answerHead();
  };

  /**
   * The next line; meanwhile answers every batch that commits (so a client
   * waiting for its answers gets them) and starts a part-filled batch once
   * the source has paused for flushMs.
   */
  const nextLine = async (next: Promise<IteratorResult<NdjsonLine>>): Promise<IteratorResult<NdjsonLine>> => {
    for (;;) {
      const contenders: Promise<IteratorResult<NdjsonLine> | typeof TIMED_OUT | typeof HEAD_DONE>[] = [next];
      if (queue.length) contenders.push(queue[0]!.then(() => HEAD_DONE));
      let timer: NodeJS.Timeout | undefined;
      if (pending.length) contenders.push(new Promise((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), flushMs))));
      const r = await Promise.race(contenders).finally(() => clearTimeout(timer));
      if (r === HEAD_DONE) await answerHead();
      else if (r === TIMED_OUT) await startAndMakeRoom();
      else return r;
    }
  };

  const it = lines[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const r = await nextLine(it.next());
      if (r.done) {
        finished = true;
        break;
      }
      const l = r.value;
      if (l.text !== undefined && l.text.trim() === '') continue;
      take(l);
      if (pending.length >= batchSize) await startAndMakeRoom();
      if (options.stopped?.()) break;
    }
  } catch (err) {
    finished = true; // the source threw: it is done
    throw err;
  } finally {
    if (!finished) await it.return?.();
    // Whatever ended the loop, records already read are stored and answered, unless the client went away.
    if (!options.stopped?.()) startBatch();
    while (queue.length > 0) {
      if (options.stopped?.()) {
        await Promise.allSettled(queue.splice(0));
        break;
      }
      await answerHead();
    }
  }
  return summary;
}

function toLineResult(r: PushResult): ImportLineResult {
  return {
    line: r.index,
    ...(r.recordType !== undefined ? { recordType: r.recordType } : {}),
    ...(r.sourceRecordId !== undefined ? { sourceRecordId: r.sourceRecordId } : {}),
    status: r.status,
    httpStatus: r.httpStatus,
    ...(r.issues ? { issues: r.issues } : {}),
  };
}

/** The source record a line is for, as far as its JSON says (the ledger adds the council). */
function recordKey(json: unknown): string | undefined {
  const source = (json as { source?: { system?: unknown; recordId?: unknown } } | null)?.source;
  if (typeof source?.system !== 'string' || typeof source.recordId !== 'string') return undefined;
  return `${source.system}\u0000${source.recordId}`;
}
