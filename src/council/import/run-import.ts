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
  /** Pushes one parsed record; never throws (pushRecord's contract). `index` is the line number. */
  push: (json: unknown, index: number) => Promise<PushResult>;
  /** Writes one answer line; resolves when the writer can take more (backpressure). */
  write: (result: ImportLineResult) => Promise<void>;
  /** How many records may be in flight at once (1 = strictly one after another). */
  window: number;
  /** Stops taking new lines when it returns true (e.g. the client went away). */
  stopped?: () => boolean;
  /** The largest line accepted, for the text of a tooLong rejection. */
  maxLineBytes: number;
}

/**
 * Runs a stream of NDJSON lines through push, at most `window` records in
 * flight, answering one result per non-blank line in input order. The next
 * line is read only once there is room in the window, so the source is read
 * no faster than records are stored. Two lines for the same source record
 * never run at once: the later one waits for the earlier, so versions of a
 * record in one file are applied in file order, as with one-at-a-time.
 *
 * Resolves with the summary when the source ends. If the source throws (the
 * client went away, the stream was too large) the records already started
 * are finished (each is atomic) and answered, then the error is rethrown.
 */
export async function runImport(lines: AsyncIterable<NdjsonLine>, options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { lines: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  const queue: Promise<ImportLineResult>[] = [];
  // The latest push of each source record still in flight, so a later line for it waits.
  const inFlight = new Map<string, Promise<unknown>>();
  const window = Math.max(1, Math.floor(options.window));

  const answerHead = async (): Promise<void> => {
    const result = await queue.shift()!;
    summary.lines += 1;
    summary[result.status] += 1;
    await options.write(result);
  };

  const start = (l: NdjsonLine & { text?: string }): Promise<ImportLineResult> => {
    if (l.tooLong) {
      return Promise.resolve(
        toLineResult(rejected({ index: l.line }, 413, [issue('too-costly', `This line is longer than ${options.maxLineBytes} bytes; it was not read`)]))
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(l.text!);
    } catch {
      return Promise.resolve(toLineResult(rejected({ index: l.line }, 400, [issue('structure', 'This line is not well-formed JSON', '$')])));
    }
    const key = recordKey(json);
    const before = key === undefined ? undefined : inFlight.get(key);
    const run = async (): Promise<ImportLineResult> => {
      if (before) await before;
      try {
        return toLineResult(await options.push(json, l.line));
      } catch {
        // pushRecord never throws; should another push function, the line is still answered.
        return toLineResult(rejected(labelOf(l.line, json), 500, [issue('exception', 'Internal error. This record was not stored.')]));
      }
    };
    const p = run();
    if (key !== undefined) {
      inFlight.set(key, p);
      void p.finally(() => {
        if (inFlight.get(key) === p) inFlight.delete(key);
      });
    }
    return p;
  };

  try {
    for await (const l of lines) {
      if (l.text !== undefined && l.text.trim() === '') continue;
      queue.push(start(l));
      while (queue.length >= window) await answerHead();
      if (options.stopped?.()) break;
    }
  } finally {
    // Whatever ended the loop, records already started finish and are answered.
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
