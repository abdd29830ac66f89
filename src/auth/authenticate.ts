import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpError, outcome } from '../http/outcome.ts';
import type { RequestContext } from '../request-context.ts';
import { InvalidTokenError } from './access-token.ts';
import type { AccessTokens } from './access-token.ts';
import type { ClientStatusCache } from './client-status.ts';
import { allows } from './scopes.ts';
import type { Permission } from './scopes.ts';

export const REALM = 'joinedup';

/** What one interaction needs: any one of `anyOf` on `target` (a resource type or one of our surfaces). */
export interface ScopeNeed {
  target: string;
  anyOf: readonly Permission[];
}

// RFC 6750 section 2.1: b64token. Anything else after "Bearer " is not a token we could have issued.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Requires a valid bearer token (RFC 6750) and puts its actor into the
 * request context; nothing downstream reads the Authorization header. `isPublic`
 * names the paths that stay open (the CapabilityStatement). In
 * open-development mode it lets everything through with no actor: that mode
 * exists only for local experiments and the auth benchmark.
 */
export function authenticate(
  tokens: AccessTokens,
  mode: RequestContext['authMode'],
  isPublic: (req: Request) => boolean,
  clientStatus?: Pick<ClientStatusCache, 'isActive'>
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (mode === 'open-development' || isPublic(req)) {
      next();
      return;
    }
    const header = req.headers.authorization;
    if (header === undefined || !/^Bearer(\s|$)/i.test(header)) {
      // No credentials at all (or another scheme): no error code, per RFC 6750 section 3.1.
      next(unauthenticated('This endpoint requires a SMART Backend Services access token (Authorization: Bearer ...)'));
      return;
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      next(unauthenticated('The access token is malformed', 'The access token is malformed'));
      return;
    }
    const verified = async () => {
      const actor = await tokens.verify(token);
      // A suspended client's unexpired tokens stop working too (within the status cache's ttl).
      if (clientStatus && !(await clientStatus.isActive(actor.clientId))) {
        throw new InvalidTokenError('The client this token was issued to is suspended');
      }
      return actor;
    };
    verified().then(
      (actor) => {
        const context = res.locals.context as RequestContext;
        res.locals.context = { ...context, actor } satisfies RequestContext;
        next();
      },
      (err: unknown) => {
        if (err instanceof InvalidTokenError) next(unauthenticated(err.message, err.message));
        else next(err);
      }
    );
  };
}

/**
 * Throws 403 insufficient_scope unless the context's token allows every need.
 * In open-development mode there is no actor and nothing to check.
 */
export function requireScopes(context: RequestContext, needs: readonly ScopeNeed[], where?: string): void {
  // Public routes (metadata) and Bundles (checked entry by entry) need nothing and may have no actor.
  if (context.authMode === 'open-development' || needs.length === 0) return;
  const actor = context.actor;
  if (!actor) {
    // The authenticate middleware guarantees an actor in smart mode; reaching here without one is a wiring bug, refused safely.
    throw unauthenticated('This endpoint requires a SMART Backend Services access token (Authorization: Bearer ...)');
  }
  for (const need of needs) {
    if (need.anyOf.some((p) => allows(actor.scopes, need.target, p))) continue;
    const wanted = need.anyOf.map((p) => `system/${need.target}.${p}`);
    const text = `The access token's scopes do not allow this: it needs ${wanted.join(' or ')}${where ? ` (${where})` : ''}`;
    throw new HttpError(403, outcome('forbidden', text, where ? [where] : undefined), {
      'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${wanted.join(' ')}"`,
    });
  }
}

/** 401 with the challenge RFC 6750 asks for; `error` only when a token was presented. */
function unauthenticated(text: string, description?: string): HttpError {
  const challenge =
    description === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
  return new HttpError(401, outcome('login', text), { 'WWW-Authenticate': challenge });
}
