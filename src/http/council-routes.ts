import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { authenticate, requireScopes } from '../auth/authenticate.ts';
import { ClientStatusCache } from '../auth/client-status.ts';
import { pushRecord } from '../council/push/push-record.ts';
import type { PushDeps } from '../council/push/push-record.ts';
import { summarise } from '../council/push/push-outcome.ts';
import type { PushResponse, PushResult } from '../council/push/push-outcome.ts';
import type { RequestContext } from '../request-context.ts';
import type { AppDeps } from './app.ts';
import { jsonBody } from './json-body.ts';
import { HttpError, httpError, outcome } from './outcome.ts';

export const COUNCIL_RECORDS_PATH = '/council/v1/records';

/** More than this in one request belongs in the NDJSON import, which streams. */
export const MAX_RECORDS_PER_PUSH = 1000;

/**
 * POST /council/v1/records: one council record or an array of them, each
 * pushed in its own transaction, answered 200 with a result per record (see
 * docs/council-format.md, "Pushing records"). Only a council's client may
 * push, and what it pushes is stored under its own ODS code.
 */
export function councilRouter(deps: Pick<AppDeps, 'config' | 'db' | 'validator' | 'logger' | 'auth' | 'baseUrl'>): express.Router {
  const router = express.Router();
  const { config, logger } = deps;
  const pushDeps = (context: RequestContext): PushDeps => ({
    db: deps.db,
    validator: deps.validator,
    baseUrl: `${deps.baseUrl}/fhir`,
    onDbError: (err) => logger.error({ requestId: context.requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'database error'),
  });

  router.post(
    COUNCIL_RECORDS_PATH,
    // Token and permission before the body is read: an outsider costs no parsing.
    authenticate(deps.auth.tokens, config.AUTH_MODE, () => false, new ClientStatusCache(deps.auth.clients, config.CLIENT_STATUS_TTL_MS)),
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
      push(pushDeps(context), context, req.body).then((body) => {
        res.status(200).type('application/json').send(JSON.stringify(body));
      }, next);
    }
  );
  router.all(COUNCIL_RECORDS_PATH, (_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(405, outcome('not-supported', `${COUNCIL_RECORDS_PATH} accepts POST only`), { Allow: 'POST' }));
  });
  return router;
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
