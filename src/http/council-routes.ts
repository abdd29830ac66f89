import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { authenticate, requireScopes } from '../auth/authenticate.ts';
import { RequestGate } from '../gate/enforce/access-gate.ts';
import { ExchangeAudit } from '../audit/exchange-audit.ts';
import { auditBeforeResponse } from './audit-response.ts';
import { pushRecord } from '../council/push/push-record.ts';
import type { PushDeps } from '../council/push/push-record.ts';
import { pushBatch } from '../council/push/push-batch.ts';
import type { BatchItem } from '../council/push/push-batch.ts';
import { ndjsonLines, StreamTooLargeError } from '../council/import/ndjson-lines.ts';
import { runImport } from '../council/import/run-import.ts';
import type { ImportLineResult, ImportSummary } from '../council/import/run-import.ts';
import { issue, labelOf, rejected, summarise } from '../council/push/push-outcome.ts';
import type { PushResponse, PushResult } from '../council/push/push-outcome.ts';
import type { RequestContext } from '../request-context.ts';
import type { AppDeps } from './app.ts';
import { exceedsDepth, jsonBody } from './json-body.ts';
import { HttpError, httpError, outcome } from './outcome.ts';

export const COUNCIL_RECORDS_PATH = '/council/v1/records';
export const COUNCIL_IMPORT_PATH = '/council/v1/import';

/** Media types the import reads (NDJSON under its common names). */
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];

/**
 * How an import is cut into transactions (docs/decisions/0012-import-batching.md):
 * up to `batch` records per transaction, each in its own savepoint, and
 * `window` batches in flight at once. On PostgreSQL batches overlap one's
 * database round trips with another's mapping and validation: once the
 * gateway needed less CPU per resource than PostgreSQL, two left both idle
 * between round trips; 100,000 records on a tuned server gave 2,619
 * resources/s with 2, 3,051 with 3 and 3,227 with 4 (docs/performance.md,
 * council import, fifth pass). PGlite is one connection in this process, so
 * one at a time.
 */
const IMPORT_BATCHING = { postgres: { batch: 50, window: 4 }, pglite: { batch: 50, window: 1 } } as const;

/** More than this in one request belongs in the NDJSON import, which streams. */
export const MAX_RECORDS_PER_PUSH = 1000;

/**
 * POST /council/v1/records: one council record or an array of them, each
 * pushed in its own transaction, answered 200 with a result per record (see
 * docs/council-format.md, "Pushing records"). Only a council's client may
 * push, and what it pushes is stored under its own ODS code.
 */
export function councilRouter(deps: Pick<AppDeps, 'config' | 'db' | 'validator' | 'logger' | 'auth' | 'baseUrl' | 'gate' | 'audit' | 'writeRules' | 'onCommitted' | 'metrics'>): express.Router {
  const router = express.Router();
  const { config, logger } = deps;
  // Token and permission before any body is read: an outsider costs no parsing.
  const requireToken = authenticate(deps.auth.tokens, config.AUTH_MODE, () => false, deps.auth.clientStatus);
  // One gate and one audit per request; each record's writes are audited in the record's own transaction.
  // Started as soon as the token has verified, before the push is checked or its body read, so a refusal is audited too.
  const startAudit = (_req: Request, res: Response, next: NextFunction): void => {
    const context = res.locals.context as RequestContext;
    const gate = new RequestGate(deps.gate, context);
    const audit = new ExchangeAudit(deps.audit, context, 'update', gate);
    auditBeforeResponse(res, audit, logger, context.requestId);
    res.locals.pushDeps = pushDepsWith(context, gate, audit);
    next();
  };
  const pushDeps = (res: Response): PushDeps => res.locals.pushDeps as PushDeps;
  const pushDepsWith = (context: RequestContext, gate: RequestGate, audit: ExchangeAudit): PushDeps => ({
    db: deps.db,
    validator: deps.validator,
    baseUrl: `${deps.baseUrl}/fhir`,
    gate,
    audit,
    ...(deps.writeRules ? { writeRules: deps.writeRules } : {}),
    ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
    onDbError: (err) => logger.error({ requestId: context.requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'database error'),
  });

  router.post(
    COUNCIL_RECORDS_PATH,
    requireToken,
    startAudit,
    (_req: Request, res: Response, next: NextFunction) => {
      try {
        councilOdsOf(res.locals.context as RequestContext);
        next();
      } catch (err) {
        next(err);
      }
    },
    ...jsonBody(config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH),
    (req: Request, res: Response, next: NextFunction) => {
      const context = res.locals.context as RequestContext;
      push(pushDeps(res), context, req.body).then((body) => {
        for (const r of body.results) deps.metrics?.councilRecord(r.status);
        res.status(200).type('application/json').send(JSON.stringify(body));
      }, next);
    }
  );
  router.all(COUNCIL_RECORDS_PATH, (_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(405, outcome('not-supported', `${COUNCIL_RECORDS_PATH} accepts POST only`), { Allow: 'POST' }));
  });

  router.post(
    COUNCIL_IMPORT_PATH,
    requireToken,
    startAudit,
    (req: Request, res: Response, next: NextFunction) => {
      const context = res.locals.context as RequestContext;
      const pd = pushDeps(res);
      let councilOds: string;
      try {
        councilOds = councilOdsOf(context);
        checkImportRequest(req, config.MAX_IMPORT_BYTES);
      } catch (err) {
        next(err);
        return;
      }
      const tooDeep = (json: unknown, line: number): PushResult =>
        rejected(labelOf(line, json), 400, [issue('too-costly', `JSON nesting deeper than ${config.MAX_JSON_DEPTH} levels is not accepted`, '$')]);
      const pushLines = async (items: BatchItem[]): Promise<PushResult[]> => {
        const deep = items.map((x) => exceedsDepth(x.json, config.MAX_JSON_DEPTH));
        const pushed = await pushBatch(pd, context, councilOds, items.filter((_, i) => !deep[i]));
        let k = 0;
        return items.map((x, i) => (deep[i] ? tooDeep(x.json, x.index) : pushed[k++]!));
      };
      const batching = IMPORT_BATCHING[deps.db.kind];
      importNdjson(req, res, { pushBatch: pushLines, window: batching.window, batchSize: batching.batch, maxLineBytes: config.MAX_IMPORT_LINE_BYTES, maxTotalBytes: config.MAX_IMPORT_BYTES, onResult: (status) => deps.metrics?.councilRecord(status) }).then(
        (outcome) => {
          if (outcome !== 'complete') logger.info({ requestId: context.requestId, outcome }, 'council import ended early');
        },
        (err: unknown) => {
          logger.error({ requestId: context.requestId, error: (err as Error)?.name }, 'council import failed');
          if (!res.headersSent) next(err);
          else res.destroy();
        }
      );
    }
  );
  router.all(COUNCIL_IMPORT_PATH, (_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(405, outcome('not-supported', `${COUNCIL_IMPORT_PATH} accepts POST only`), { Allow: 'POST' }));
  });
  return router;
}

/** Whole-request checks for an import, before anything is read: media type, encoding, declared size. */
function checkImportRequest(req: Request, maxBytes: number): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) throw httpError(400, 'required', 'Send the records as NDJSON (one council record per line), Content-Type application/x-ndjson');
  if (!req.is(NDJSON_TYPES)) {
    throw httpError(415, 'not-supported', `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/x-ndjson`, ['Content-Type']);
  }
  const charset = /;\s*charset="?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') throw httpError(415, 'not-supported', 'NDJSON is read as UTF-8 only', ['Content-Type']);
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity') throw httpError(415, 'not-supported', `Content-Encoding "${encoding}" is not supported`, ['Content-Encoding']);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw httpError(413, 'too-costly', `An import may be at most ${maxBytes} bytes; split the file`);
}

interface ImportHttpOptions {
  pushBatch: (items: BatchItem[]) => Promise<PushResult[]>;
  window: number;
  batchSize: number;
  maxLineBytes: number;
  maxTotalBytes: number;
  /** Told each line's result status as it is answered (metrics). */
  onResult?: (status: ImportLineResult['status']) => void;
}

/**
 * POST /council/v1/import: the request body is read as a stream of NDJSON
 * lines, pushed in batches of records sharing one transaction (each record
 * in its own savepoint, so still stored whole or not at all, with the same
 * checks and outcomes as POST /records), and the answer is a stream of NDJSON
 * too, one result per record line in input order as each batch commits, then
 * a summary line. The status (200) is sent before the first line is
 * read, so anything that goes wrong later is said in the stream: a line of
 * `{ "error": OperationOutcome }` before the summary. No summary line means
 * the import was cut off (the client went away); every record answered was
 * stored whole or not at all, and re-sending the file is harmless.
 *
 * Memory stays flat: a line is read only when there is room in the window,
 * so TCP holds the client back, and an answer is written before the next
 * record is taken (waiting while the client's side of the connection is full).
 */
async function importNdjson(req: Request, res: Response, o: ImportHttpOptions): Promise<'complete' | 'client-gone' | 'too-large'> {
  let gone = false;
  const onClose = (): void => {
    if (!res.writableFinished) gone = true;
  };
  res.once('close', onClose);
  req.once('aborted', () => (gone = true));
  res.status(200);
  res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.flushHeaders();

  const writeLine = (value: unknown): Promise<void> =>
    new Promise((resolve) => {
      if (gone || res.destroyed || res.writableEnded) {
        resolve();
        return;
      }
      if (res.write(`${JSON.stringify(value)}\n`)) {
        resolve();
        return;
      }
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });

  // destroyOnReturn false: stopping early must not destroy the request, which
  // would take the socket, and the answer, with it.
  const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  const lines = ndjsonLines(body, { maxLineBytes: o.maxLineBytes, maxTotalBytes: o.maxTotalBytes });
  let summary: ImportSummary | undefined;
  let ended: 'complete' | 'client-gone' | 'too-large' = 'complete';
  const counted: ImportSummary = { lines: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  try {
    summary = await runImport(lines, {
      pushBatch: o.pushBatch,
      batchSize: o.batchSize,
      write: (r: ImportLineResult) => {
        counted.lines += 1;
        counted[r.status] += 1;
        o.onResult?.(r.status);
        return writeLine(r);
      },
      window: o.window,
      maxLineBytes: o.maxLineBytes,
      stopped: () => gone,
    });
  } catch (err) {
    if (err instanceof StreamTooLargeError) {
      ended = 'too-large';
      const text = `The import is larger than ${o.maxTotalBytes} bytes: reading stopped there, and no line after the last one answered was stored. Split the file`;
      await writeLine({ error: outcome('too-costly', text) });
    } else if (gone) {
      ended = 'client-gone';
    } else {
      throw err;
    }
  } finally {
    res.off('close', onClose);
  }
  if (gone) return 'client-gone';
  await writeLine({ summary: summary ?? counted });
  res.end();
  return ended;
}

/**
 * The pushing council's ODS code, from its token. Only a local authority
 * holding system/council.write may push; in open-development mode there is
 * no token, so no council to store records under, and pushes are refused.
 */
function councilOdsOf(context: RequestContext): string {
  if (context.authMode === 'smart') requireScopes(context, [{ target: 'council', anyOf: ['c'] }]);
  const org = context.actor?.organisation;
  if (!org || org.kind !== 'local-authority') {
    throw httpError(403, 'forbidden', 'Only a council (an organisation of kind local-authority) may push council records');
  }
  return org.ods;
}

async function push(deps: PushDeps, context: RequestContext, body: unknown): Promise<PushResponse> {
  if (body === undefined) {
    throw httpError(400, 'structure', 'Send one council record (a JSON object) or an array of them, as application/json');
  }
  const records = Array.isArray(body) ? body : [body];
  if (records.length === 0) throw httpError(400, 'required', 'The array holds no records');
  if (records.length > MAX_RECORDS_PER_PUSH) {
    throw httpError(413, 'too-costly', `At most ${MAX_RECORDS_PER_PUSH} records per request; send a whole caseload to POST /council/v1/import as NDJSON`);
  }
  const councilOds = councilOdsOf(context);
  // One after another: each record is its own transaction, and order matters
  // when an array holds two versions of the same record.
  const results: PushResult[] = [];
  for (const [index, record] of records.entries()) {
    results.push(await pushRecord(deps, context, councilOds, record, index));
  }
  return { results, summary: summarise(results) };
}
