import { createReadStream, createWriteStream, statSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { z } from 'zod';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import { loadConfig } from '../config.ts';
import type { ImportLineResult, ImportSummary } from '../council/import/run-import.ts';
import { CliError, parseInput } from './common.ts';
import { TokenOptions, defaultUrl, requestAccessToken } from './token-command.ts';

const IMPORT_PATH = '/council/v1/import';
/** A request is closed (at a line break) after this long and the next lines go in a new one, well inside the server's request timeout. */
const BATCH_MS = 60_000;
/** Rejections kept to print at the end; the rest are counted (and all are in --out). */
const SHOWN_REJECTIONS = 200;
/** Get a new token when the current one has less than this left (--client only). */
const TOKEN_MARGIN_S = 90;

const ImportOptions = z
  .object({
    file: z.string().min(1, 'a file path is required'),
    url: z
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'an http(s) URL')
      .optional(),
    token: z.string().regex(/^[A-Za-z0-9._~+/=-]+$/, 'an access token (as `joinedup token` prints it)').optional(),
    client: z.string().optional(),
    batchLines: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    out: z.string().min(1).optional(),
  })
  .refine((o) => (o.token === undefined) !== (o.client === undefined), { message: 'give either --token, or --client with --purpose, --user and --role', path: ['token'] });

/**
 * `joinedup import <file.ndjson>`: streams a caseload to POST
 * /council/v1/import with a progress bar, and prints what was rejected and a
 * summary. Large files go as several requests of whole lines (each well inside
 * the server's request timeout); with --client a fresh token is fetched when
 * the current one is about to expire.
 */
export function addImportCommand(program: Command): void {
  program
    .command('import')
    .description('push a whole caseload (an NDJSON file of council records, one per line) to a running gateway')
    .argument('<file>', 'an NDJSON file: one council record (docs/council-format.md) per line')
    .option('--url <url>', 'base URL of the gateway (default: BASE_URL, else http://127.0.0.1:PORT)')
    .option('--token <token>', 'an access token with system/council.write (e.g. from `joinedup token`); it must outlive the import')
    .option('--client <id>', 'instead of --token: get tokens as `joinedup token` does, for this council client')
    .option('--purpose <code>', `with --client: purpose of use (${PURPOSE_CODES.join(', ')}), e.g. CAREMGT`)
    .option('--user <id>', 'with --client: the end user (subject_id)')
    .option('--role <code>', 'with --client: SDS job role code of the user, e.g. R1330')
    .option('--user-name <name>', 'with --client: display name of the user')
    .option('--org <ods>', "with --client: the council's ODS code (default: from the demo manifest, or the client's registration)")
    .option('--key <file>', 'with --client: private JWK file (default: the demo key for --client)')
    .option('--scope <scopes...>', 'with --client: scopes to ask for (default: all the client is allowed)')
    .option('--batch-lines <n>', 'lines per request; larger files go as several requests', '10000')
    .option('--out <file>', 'also write every result line (NDJSON, with file line numbers) to this file')
    .addHelpText(
      'after',
      `
Each line is answered created, updated, unchanged, deleted or rejected (with
every problem and where it is). The exit code is 0 when every line was stored,
1 when any line was rejected or the import did not finish, 2 for bad options.

Re-running is harmless: every record is idempotent. After an interruption
(Ctrl-C, a dropped connection, an expired token), run the same command again:
records already stored come back "unchanged" (or rejected 409 if a newer
version is stored), nothing is stored twice, and no record is ever half-stored.`
    )
    .action(async (file: string, raw: Record<string, unknown>) => {
      const config = loadConfig();
      const o = parseInput(ImportOptions, { ...raw, file });
      const baseUrl = (o.url ?? defaultUrl(config)).replace(/\/+$/, '');
      const tokenRequest = o.client === undefined ? undefined : parseInput(TokenOptions, { ...raw, url: baseUrl });
      let size: number;
      try {
        size = statSync(o.file).size;
      } catch (err) {
        throw new CliError(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 2);
      }
      let token = o.token;
      const currentToken = async (): Promise<string> => {
        if (tokenRequest && (token === undefined || secondsLeft(token) < TOKEN_MARGIN_S)) token = await requestAccessToken(config, tokenRequest);
        return token!;
      };
      const out = o.out ? createWriteStream(o.out) : undefined;
      const bar = new cliProgress.SingleBar(
        { format: 'importing [{bar}] {percentage}% | {lines} lines answered | {rejected} rejected', hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic
      );
      bar.start(size, 0, { lines: 0, rejected: 0 });
      let result: ImportOutcome;
      try {
        result = await importFile(o.file, {
          baseUrl,
          token: currentToken,
          batchLines: o.batchLines,
          onResult: (r, answeredBytes, totals) => {
            bar.update(answeredBytes, { lines: totals.lines, rejected: totals.rejected });
            out?.write(`${JSON.stringify(r)}\n`);
          },
        });
      } finally {
        bar.stop();
        if (out) await closeStream(out);
      }
      report(o.file, result);
      process.exitCode = result.summary.rejected > 0 || result.stoppedAt !== undefined ? 1 : 0;
    });
}

interface ImportOutcome {
  summary: ImportSummary;
  rejections: ImportLineResult[];
  /** Why the import stopped before the end of the file, if it did. */
  stoppedAt?: { afterLine: number; reason: string };
  requests: number;
}

interface ImportFileOptions {
  baseUrl: string;
  token: () => Promise<string>;
  batchLines: number;
  onResult: (r: ImportLineResult, answeredBytes: number, totals: ImportSummary) => void;
}

/**
 * Streams the file to the gateway, cutting it into requests at line breaks.
 * Memory is bounded: a chunk of the file at a time, and the byte offsets of
 * lines sent but not yet answered (for the progress bar).
 */
async function importFile(file: string, o: ImportFileOptions): Promise<ImportOutcome> {
  const summary: ImportSummary = { lines: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  const rejections: ImportLineResult[] = [];
  // Lines sent and not yet answered: their file line and the file offset just after them.
  const sent: { line: number; end: number }[] = [];
  let answeredBytes = 0;
  let lastAnswered = 0;
  const onLine = (r: ImportLineResult): void => {
    while (sent.length && sent[0]!.line <= r.line) answeredBytes = sent.shift()!.end;
    lastAnswered = r.line;
    summary.lines += 1;
    summary[r.status] += 1;
    if (r.status === 'rejected' && rejections.length < SHOWN_REJECTIONS) rejections.push(r);
    o.onResult(r, answeredBytes, summary);
  };

  let fileLine = 0; // lines fully read (ended by LF)
  let offset = 0;
  let batch: Batch | undefined;
  let requests = 0;
  const open = async (): Promise<Batch> => {
    requests += 1;
    return startBatch(o.baseUrl, await o.token(), fileLine + 1, onLine);
  };
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
      let pos = 0;
      for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, lf + 1)) {
        batch ??= await open();
        fileLine += 1;
        sent.push({ line: fileLine, end: offset + lf + 1 });
        batch.lines += 1;
        if (batch.lines >= o.batchLines || Date.now() - batch.started >= BATCH_MS) {
          await batch.write(chunk.subarray(pos, lf + 1));
          pos = lf + 1;
          await batch.finish();
          batch = undefined;
        }
      }
      if (pos < chunk.length) {
        batch ??= await open();
        await batch.write(chunk.subarray(pos));
      }
      offset += chunk.length;
    }
    if (batch) {
      // A last line without a line break.
      if (offset > (sent.at(-1)?.end ?? 0)) sent.push({ line: fileLine + 1, end: offset });
      await batch.finish();
    }
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    batch?.abort();
    return { summary, rejections, requests, stoppedAt: { afterLine: lastAnswered, reason: err.message } };
  }
  return { summary, rejections, requests };
}

class BatchError extends Error {
  override name = 'BatchError';
}

interface Batch {
  started: number;
  lines: number;
  write(data: Buffer): Promise<void>;
  /** Ends the request and waits for the whole answer. */
  finish(): Promise<void>;
  abort(): void;
}

/**
 * One request: the body is written as the file is read (waiting when the
 * connection is full, which is when the gateway is behind), while the answer
 * is read line by line as it comes, at the same time.
 */
function startBatch(baseUrl: string, token: string, firstLine: number, onLine: (r: ImportLineResult) => void): Batch {
  const url = new URL(`${baseUrl}${IMPORT_PATH}`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req: ClientRequest = send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson', authorization: `Bearer ${token}` },
  });
  let failure: BatchError | undefined;
  const fail = (message: string): void => {
    failure ??= new BatchError(message);
  };
  const answered = new Promise<void>((resolve) => {
    req.on('error', (err: NodeJS.ErrnoException) => {
      fail(`the connection to ${baseUrl} failed (${err.code ?? err.message})`);
      resolve();
    });
    req.once('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        readError(res).then((text) => {
          fail(`the gateway answered HTTP ${res.statusCode}${text ? `: ${text}` : ''}`);
          req.destroy();
          resolve();
        }, resolve);
        return;
      }
      let rest = '';
      let summarised = false;
      const take = (text: string): void => {
        if (!text.trim()) return;
        let msg: { line?: number; summary?: unknown; error?: { issue?: { details?: { text?: string } }[] } };
        try {
          msg = JSON.parse(text) as typeof msg;
        } catch {
          fail('the gateway sent an answer line that is not JSON');
          return;
        }
        if (msg.summary) summarised = true;
        else if (msg.error) fail(msg.error.issue?.[0]?.details?.text ?? 'the gateway stopped the import');
        else if (typeof msg.line === 'number') onLine({ ...(msg as ImportLineResult), line: firstLine + msg.line - 1 });
      };
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        rest += s;
        let nl: number;
        while ((nl = rest.indexOf('\n')) !== -1) {
          take(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      });
      res.once('end', () => {
        take(rest);
        if (!summarised) fail('the answer ended before its summary (the gateway stopped or the connection dropped)');
        resolve();
      });
      res.on('error', () => {
        fail('the connection dropped while the gateway was answering');
        resolve();
      });
    });
  });
  const check = (): void => {
    if (failure) throw failure;
  };
  return {
    started: Date.now(),
    lines: 0,
    async write(data) {
      check();
      if (!req.write(data)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            req.off('drain', done);
            req.off('close', done);
            resolve();
          };
          req.on('drain', done);
          req.on('close', done);
        });
      }
      check();
    },
    async finish() {
      check();
      req.end();
      await answered;
      check();
    },
    abort() {
      req.destroy();
    },
  };
}

async function readError(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const c of res as AsyncIterable<Buffer>) {
    if (text.length < 64 * 1024) text += c.toString('utf8');
  }
  try {
    const body = JSON.parse(text) as { issue?: { details?: { text?: string } }[] };
    return body.issue?.map((i) => i.details?.text).filter(Boolean).join('; ') ?? '';
  } catch {
    return '';
  }
}

function report(file: string, r: ImportOutcome): void {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  for (const x of r.rejections) {
    const what = [x.recordType, x.sourceRecordId].filter(Boolean).join(' ');
    const issues = x.issues?.issue ?? [];
    const first = issues[0];
    const where = first?.expression?.[0] ?? '';
    const text = first?.details?.text ?? first?.diagnostics ?? '';
    w(`line ${x.line}${what ? ` (${what})` : ''}: rejected ${x.httpStatus}: ${text}${where && !text.includes(where) ? ` at ${where}` : ''}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}`);
  }
  const s = r.summary;
  if (s.rejected > r.rejections.length) w(`... and ${s.rejected - r.rejections.length} more rejected line(s) (--out writes every result)`);
  w(`${file}: ${s.lines} line(s): ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.deleted} deleted, ${s.rejected} rejected`);
  if (r.stoppedAt) {
    process.stderr.write(
      `joinedup: the import stopped after line ${r.stoppedAt.afterLine}: ${r.stoppedAt.reason}. Run the same command again to finish it: lines already stored come back unchanged.\n`
    );
  }
}

/** Seconds until a JWT's exp; Infinity if the token does not say. */
function secondsLeft(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp - Date.now() / 1000 : Infinity;
  } catch {
    return Infinity;
  }
}

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(() => resolve()));
}
