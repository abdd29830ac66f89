import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authenticate } from '../auth/authenticate.ts';
import { jsonBody } from '../http/json-body.ts';
import { HttpError, outcome } from '../http/outcome.ts';
import type { RequestContext } from '../request-context.ts';
import { IG_BASE_PATH } from './audit-bundle.ts';
import { requireIg } from './ig-access.ts';
import { IgExchangeAudit } from './ig-audit.ts';
import type { IgAuditTarget } from './ig-audit.ts';
import {
  accessReportById,
  accessReportByNhsNumber,
  exportCsv,
  listReviews,
  postReview,
  readEvent,
  searchEvents,
  verifyChain,
} from './ig-handlers.ts';
import type { IgDeps } from './ig-handlers.ts';

type Handler = (deps: IgDeps, req: Request, res: Response) => Promise<void>;

/** Form posts from the IG web page: a handful of short fields. */
const FORM_LIMIT = 8 * 1024;

/**
 * The IG API (docs/ig-api.md) under /ig/v1: the audit trail's search, CSV
 * export, a person's access report, the override review queue and chain
 * verification. Information-governance clients with system/ig.read only;
 * each exchange is itself audited (a review by the review record it writes).
 */
export function igRouter(deps: IgDeps): express.Router {
  const router = express.Router();
  const requireToken = authenticate(deps.auth.tokens, deps.config.AUTH_MODE, () => false, deps.auth.clientStatus);
  const body = [...jsonBody(deps.config.MAX_BODY_BYTES, deps.config.MAX_JSON_DEPTH), express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 10 })];

  // Audit starts before the IG check, so a refused attempt on the audit trail is itself recorded.
  const audited = (target: (req: Request) => IgAuditTarget): RequestHandler => (req, res, next) => {
    const audit = new IgExchangeAudit(deps.audit, res.locals.context as RequestContext, target(req));
    res.locals.igAudit = audit;
    audit.holdResponse(res, deps.logger);
    next();
  };
  const queryOf = (req: Request) => req.originalUrl.split('?')[1] ?? '';
  const run = (h: Handler): RequestHandler => (req, res, next) => void h(deps, req, res).catch(next);
  const route = (method: 'get' | 'post', path: string, target: (req: Request) => IgAuditTarget, h: Handler, parse: RequestHandler[] = []) => {
    router[method](`${IG_BASE_PATH}${path}`, requireToken, audited(target), requireIg, ...parse, run(h));
  };

  route('get', '/audit-events', (req) => ({ interaction: 'search-type', query: queryOf(req) }), searchEvents);
  route('get', '/audit-events.csv', (req) => ({ interaction: 'search-type', query: queryOf(req), operation: 'csv-export' }), exportCsv);
  route('get', '/audit-events/:seq', () => ({ interaction: 'read' }), readEvent);
  route('get', '/patients/:patientId/access-report', (req) => ({ interaction: 'operation', operation: 'access-report', query: queryOf(req) }), accessReportById);
  // No query recorded: the lookup is by NHS number, in the body, and stays out of the audit trail too.
  route('post', '/access-report', () => ({ interaction: 'operation', operation: 'access-report' }), accessReportByNhsNumber, body);
  route('get', '/reviews', (req) => ({ interaction: 'search-type', query: queryOf(req) }), listReviews);
  route('post', '/reviews/:seq', () => ({ interaction: 'update' }), postReview, body);
  route('get', '/audit-chain/verify', () => ({ interaction: 'operation', operation: 'audit-chain-verify' }), verifyChain);

  for (const [path, allow] of [
    ['/audit-events', 'GET'],
    ['/audit-events.csv', 'GET'],
    ['/audit-events/:seq', 'GET'],
    ['/patients/:patientId/access-report', 'GET'],
    ['/access-report', 'POST'],
    ['/reviews', 'GET'],
    ['/reviews/:seq', 'POST'],
    ['/audit-chain/verify', 'GET'],
  ] as const) {
    router.all(`${IG_BASE_PATH}${path}`, (_req: Request, _res: Response, next: NextFunction) => {
      next(new HttpError(405, outcome('not-supported', `This IG endpoint accepts ${allow} only`), { Allow: allow }));
    });
  }
  return router;
}
