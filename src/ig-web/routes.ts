import { readFileSync } from 'node:fs';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { StoredAuditContentError } from '../audit/stored-event.ts';
import { demoWanted } from '../auth/demo-seed.ts';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import { listAgreements } from '../gate/agreements/agreement-store.ts';
import { DATA_CLASSES } from '../gate/types.ts';
import type { AppDeps } from '../http/app.ts';
import { HttpError } from '../http/outcome.ts';
import { accessReportCsv, loadAccessReport, patientIdsByNhsNumber } from '../ig/access-report.ts';
import { FILTER_SHAPE, parseParams } from '../ig/audit-filters.ts';
import { searchAuditRows } from '../ig/audit-query.ts';
import { IgExchangeAudit } from '../ig/ig-audit.ts';
import type { IgAuditTarget } from '../ig/ig-audit.ts';
import { exportCsv } from '../ig/ig-handlers.ts';
import { accessReportBodySchema } from '../ig/report-params.ts';
import { parseSeq, reviewOverride, reviewQueue } from '../ig/reviews.ts';
import type { RequestContext } from '../request-context.ts';
import { page } from './html.ts';
import type { Html } from './html.ts';
import { ChainMonitor } from './chain-status.ts';
import { OidcSignIn } from './oidc.ts';
import { igOidcSettings } from './oidc-config.ts';
import { accessReportForm, accessReportPage, agreementsPage, auditPage, errorBody, overviewPage, reviewsPage, whatIfPage } from './pages.ts';
import { loadOverview, whatIf } from './queries.ts';
import type { WhatIfQuestion } from './queries.ts';
import { actorOf, cookieIsSecure, csrfMatches, sessionIdOf, SessionStore } from './session.ts';
import { signInRoutes } from './sign-in.ts';
import type { IgWebSession, IgWebUser } from './session.ts';

export type IgWebDeps = Pick<AppDeps, 'config' | 'db' | 'auth' | 'audit' | 'logger' | 'baseUrl' | 'gate'>;

/**
 * Everything the page loads comes from here; forms post only here (and may
 * redirect on to the single sign-on provider); nobody may frame it.
 */
export function igWebCsp(formTargets: readonly string[] = []): string {
  return `default-src 'self'; base-uri 'none'; form-action ${["'self'", ...formTargets].join(' ')}; frame-ancestors 'none'; object-src 'none'`;
}

const CSS = readFileSync(new URL('./static/ig.css', import.meta.url), 'utf8');
const PAGE_SIZE = 50;
const FORM_LIMIT = 8 * 1024;

type SignedIn = IgWebSession & { user: IgWebUser };

/** The filters the web search takes: none about a person (no patient, no user), since they end up in the URL. */
const webSearchSchema = z.strictObject({
  from: FILTER_SHAPE.from,
  to: FILTER_SHAPE.to,
  outcome: FILTER_SHAPE.outcome,
  purpose: FILTER_SHAPE.purpose,
  'lawful-basis': FILTER_SHAPE['lawful-basis'],
  organisation: FILTER_SHAPE.organisation,
  override: FILTER_SHAPE.override,
  review: FILTER_SHAPE.review,
  _cursor: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

const whatIfSchema = z.strictObject({
  csrf: z.string(),
  actorOds: z.string().trim().regex(/^[A-Za-z0-9]{3,12}$/, 'an ODS code').transform((s) => s.toUpperCase()),
  purpose: z.enum(PURPOSE_CODES),
  nhsNumber: z.string().transform((s) => s.replace(/\s+/g, '')).pipe(z.string().regex(/^\d{10}$/, 'ten digits')),
  dataClass: z.enum(DATA_CLASSES),
  role: z.string().trim().regex(/^[A-Z]\d{4}$/, 'an SDS job role code such as R8000'),
});

/**
 * The IG web page under /ig (docs/ig-web.md): server-rendered HTML over the
 * same functions the IG API (src/ig/) uses, behind a cookie session kept in
 * the database. Sign-in (src/ig-web/sign-in.ts) is OpenID Connect single
 * sign-on when IG_OIDC_* is configured, and the built-in demo sign-in in
 * demo mode only; with neither, /ig says sign-in is not configured. Every view of
 * personal data (audit search, CSV, access report, review queue, what-if) is
 * audited as an IG exchange, committed before the page is sent.
 */
export function igWebRouter(deps: IgWebDeps): express.Router {
  const router = express.Router();
  const demo = demoWanted(deps.config.DEMO_DATA, deps.db.kind);
  const secure = cookieIsSecure(deps.baseUrl);
  const sessions = new SessionStore(deps.db, deps.config.IG_WEB_SESSION_IDLE_MINUTES * 60_000);
  const oidcSettings = igOidcSettings(deps.config);
  const oidc = oidcSettings ? new OidcSignIn(oidcSettings, `${deps.baseUrl}/ig/sign-in/callback`) : undefined;
  const chain = new ChainMonitor(deps.db);
  oidc?.warmUp();
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 20 });

  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', igWebCsp(oidc?.formActionOrigins()));
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
  const send = (res: Response, status: number, title: string, body: Html, session?: IgWebSession, path?: string) => {
    res.status(status).type('text/html; charset=utf-8').send(page({ title, ...(path ? { path } : {}), ...(session ? { session } : {}) }, body));
  };
  const sessionOf = (req: Request) => sessions.get(sessionIdOf(req));

  /** GET pages: a signed-in session or off to the sign-in page. */
  const signedIn: RequestHandler = (req, res, next) => {
    sessionOf(req).then((s) => {
      if (!s?.user) {
        res.redirect(302, '/ig/sign-in');
        return;
      }
      res.locals.igSession = s;
      next();
    }, next);
  };
  /** POSTs: a session and its CSRF token in the form, or 403 before anything is done. */
  const checked = (needUser: boolean): RequestHandler[] => [
    form,
    (req, res, next) => {
      sessionOf(req).then((s) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (!s || (needUser && !s.user) || !csrfMatches(s, body.csrf)) {
          send(res, 403, 'Request refused', errorBody('This form has expired or did not come from this site. Go back, reload the page and try again (you may need to sign in again).'), s?.user ? s : undefined);
          return;
        }
        res.locals.igSession = s;
        next();
      }, next);
    },
  ];
  const sessionIn = (res: Response) => res.locals.igSession as SignedIn;
  /** Audits the exchange like the IG API does (src/ig/ig-audit.ts), as the signed-in user, and holds the answer until it is committed. */
  const audit = (res: Response, target: IgAuditTarget): IgExchangeAudit => {
    const base = res.locals.context as RequestContext;
    const context: RequestContext = { requestId: base.requestId, authMode: 'smart', actor: actorOf(sessionIn(res)) };
    res.locals.context = context;
    const a = new IgExchangeAudit(deps.audit, context, target);
    res.locals.igAudit = a;
    a.holdResponse(res, deps.logger);
    return a;
  };
  const run =
    (h: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    (req, res, next) =>
      void h(req, res).catch(next);

  router.use('/ig', (req, res, next) => {
    // The IG API under /ig/v1 has its own router and headers.
    if (req.path.startsWith('/v1/') || req.path === '/v1') {
      next('router');
      return;
    }
    headers(req, res, next);
  });

  router.get('/ig/static/ig.css', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.status(200).type('text/css; charset=utf-8').send(CSS);
  });

  signInRoutes(router, { deps, sessions, oidc, demo, secure, send, checked, run, sessionOf });

  router.get('/ig', signedIn, run(async (_req, res) => {
    const overview = await loadOverview(deps.db, new Date());
    send(res, 200, 'Overview', overviewPage(overview, await chain.status()), sessionIn(res), '/ig');
  }));

  router.get('/ig/audit', signedIn, run(async (req, res) => {
    const query = cleanQuery(req);
    audit(res, { interaction: 'search-type', query: new URLSearchParams(query).toString() });
    const { _cursor, ...filters } = parseParams(webSearchSchema, query);
    const rows = await searchAuditRows(deps.db, filters, PAGE_SIZE, _cursor);
    const filterQuery = new URLSearchParams(Object.entries(query).filter(([k]) => k !== '_cursor')).toString();
    const last = rows[rows.length - 1];
    const next = rows.length === PAGE_SIZE && last ? new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(filterQuery)), _cursor: String(last.seq) }).toString() : undefined;
    send(res, 200, 'Audit search', auditPage(filters, rows, filterQuery, next), sessionIn(res), '/ig/audit');
  }));

  router.get('/ig/audit.csv', signedIn, run(async (req, res) => {
    const query = cleanQuery(req);
    audit(res, { interaction: 'search-type', query: new URLSearchParams(query).toString(), operation: 'csv-export' });
    const { _cursor: _ignored, ...filters } = parseParams(webSearchSchema, query);
    res.removeHeader('Content-Security-Policy');
    // The IG API's exporter, given the checked filters (it reads only req.query).
    await exportCsv(deps, { query: filters } as unknown as Request, res);
  }));

  router.get('/ig/access-report', signedIn, (_req, res) => {
    send(res, 200, 'Access report', accessReportForm(sessionIn(res)), sessionIn(res), '/ig/access-report');
  });

  router.post('/ig/access-report', ...checked(true), run(async (req, res) => {
    // No query recorded: the lookup is by NHS number, in the body, and stays out of the audit trail too.
    audit(res, { interaction: 'operation', operation: 'access-report' });
    const s = sessionIn(res);
    const { csrf: _csrf, ...rest } = req.body as Record<string, unknown>;
    const parsed = accessReportBodySchema.safeParse(rest);
    if (!parsed.success) {
      send(res, 400, 'Access report', accessReportForm(s, 'Enter an NHS number: 10 digits.'), s, '/ig/access-report');
      return;
    }
    const ids = await patientIdsByNhsNumber(deps.db, parsed.data.nhsNumber);
    if (!ids.length) {
      send(res, 404, 'Access report', accessReportForm(s, 'No Patient record carries this NHS number.'), s, '/ig/access-report');
      return;
    }
    const entries = await loadAccessReport(deps.db, ids);
    if (parsed.data.format === 'csv') {
      res.removeHeader('Content-Security-Policy');
      res.status(200).type('text/csv; charset=utf-8; header=present').setHeader('Content-Disposition', 'attachment; filename="access-report.csv"');
      res.send(accessReportCsv(entries));
      return;
    }
    const by = `${s.user.name}, ${s.user.organisation.name} (${s.user.organisation.ods})`;
    send(res, 200, 'Who has accessed this record', accessReportPage(s, parsed.data.nhsNumber, ids, entries, by), s, '/ig/access-report');
  }));

  router.get('/ig/reviews', signedIn, run(async (req, res) => {
    audit(res, { interaction: 'search-type', query: 'state=pending' });
    const done = typeof req.query.done === 'string' && /^\d{1,15}$/.test(req.query.done) ? Number(req.query.done) : undefined;
    const rows = await reviewQueue(deps.db, { state: 'pending', _count: 100 });
    send(res, 200, 'Review queue', reviewsPage(sessionIn(res), rows, done), sessionIn(res), '/ig/reviews');
  }));

  router.post('/ig/reviews/:seq', ...checked(true), run(async (req, res) => {
    const s = sessionIn(res);
    const seq = parseSeq(typeof req.params.seq === 'string' ? req.params.seq : undefined);
    const { csrf: _csrf, note, outcome } = req.body as Record<string, string | undefined>;
    // The review IS the audit record of this exchange (src/ig/reviews.ts).
    await reviewOverride(deps.db, actorOf(s), seq, { outcome, ...(note?.trim() ? { note: note.trim() } : {}) }, (res.locals.context as RequestContext).requestId);
    res.redirect(303, `/ig/reviews?done=${seq}`);
  }));

  router.get('/ig/what-if', signedIn, (_req, res) => {
    send(res, 200, 'What if', whatIfPage(sessionIn(res), {}), sessionIn(res), '/ig/what-if');
  });

  router.post('/ig/what-if', ...checked(true), run(async (req, res) => {
    audit(res, { interaction: 'operation', operation: 'ig-what-if' });
    const s = sessionIn(res);
    const parsed = whatIfSchema.safeParse(req.body);
    const typed = req.body as Partial<WhatIfQuestion>;
    if (!parsed.success) {
      const name = String(parsed.error.issues[0]?.path[0] ?? '');
      send(res, 400, 'What if', whatIfPage(s, typed, undefined, `Check "${name}": ${parsed.error.issues[0]?.message ?? 'not valid'}.`), s, '/ig/what-if');
      return;
    }
    const { csrf: _csrf, ...q } = parsed.data;
    const answer = await whatIf(deps.db, deps.gate, q);
    send(res, 200, 'What if', whatIfPage(s, q, answer), s, '/ig/what-if');
  }));

  router.get('/ig/agreements', signedIn, run(async (_req, res) => {
    send(res, 200, 'Sharing agreements in force', agreementsPage(await listAgreements(deps.db, new Date())), sessionIn(res), '/ig/agreements');
  }));

  // Errors on these pages answer as pages, not OperationOutcomes; the message of an HttpError is ours, never the caller's input.
  router.use('/ig', (err: unknown, req: Request, res: Response, next: NextFunction) => {
    // Errors of the IG API (/ig/v1, mounted before this router) stay OperationOutcomes.
    if (res.headersSent || /^\/ig\/v1(\/|$|\?)/.test(req.originalUrl)) {
      next(err);
      return;
    }
    const s = res.locals.igSession as IgWebSession | undefined;
    if (err instanceof HttpError) {
      send(res, err.status, 'Something needs attention', errorBody(err.message), s?.user ? s : undefined);
      return;
    }
    deps.logger.error({ requestId: (res.locals.context as RequestContext | undefined)?.requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'IG web page failed');
    if (err instanceof StoredAuditContentError) {
      send(res, 500, 'A damaged audit record', errorBody(err.message), s?.user ? s : undefined);
      return;
    }
    send(res, 500, 'Something went wrong', errorBody('Something went wrong on our side; nothing was changed. Try again later.'), s?.user ? s : undefined);
  });
  return router;
}

/** The query without empty fields (a GET form sends every field, filled or not). */
function cleanQuery(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) {
    if (typeof v !== 'string') throw new HttpError(400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'value', details: { text: `Parameter "${k}" is repeated` } }] });
    if (v.trim() !== '') out[k] = v.trim();
  }
  return out;
}
