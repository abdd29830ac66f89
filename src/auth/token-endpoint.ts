import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuditBatcher } from '../audit/audit-batcher.ts';
import { buildTokenFailureRecord } from '../audit/security-event.ts';
import type { Logger } from 'pino';
import type { SqlClient } from '../db/sql-client.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.ts';
import type { RequestContext } from '../request-context.ts';
import type { AccessTokens } from './access-token.ts';
import { verifyClientAssertion } from './client-assertion.ts';
import type { ClientRegistry } from './client-registry.ts';
import { JtiStore } from './jti-store.ts';
import type { JwksSource } from './jwks-source.ts';
import { OAuthError, sendOAuthError, setNoStore } from './oauth-error.ts';
import { parseScope, scopeCovers } from './scopes.ts';
import type { GrantedScope } from './scopes.ts';

export interface TokenEndpointDeps {
  clients: ClientRegistry;
  sql: SqlClient;
  tokens: AccessTokens;
  /** This endpoint's public URL: the aud every client assertion must carry. */
  tokenUrl: string;
  jwks: JwksSource;
  logger: Logger;
  /** Clock, ms since epoch (tests). */
  now?: () => number;
  /** Failed requests are recorded as security events (issue #6); absent in unit tests. */
  audit?: AuditBatcher;
}

const MAX_SCOPE_CHARS = 4000;

/**
 * POST /auth/token: SMART Backend Services client_credentials with a
 * private_key_jwt client assertion. Expects the form already parsed (app.ts
 * mounts express.urlencoded before it). Every answer, good or bad, is
 * no-store JSON; refusals are RFC 6749 section 5.2 errors.
 */
export function tokenEndpoint(deps: TokenEndpointDeps): RequestHandler {
  const jtis = new JtiStore(deps.sql, deps.now ? { now: deps.now } : {});
  const assertionDeps = { clients: deps.clients, jwks: deps.jwks, jtis, tokenUrl: deps.tokenUrl, ...(deps.now ? { now: deps.now } : {}) };

  return (req: Request, res: Response) => {
    const requestId = (res.locals.context as RequestContext | undefined)?.requestId;
    void (async () => {
      const form = readForm(req);
      const grantType = form.grant_type;
      if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is missing');
      if (grantType !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
      const verified = await verifyClientAssertion(assertionDeps, form);
      let scopes: GrantedScope[];
      try {
        scopes = grantScopes(verified.client.scopes, verified.requestedScopes);
      } catch (err) {
        if (err instanceof OAuthError) err.clientId = verified.client.clientId;
        throw err;
      }
      const issued = await deps.tokens.issue({ ...verified.actor, scopes });
      // Client, purpose and token id only: the user's id and name stay in the token.
      deps.logger.info({ requestId, clientId: verified.client.clientId, purposeOfUse: verified.actor.purposeOfUse, tokenId: issued.tokenId }, 'access token issued');
      setNoStore(res);
      res.status(200).json({ access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope });
    })().catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof OAuthError) {
        refuse(deps, req, res, err, requestId);
        return;
      }
      // Class and code only: a database message can quote values.
      const e = err as { name?: string; code?: string };
      if (isDatabaseUnavailable(err)) {
        deps.logger.warn({ requestId, error: e?.name, code: e?.code }, 'token endpoint: database unavailable');
        sendUnavailable(res);
        return;
      }
      deps.logger.error({ requestId, error: e?.name, code: e?.code }, 'token endpoint failed');
      serverError(res);
    });
  };
}

/**
 * A refusal, as a security event committed before the answer: who tried (if
 * they said) and why it failed; nothing else. If the event cannot be
 * committed, no refusal goes out either: a 503 or 500 instead.
 */
function refuse(deps: Pick<TokenEndpointDeps, 'audit' | 'logger'>, req: Request, res: Response, err: OAuthError, requestId: string | undefined): void {
  deps.logger.info({ requestId, clientId: err.clientId, error: err.error, reason: err.description }, 'token request refused');
  const claimed = err.clientId ?? (typeof req.body?.client_id === 'string' ? req.body.client_id : undefined);
  const recorded = deps.audit
    ? deps.audit.append(buildTokenFailureRecord({ recorded: new Date(), ...(claimed ? { clientId: claimed } : {}), error: err.error, ...(requestId ? { requestId } : {}) }))
    : Promise.resolve(0);
  recorded.then(
    () => sendOAuthError(res, err),
    (auditErr: unknown) => {
      deps.logger.error({ requestId, error: (auditErr as Error)?.name, code: (auditErr as { code?: string })?.code }, 'token failure could not be audited');
      if (isDatabaseUnavailable(auditErr)) sendUnavailable(res);
      else serverError(res);
    }
  );
}

/**
 * Body-parser failures on the token endpoint (a body too large, not a
 * form): refused as RFC 6749 invalid_request, not OperationOutcomes, and
 * recorded as security events like every other failed token request.
 */
export function tokenFormError(deps: Pick<TokenEndpointDeps, 'audit' | 'logger'>): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const type = (err as { type?: string })?.type;
    if (typeof type !== 'string' || res.headersSent) {
      next(err);
      return;
    }
    const description = type === 'entity.too.large' ? 'The request is too large' : 'The request body is not a valid form';
    refuse(deps, req, res, new OAuthError('invalid_request', description), (res.locals.context as RequestContext | undefined)?.requestId);
  };
}

function serverError(res: Response): void {
  setNoStore(res);
  res.status(500).json({ error: 'server_error', error_description: 'Internal error; no token was issued' });
}

/** RFC 6749 section 4.1.2.1's temporarily_unavailable, as a 503 with Retry-After: the client should simply try again. */
function sendUnavailable(res: Response): void {
  setNoStore(res);
  res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  res.status(503).json({ error: 'temporarily_unavailable', error_description: `The database is unavailable; no token was issued. Try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds.` });
}

/**
 * The form as single string values. RFC 6749 section 3.2: parameters must
 * not repeat, and the body must be a form (a JSON body is a client bug we
 * name rather than misread).
 */
function readForm(req: Request): Record<string, string> {
  if (!req.is('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'Send the token request as application/x-www-form-urlencoded');
  }
  const body: unknown = req.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OAuthError('invalid_request', 'The request body is not a valid form');
  const form: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `Parameter ${safeName(name)} must be given once`);
    form[name] = value;
  }
  return form;
}

/** Parameter names are echoed only when they look like ours, never as the caller wrote something else. */
function safeName(name: string): string {
  return /^[a-z_]{1,40}$/.test(name) ? name : '(a parameter)';
}

/**
 * Requested ∩ allowed: every requested scope must be covered by one the
 * client is registered for (else invalid_scope), and is granted exactly as
 * asked. Nothing requested → everything the client is registered for.
 */
export function grantScopes(allowed: readonly string[], requested: string | undefined): GrantedScope[] {
  const allowedParsed = allowed.map(parseScope).filter((s): s is GrantedScope => s !== undefined);
  if (requested === undefined || requested.trim() === '') return allowedParsed;
  if (requested.length > MAX_SCOPE_CHARS) throw new OAuthError('invalid_scope', `scope is longer than ${MAX_SCOPE_CHARS} characters`);
  const granted = new Map<string, GrantedScope>();
  for (const text of requested.split(' ').filter(Boolean)) {
    const wanted = parseScope(text);
    if (!wanted) throw new OAuthError('invalid_scope', 'Only SMART system scopes are supported (e.g. system/CarePlan.rs)');
    if (!allowedParsed.some((g) => scopeCovers(g, wanted))) {
      throw new OAuthError('invalid_scope', 'A requested scope is beyond what this client is registered for');
    }
    granted.set(text, wanted);
  }
  return [...granted.values()];
}
