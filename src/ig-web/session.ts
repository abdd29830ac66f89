import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { parseScopes } from '../auth/scopes.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { Actor } from '../request-context.ts';

/**
 * Server-side sessions for the IG web page, in the ig_web_session table
 * (migration 10), so every instance behind a load balancer sees the same
 * sessions and a restart signs nobody out. The cookie carries only a random
 * id (256 bits); the table keeps only its sha256, so a copy of the table
 * opens no session. Each session has its own CSRF token (synchronizer token
 * pattern), checked on every POST. Anonymous sessions exist only to carry
 * the CSRF token of the sign-in form and the state of a single sign-on under
 * way; signing in replaces the session id, so a planted id is worth nothing.
 */
export interface IgWebUser {
  /** Who signed in, as the audit trail names them ('oidc-…' derived from the issuer and sub for single sign-on). */
  id: string;
  /** For display on the page only; never logged. */
  name: string;
  role: string;
  organisation: { ods: string; name: string };
  via: 'demo' | 'oidc';
}

/** What the callback of a single sign-on needs to check the answer (src/ig-web/oidc.ts). */
export interface OidcPending {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** ms since the epoch: an old sign-in attempt is not finished. */
  startedAt: number;
}

export interface IgWebSession {
  /** The cookie's value: known only to this request, never stored. */
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
/** Anonymous sessions kept at most (a flood of sign-in page views must not grow the table without bound). */
const MAX_ANONYMOUS = 10_000;
const PURGE_EVERY_MS = 60_000;

interface Row {
  csrf: string;
  user_json: IgWebUser | string | null;
  audit_ref: string;
  created_at: Date | string;
  last_seen: Date | string;
}

export class SessionStore {
  private lastPurge = 0;

  constructor(
    private readonly sql: SqlClient,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now
  ) {}

  async create(user?: IgWebUser, pending?: OidcPending): Promise<IgWebSession> {
    await this.purgeNow();
    const t = this.now();
    const session: IgWebSession = { id: token(), csrf: token(), createdAt: t, lastSeen: t, auditRef: randomBytes(9).toString('base64url'), ...(user ? { user } : {}) };
    await this.sql.query(
      `INSERT INTO ig_web_session (id_hash, csrf, user_json, audit_ref, oidc_pending, created_at, last_seen, expires_at)
       VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6::timestamptz, $6::timestamptz, $7::timestamptz)`,
      [hashOf(session.id), session.csrf, user ? JSON.stringify(user) : null, session.auditRef, pending ? JSON.stringify(pending) : null, iso(t), iso(t + this.ttl(user))]
    );
    return session;
  }

  /** The live session with this id, its idle clock restarted; undefined when unknown or expired. */
  async get(id: string | undefined): Promise<IgWebSession | undefined> {
    if (!id) return undefined;
    const t = this.now();
    // One round trip: only a live session is touched, and its expiry moves with it.
    const r = await this.sql.query<Row>(
      `UPDATE ig_web_session
          SET last_seen = $2::timestamptz,
              expires_at = $2::timestamptz + (CASE WHEN user_json IS NULL THEN $3::bigint ELSE $4::bigint END) * interval '1 millisecond'
        WHERE id_hash = $1 AND expires_at > $2::timestamptz
       RETURNING csrf, user_json, audit_ref, created_at, last_seen`,
      [hashOf(id), iso(t), ANONYMOUS_TTL_MS, this.idleMs]
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const user = typeof row.user_json === 'string' ? (JSON.parse(row.user_json) as IgWebUser) : (row.user_json ?? undefined);
    return { id, csrf: row.csrf, auditRef: row.audit_ref, createdAt: new Date(row.created_at).getTime(), lastSeen: t, ...(user ? { user } : {}) };
  }

  /** Keeps the state of a single sign-on under way with this (anonymous) session. */
  async setPending(id: string, pending: OidcPending): Promise<void> {
    await this.sql.query('UPDATE ig_web_session SET oidc_pending = $2::jsonb WHERE id_hash = $1', [hashOf(id), JSON.stringify(pending)]);
  }

  /**
   * Takes the pending single sign-on of this session, once: a second
   * callback (replayed, or racing the first) finds nothing.
   */
  async takePending(id: string): Promise<OidcPending | undefined> {
    const r = await this.sql.query<{ p: OidcPending | string }>(
      `UPDATE ig_web_session s SET oidc_pending = NULL
         FROM (SELECT id_hash, oidc_pending AS p FROM ig_web_session WHERE id_hash = $1 AND oidc_pending IS NOT NULL FOR UPDATE) old
        WHERE s.id_hash = old.id_hash
       RETURNING old.p AS p`,
      [hashOf(id)]
    );
    const p = r.rows[0]?.p;
    return typeof p === 'string' ? (JSON.parse(p) as OidcPending) : p;
  }

  async destroy(id: string): Promise<void> {
    await this.sql.query('DELETE FROM ig_web_session WHERE id_hash = $1', [hashOf(id)]);
  }

  /** Removes expired sessions, and the oldest anonymous ones beyond the cap; at most once a minute per instance. */
  private async purgeNow(): Promise<void> {
    const t = this.now();
    if (t - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = t;
    await this.sql.query('DELETE FROM ig_web_session WHERE expires_at <= $1::timestamptz', [iso(t)]);
    await this.sql.query(
      `DELETE FROM ig_web_session WHERE id_hash IN (
         SELECT id_hash FROM ig_web_session WHERE user_json IS NULL ORDER BY last_seen DESC OFFSET $1)`,
      [MAX_ANONYMOUS]
    );
  }

  private ttl(user: IgWebUser | undefined): number {
    return user ? this.idleMs : ANONYMOUS_TTL_MS;
  }
}

const token = () => randomBytes(32).toString('base64url');
const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');
const iso = (ms: number) => new Date(ms).toISOString();

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
  return !(u.protocol === 'http:' && isLoopback(u.hostname));
}

export const isLoopback = (hostname: string) => hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';

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
