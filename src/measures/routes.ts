import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Bundle } from '@medplum/fhirtypes';
import type { AppDeps } from '../http/app.ts';
import { HttpError, httpError, outcome } from '../http/outcome.ts';
import { IgExchangeAudit } from '../ig/ig-audit.ts';
import { loadJointWorkConfig } from '../joint-work/config.ts';
import type { RequestContext } from '../request-context.ts';
import { measuredOrganisation } from './access.ts';
import { EVALUATORS } from './compute.ts';
import { MEASURES, measureById } from './definitions.ts';
import type { MeasureId } from './definitions.ts';
import { parseEvaluateParams } from './params.ts';
import { periodOf } from './period.ts';
import { measureReport } from './report.ts';

const FHIR_JSON = 'application/fhir+json';
const EVALUATE = '$evaluate-measure';

/**
 * /fhir/Measure: our Measure definitions (read-only, any authenticated
 * client, like our CodeSystems) and $evaluate-measure (IG organisations and
 * managers only, src/measures/access.ts). Mounted after /fhir authentication
 * and body parsing, before the FHIR handler: Measure is not a stored type.
 * Each evaluation is audited as an 'operation' exchange about nobody (the
 * report names no one), a refusal as a deny, before the answer goes out.
 */
export function measuresRouter(deps: Pick<AppDeps, 'db' | 'audit' | 'logger'>, clock: () => Date = () => new Date()): express.Router {
  const router = express.Router();
  const holidays = loadJointWorkConfig().bankHolidays;

  router.get('/fhir/Measure', (req: Request, res: Response) => {
    const url = typeof req.query.url === 'string' ? req.query.url : undefined;
    const matches = MEASURES.filter((m) => !url || m.url === url);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      ...(matches.length ? { entry: matches.map((m) => ({ fullUrl: m.url as string, resource: m, search: { mode: 'match' as const } })) } : {}),
    };
    res.status(200).type(FHIR_JSON).send(JSON.stringify(bundle));
  });

  router.get('/fhir/Measure/:id', (req: Request, res: Response) => {
    const m = measureById(String(req.params.id));
    if (!m) throw httpError(404, 'not-found', 'No such Measure on this server (GET /fhir/Measure lists them)');
    res.status(200).type(FHIR_JSON).send(JSON.stringify(m));
  });

  const audited: RequestHandler = (req, res, next) => {
    const context = res.locals.context as RequestContext;
    new IgExchangeAudit(deps.audit, context, { interaction: 'operation', operation: EVALUATE, query: req.originalUrl.split('?')[1] ?? '' }).holdResponse(res, deps.logger);
    next();
  };
  const evaluate: RequestHandler = (req, res, next) => {
    run(req, res).catch(next);
  };
  const run = async (req: Request, res: Response): Promise<void> => {
    if (req.params.op !== EVALUATE) throw httpError(404, 'not-found', `Measure supports ${EVALUATE} only`);
    const measure = measureById(String(req.params.id));
    if (!measure) throw httpError(404, 'not-found', 'No such Measure on this server (GET /fhir/Measure lists them)');
    // Who may evaluate at all comes before the parameters: a refused client learns nothing from them.
    measuredOrganisation(res.locals.context as RequestContext, undefined);
    const params = parseEvaluateParams(req.query as Record<string, unknown>, req.method === 'POST' ? req.body : undefined);
    const ods = measuredOrganisation(res.locals.context as RequestContext, params.organization);
    const period = periodOf(params.periodStart, params.periodEnd);
    const now = clock();
    const groups = await EVALUATORS[measure.id as MeasureId]({ sql: deps.db, period, ods, holidays, now });
    res.status(200).type(FHIR_JSON).send(JSON.stringify(measureReport(measure, period, ods, groups, now)));
  };
  router.get('/fhir/Measure/:id/:op', audited, evaluate);
  router.post('/fhir/Measure/:id/:op', audited, evaluate);

  router.all(['/fhir/Measure', '/fhir/Measure/:id'], (_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(405, outcome('not-supported', 'Measures are read-only definitions'), { Allow: 'GET' }));
  });
  router.all('/fhir/Measure/:id/:op', (_req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(405, outcome('not-supported', `${EVALUATE} accepts GET and POST`), { Allow: 'GET, POST' }));
  });
  return router;
}
