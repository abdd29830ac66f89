import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { parseScopes } from '../auth/scopes.ts';
import type { Actor } from '../request-context.ts';

/**
 * Server-side sessions for the IG web page. The cookie carries only a random
 * id (256 bits); everything else stays here, in memory, so a restart signs
 * everyone out (acceptable for a handful of IG leads; a table would let
 * several instances share them). Each session has its own CSRF token
 * (synchronizer token pattern), checked on every POST. Anonymous sessions
 * exist only to carry the CSRF token of the sign-in form; signing in
 * replaces the session id, so a planted id is worth nothing.
 */
export interface IgWebUser {
  /** Who signed in, as the audit trail names them. */
  id: string;
  name: string;
  role: string;
  organisation: { ods: string; name: string };
  /** 'demo' for the built-in demo sign-in. */
  via: 'demo';
}

export interface IgWebSession {
  id: string;
  csrf: string;
  createdAt: number;
  lastSeen: number;
  user?: IgWebUser;
  /** A random per-session reference put in audit records instead of the session id (which is a secret). */
  auditRef: string;
}

export const SESSION_COOKIE = 'joinedup_ig';
const ANONYMOUS_TTL_MS = 30 * 60_000;
const MAX_SESSIONS = 10_000;

export class SessionStore {
  private readonly sessions = new Map<string, IgWebSession>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now
  ) {}

  create(user?: IgWebUser): IgWebSession {
    this.sweep();
    const t = this.now();
    const session: IgWebSession = { id: token(), csrf: token(), createdAt: t, lastSeen: t, auditRef: randomBytes(9).toString('base64url'), ...(user ? { user } : {}) };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): IgWebSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > (s.user ? this.idleMs : ANONYMOUS_TTL_MS)) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    if (this.sessions.size < MAX_SESSIONS) return;
    const t = this.now();
    for (const [id, s] of this.sessions) if (t - s.lastSeen > (s.user ? this.idleMs : ANONYMOUS_TTL_MS)) this.sessions.delete(id);
    // Still full: drop the oldest anonymous ones (a flood of sign-in page views must not grow memory without bound).
    if (this.sessions.size >= MAX_SESSIONS) {
      for (const [id, s] of this.sessions) {
        if (!s.user) this.sessions.delete(id);
        if (this.sessions.size < MAX_SESSIONS / 2) break;
      }
    }
  }
}

const token = () => randomBytes(32).toString('base64url');

/** The session cookie's id from the Cookie header (no cookie library: one name, one value). */
export function sessionIdOf(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) {
      const value = rest.join('=');
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Secure everywhere except plain-http loopback development (browsers drop Secure cookies over http). */
export function cookieIsSecure(baseUrl: string): boolean {
  const u = new URL(baseUrl);
  return !(u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]'));
}

export function setSessionCookie(res: Response, id: string, secure: boolean): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=${id}; Path=/ig; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`);
}

export function clearSessionCookie(res: Response, secure: boolean): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=; Path=/ig; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`);
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function csrfMatches(session: IgWebSession, sent: unknown): boolean {
  if (typeof sent !== 'string') return false;
  const a = createHash('sha256').update(sent).digest();
  const b = createHash('sha256').update(session.csrf).digest();
  return timingSafeEqual(a, b);
}

/** The signed-in user as the actor the IG functions and audit records expect. */
export function actorOf(session: IgWebSession & { user: IgWebUser }): Actor {
  const u = session.user;
  return {
    clientId: 'ig-web',
    organisation: { ods: u.organisation.ods, name: u.organisation.name, kind: 'information-governance' },
    user: { id: u.id, name: u.name, role: u.role },
    purposeOfUse: 'HOPERAT',
    scopes: parseScopes('system/ig.read'),
    tokenId: `ig-web-session-${session.auditRef}`,
  };
}
