import type { NextFunction, Request, Response } from 'express';
import { allows } from '../auth/scopes.ts';
import { httpError } from '../http/outcome.ts';
import type { Actor, RequestContext } from '../request-context.ts';

/**
 * The IG API is for information-governance organisations only, and only
 * with the system/ig.read scope: both, because a scope is what a client
 * asked for while the organisation kind is what the operator registered it
 * as. A council granted ig.read by mistake still gets nothing. In
 * open-development mode there is no verified actor, so nothing either:
 * the audit trail names people.
 */
export function igActorOf(context: RequestContext): Actor {
  const actor = context.actor;
  if (!actor || context.authMode !== 'smart') {
    throw httpError(403, 'forbidden', 'The IG API needs an authenticated information-governance client');
  }
  if (actor.organisation.kind !== 'information-governance') {
    throw httpError(403, 'forbidden', 'The IG API is for information-governance organisations only');
  }
  if (!allows(actor.scopes, 'ig', 'r')) {
    throw httpError(403, 'forbidden', "The access token's scopes do not allow this: it needs system/ig.read");
  }
  return actor;
}

/** Express guard: runs after authenticate, before any body is read. */
export function requireIg(_req: Request, res: Response, next: NextFunction): void {
  try {
    igActorOf(res.locals.context as RequestContext);
    next();
  } catch (err) {
    next(err);
  }
}
