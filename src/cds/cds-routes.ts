import { randomUUID } from 'node:crypto';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { authenticate, requireScopes } from '../auth/authenticate.ts';
import type { AppDeps } from '../http/app.ts';
import { jsonBody } from '../http/json-body.ts';
import { HttpError, httpError, outcome } from '../http/outcome.ts';
import type { Actor, RequestContext } from '../request-context.ts';
import { ExchangeAudit } from '../audit/exchange-audit.ts';
import { auditBeforeResponse } from '../http/audit-response.ts';
import { toCard } from './cards.ts';
import type { ConsentCard } from './cards.ts';
import { consult } from './consult.ts';
import { CDS_SERVICES_PATH, CONSULT_PATH, discoveryDocument } from './discovery.ts';
import { findPatients, organisationKind } from './lookups.ts';
import { readConsultRequest } from './request-schema.ts';
import type { ConsultQuestion } from './request-schema.ts';
import type { Requester } from '../gate/types.ts';

export type CdsDeps = Pick<AppDeps, 'config' | 'db' | 'auth' | 'gate' | 'logger' | 'baseUrl' | 'audit'>;

/**
 * GET /cds-services (discovery, public like the other discovery documents)
 * and POST /cds-services/patient-consent-consult (docs/cds-hooks.md). The
 * consult asks the same pure engine the FHIR API enforces with, on the same
 * cached facts and policy, so its answer is what a read would get; it opens
 * no break-glass window and changes nothing.
 */
export function cdsRouter(deps: CdsDeps): express.Router {
  const router = express.Router();
  const { config, logger } = deps;
  // Token and permission before the body is read: an outsider costs no parsing.
  const requireToken = authenticate(deps.auth.tokens, config.AUTH_MODE, () => false, deps.auth.clientStatus);

  router.get(CDS_SERVICES_PATH, (_req: Request, res: Response) => {
    res.status(200).type('application/json').send(JSON.stringify(discoveryDocument()));
  });
  router.all(CDS_SERVICES_PATH, methodNotAllowed('GET'));

  router.post(
    CONSULT_PATH,
    requireToken,
    (_req: Request, res: Response, next: NextFunction) => {
      // A consult is an exchange like any other: it is audited (refusals too) before the answer goes out.
      const context = res.locals.context as RequestContext;
      auditBeforeResponse(res, new ExchangeAudit(deps.audit, context, 'operation', undefined, { operation: 'patient-consent-consult' }), logger, context.requestId);
      try {
        askerOf(context);
        next();
      } catch (err) {
        next(err);
      }
    },
    ...jsonBody(config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH),
    (req: Request, res: Response, next: NextFunction) => {
      const context = res.locals.context as RequestContext;
      answer(deps, askerOf(context), req.body).then(({ card, whatIf }) => {
        // The outcome only: the person asked about (identifiers, facts) stays out of the logs.
        logger.info({ requestId: context.requestId, summary: card.summary, whatIf }, 'consent consult');
        res.status(200).type('application/json').setHeader('Cache-Control', 'no-store').send(JSON.stringify({ cards: [card] }));
      }, next);
    }
  );
  router.all(CONSULT_PATH, methodNotAllowed('POST'));
  return router;
}

function methodNotAllowed(allow: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(new HttpError(405, outcome('not-supported', `${req.path} accepts ${allow} only`), { Allow: allow }));
  };
}

/**
 * The authenticated actor, allowed to ask: a consent decision is information
 * about a person's consents, so the token must allow reading Consent. In
 * open-development mode there is no actor to decide for, so no answer.
 */
function askerOf(context: RequestContext): Actor {
  if (context.authMode === 'open-development' || !context.actor) {
    throw httpError(403, 'forbidden', 'The consent decision service needs an authenticated client: it decides for the organisation the token names');
  }
  requireScopes(context, [{ target: 'Consent', anyOf: ['r', 's'] }]);
  return context.actor;
}

async function answer(deps: CdsDeps, asker: Actor, body: unknown): Promise<{ card: ConsentCard; whatIf: boolean }> {
  const question = readConsultRequest(body);
  const requesters = await requestersFor(deps, asker, question);
  const patientIds = await findPatients(deps.db, question.identifiers);
  const facts = await deps.gate.facts.get(deps.db, patientIds);
  const people = patientIds.flatMap((id) => facts.get(id) ?? []);
  const result = consult({ people, requesters, classes: question.classes, policy: await deps.gate.policy(deps.db), now: deps.gate.now() });
  const card = toCard(result, randomUUID(), `${deps.baseUrl}${CDS_SERVICES_PATH}`);
  return { card, whatIf: requesters.some((r) => r.ods !== asker.organisation.ods) };
}

/**
 * Who the question is about. A client asks for its own organisation and
 * with the purpose its token carries: anything else would let it learn
 * decisions it could never act on. Information governance may ask "what if"
 * for any organisation and purpose, which is what IG reviews need.
 */
async function requestersFor(deps: CdsDeps, asker: Actor, q: ConsultQuestion): Promise<Requester[]> {
  const ig = asker.organisation.kind === 'information-governance';
  const ods = q.actorOds ?? asker.organisation.ods;
  const purposes = q.purposes ?? [asker.purposeOfUse];
  if (!ig && ods !== asker.organisation.ods) {
    throw httpError(403, 'forbidden', 'A client may ask only about its own organisation as actor; "what if" questions for other organisations are for information-governance clients', ['$.context.actor']);
  }
  if (!ig && purposes.some((p) => p !== asker.purposeOfUse)) {
    throw httpError(403, 'forbidden', `A client may ask only for the purpose of use its access token carries (${asker.purposeOfUse})`, ['$.context.purposeOfUse']);
  }
  const kind = ods === asker.organisation.ods ? asker.organisation.kind : await organisationKind(deps.db, ods);
  return purposes.map((purpose) => ({
    clientId: asker.clientId,
    ods,
    kind,
    userId: asker.user.id,
    role: asker.user.role,
    purpose,
    ...(asker.justification ? { justification: asker.justification } : {}),
  }));
}
