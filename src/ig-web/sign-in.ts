import type { Request, RequestHandler, Response, Router } from 'express';
import { DEMO_CLIENTS } from '../auth/demo-manifest.ts';
import type { RequestContext } from '../request-context.ts';
import type { Html } from './html.ts';
import { ProviderUnavailableError, SignInExpiredError } from './oidc.ts';
import type { OidcSignIn } from './oidc.ts';
import { errorBody, signInPage, signInProblem } from './pages.ts';
import type { IgWebDeps } from './routes.ts';
import { clearSessionCookie, sessionIdOf, setSessionCookie } from './session.ts';
import type { IgWebSession, IgWebUser, SessionStore } from './session.ts';

/** What the sign-in routes share with the rest of the IG web page (src/ig-web/routes.ts). */
export interface SignInKit {
  deps: IgWebDeps;
  sessions: SessionStore;
  oidc: OidcSignIn | undefined;
  demo: boolean;
  secure: boolean;
  send(res: Response, status: number, title: string, body: Html, session?: IgWebSession): void;
  checked(needUser: boolean): RequestHandler[];
  run(h: (req: Request, res: Response) => Promise<void>): RequestHandler;
  sessionOf(req: Request): Promise<IgWebSession | undefined>;
}

/** The demo IG user: the demo manifest's information-governance client's user. */
function demoUser(): IgWebUser {
  const spec = DEMO_CLIENTS.find((c) => c.organisation.kind === 'information-governance');
  const u = spec?.users[0];
  if (!spec || !u) throw new Error('demo manifest has no information-governance user');
  return { id: u.id, name: u.name, role: u.role, organisation: { ods: spec.organisation.ods, name: spec.organisation.name }, via: 'demo' };
}

/**
 * Sign-in and sign-out of the IG web page. Single sign-on (OpenID Connect,
 * src/ig-web/oidc.ts) when configured: the sign-in form (CSRF-checked, on
 * an anonymous session) keeps state, nonce and PKCE verifier in that
 * session and sends the browser to the provider; the callback takes them
 * once, has openid-client check the answer, and only then issues a new
 * session id for the signed-in user. The demo sign-in exists in demo mode
 * only. Log lines say what happened, never who (no name, no sub).
 */
export function signInRoutes(router: Router, k: SignInKit): void {
  const { deps, sessions, oidc, demo, secure, send } = k;
  const ways = { demo, oidc: oidc !== undefined };
  const requestId = (res: Response) => (res.locals.context as RequestContext).requestId;
  const problem = (res: Response, status: number, kind: Parameters<typeof signInProblem>[0]) => send(res, status, 'Sign in', signInProblem(kind));

  router.get('/ig/sign-in', k.run(async (req, res) => {
    let s = await k.sessionOf(req);
    if (s?.user) {
      res.redirect(303, '/ig');
      return;
    }
    if (!ways.demo && !ways.oidc) {
      send(res, 503, 'Sign in', signInPage(undefined, ways));
      return;
    }
    if (!s) {
      s = await sessions.create();
      setSessionCookie(res, s.id, secure);
    }
    send(res, 200, 'Sign in', signInPage(s, ways));
  }));

  router.post('/ig/sign-in/demo', (req, res, next) => {
    if (!demo) {
      send(res, 404, 'Not available', errorBody('The demo sign-in is only available in demo mode.'));
      return;
    }
    next();
  }, ...k.checked(false), k.run(async (_req, res) => {
    await sessions.destroy((res.locals.igSession as IgWebSession).id);
    const s = await sessions.create(demoUser());
    setSessionCookie(res, s.id, secure);
    deps.logger.info({ requestId: requestId(res), user: s.user?.id, via: 'demo' }, 'IG web sign-in');
    res.redirect(303, '/ig');
  }));

  router.post('/ig/sign-in/oidc', (_req, res, next) => {
    if (!oidc) {
      send(res, 404, 'Not available', errorBody('Single sign-on is not configured on this gateway.'));
      return;
    }
    next();
  }, ...k.checked(false), k.run(async (_req, res) => {
    const s = res.locals.igSession as IgWebSession;
    try {
      const { url, pending } = await oidc!.start();
      await sessions.setPending(s.id, pending);
      // The provider's address with random values only: nothing about the person.
      res.redirect(303, url.href);
    } catch (err) {
      if (!(err instanceof ProviderUnavailableError)) throw err;
      deps.logger.warn({ requestId: requestId(res), reason: err.message }, 'IG web single sign-on unavailable');
      problem(res, 503, 'unavailable');
    }
  }));

  router.get('/ig/sign-in/callback', k.run(async (req, res) => {
    if (!oidc) {
      send(res, 404, 'Not available', errorBody('Single sign-on is not configured on this gateway.'));
      return;
    }
    const id = sessionIdOf(req);
    const s = await k.sessionOf(req);
    // Taken before anything is checked: whatever this callback is, the sign-in it answers is used up.
    const pending = s && id && !s.user ? await sessions.takePending(id) : undefined;
    const log = (reason: string, level: 'info' | 'warn' = 'warn') => deps.logger[level]({ requestId: requestId(res), via: 'oidc', reason }, 'IG web sign-in refused');
    if (!pending) {
      log('no sign-in under way in this browser session (expired, replayed or not started here)');
      problem(res, 400, 'expired');
      return;
    }
    const query = new URL(req.originalUrl, 'http://callback.invalid').search;
    try {
      const result = await oidc.finish(query, pending);
      if (result.kind === 'no-ig-role') {
        log('no IG role in the role claim', 'info');
        problem(res, 403, 'no-ig-role');
        return;
      }
      await sessions.destroy(id!);
      const signed = await sessions.create(result.user);
      setSessionCookie(res, signed.id, secure);
      deps.logger.info({ requestId: requestId(res), user: result.user.id, via: 'oidc' }, 'IG web sign-in');
      res.redirect(303, '/ig');
    } catch (err) {
      if (err instanceof SignInExpiredError) {
        log('the sign-in took too long');
        problem(res, 400, 'expired');
        return;
      }
      if (err instanceof ProviderUnavailableError) {
        log(err.message);
        problem(res, 503, 'unavailable');
        return;
      }
      // openid-client's errors: the provider's error answer, a state mismatch, a bad code or verifier, an ID token that does not validate.
      const e = err as { name?: string; code?: string; error?: string };
      log(`${e.name ?? 'Error'} ${e.code ?? ''} ${e.error ?? ''}`.trim());
      problem(res, e.name === 'AuthorizationResponseError' ? 403 : 400, e.name === 'AuthorizationResponseError' ? 'cancelled' : 'failed');
    }
  }));

  router.post('/ig/sign-out', ...k.checked(false), k.run(async (_req, res) => {
    const s = res.locals.igSession as IgWebSession;
    await sessions.destroy(s.id);
    clearSessionCookie(res, secure);
    // RP-initiated logout: the provider's session ends too, when it offers an end_session_endpoint.
    const end = s.user?.via === 'oidc' ? await oidc?.endSessionUrl(`${deps.baseUrl}/ig/sign-in`) : undefined;
    res.redirect(303, end?.href ?? '/ig/sign-in');
  }));
}
