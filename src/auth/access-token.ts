import { createHash, randomUUID } from 'node:crypto';
import jose from 'node-jose';
import { z } from 'zod';
import type { Actor } from '../request-context.ts';
import { isEs384SignatureLength } from './es384-signature.ts';
import type { GatewayKeys } from './gateway-keys.ts';
import { ORGANISATION_KINDS, OdsCode } from './organisation.ts';
import { PURPOSE_CODES } from './purposes.ts';
import { parseScopes } from './scopes.ts';

export interface IssuedToken {
  accessToken: string;
  /** Seconds until expiry, as the token response's expires_in. */
  expiresIn: number;
  /** The granted scopes, space-separated. */
  scope: string;
  /** The token's jti. */
  tokenId: string;
}

export interface AccessTokenOptions {
  /** The gateway's base URL. */
  issuer: string;
  /** The FHIR base URL: a token is for this API and no other. */
  audience: string;
  lifetimeSeconds: number;
  /** Verified tokens remembered at most (oldest dropped first). */
  cacheSize?: number;
}

/** A bearer token that must not be honoured. The message is safe to send back (RFC 6750 error_description). */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

// RFC 9068 media type for JWT access tokens: a client assertion or an ID
// token signed by a key we happen to know can never pass as an access token.
const TOKEN_TYP = 'at+jwt';
const CLOCK_SKEW_SECONDS = 60;
// Our tokens are well under 2 KB; anything much bigger is not ours and is refused before any parsing.
const MAX_TOKEN_CHARS = 8192;

const Header = z.object({ alg: z.literal('ES384'), typ: z.literal(TOKEN_TYP), kid: z.string().min(1).max(100) });

/** The claims we issue; anything else fails verification (so a token from an older format is refused, not misread). */
const Claims = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.string().min(1).max(100),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1).max(100),
  scope: z.string().max(4000),
  ctx: z.object({
    org: z.object({ ods: OdsCode, name: z.string().min(1).max(200), kind: z.enum(ORGANISATION_KINDS) }),
    user: z.object({ id: z.string().min(1).max(256), name: z.string().max(256).optional(), role: z.string().min(1).max(20) }),
    pou: z.enum(PURPOSE_CODES),
    justification: z.string().max(1000).optional(),
    consent_reference: z.string().max(1000).optional(),
  }),
});
type Claims = z.infer<typeof Claims>;

interface Cached {
  actor: Actor;
  /** ms since epoch */
  expiresAt: number;
}

/**
 * Issues and verifies the gateway's access tokens: ES384 JWTs carrying the
 * client and the request context (organisation, user, purpose) that the token
 * endpoint established. Verified tokens are cached by hash until they expire,
 * so a client making many calls with one token pays one signature check.
 */
export class AccessTokens {
  /** Signature verifications done (tests check the cache with it). */
  signatureChecks = 0;
  private readonly cache = new Map<string, Cached>();
  private readonly cacheSize: number;

  constructor(
    private readonly keys: GatewayKeys,
    private readonly opts: AccessTokenOptions
  ) {
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  get lifetimeSeconds(): number {
    return this.opts.lifetimeSeconds;
  }

  async issue(actor: Omit<Actor, 'tokenId'>): Promise<IssuedToken> {
    await this.keys.refreshIfStale();
    const key = this.keys.signingKey();
    const now = Math.floor(Date.now() / 1000);
    const scope = actor.scopes.map((s) => s.text).join(' ');
    const claims: Claims = {
      iss: this.opts.issuer,
      aud: this.opts.audience,
      sub: actor.clientId,
      iat: now,
      exp: now + this.opts.lifetimeSeconds,
      jti: randomUUID(),
      scope,
      ctx: {
        org: { ...actor.organisation },
        user: { ...actor.user },
        pou: actor.purposeOfUse,
        ...(actor.justification !== undefined ? { justification: actor.justification } : {}),
        ...(actor.consentReference !== undefined ? { consent_reference: actor.consentReference } : {}),
      },
    };
    const accessToken = (await jose.JWS.createSign({ format: 'compact', fields: { alg: 'ES384', typ: TOKEN_TYP, kid: key.kid } }, key)
      .update(JSON.stringify(claims), 'utf8')
      .final()) as unknown as string;
    return { accessToken, expiresIn: this.opts.lifetimeSeconds, scope, tokenId: claims.jti };
  }

  /** The actor a bearer token speaks for; throws InvalidTokenError for anything we did not issue or that has expired. */
  async verify(token: string): Promise<Actor> {
    if (token.length > MAX_TOKEN_CHARS) throw new InvalidTokenError('The access token is malformed');
    const hash = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache.get(hash);
    if (hit) {
      if (hit.expiresAt > Date.now()) return hit.actor;
      this.cache.delete(hash);
      throw new InvalidTokenError('The access token has expired');
    }
    const { actor, expiresAt } = await this.verifyUncached(token);
    this.remember(hash, { actor, expiresAt });
    return actor;
  }

  private async verifyUncached(token: string): Promise<Cached> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
      throw new InvalidTokenError('The access token is malformed');
    }
    // Before any key is looked up: a signature of the wrong length cannot be ours (es384-signature.ts).
    if (!isEs384SignatureLength(parts[2] as string)) throw new InvalidTokenError('The access token signature is not valid');
    const header = Header.safeParse(parseJson(Buffer.from(parts[0] as string, 'base64url').toString('utf8')));
    if (!header.success) throw new InvalidTokenError('The access token was not issued by this gateway');
    const key = await this.keys.verificationKey(header.data.kid);
    if (!key) throw new InvalidTokenError('The access token was not issued by this gateway');
    this.signatureChecks++;
    let payload: Buffer;
    try {
      // algorithms pins ES384: a header asking for "none" or HS* never gets this far anyway (Header), this is the second lock.
      payload = (await jose.JWS.createVerify(key, { algorithms: ['ES384'], allowEmbeddedKey: false }).verify(token)).payload;
    } catch {
      throw new InvalidTokenError('The access token signature is not valid');
    }
    const claims = Claims.safeParse(parseJson(payload.toString('utf8')));
    if (!claims.success) throw new InvalidTokenError('The access token is malformed');
    const c = claims.data;
    const now = Math.floor(Date.now() / 1000);
    if (c.iss !== this.opts.issuer || c.aud !== this.opts.audience) {
      throw new InvalidTokenError('The access token is for another server');
    }
    if (c.exp <= now) throw new InvalidTokenError('The access token has expired');
    if (c.iat > now + CLOCK_SKEW_SECONDS || c.exp - c.iat > 300) {
      throw new InvalidTokenError('The access token has an invalid lifetime');
    }
    const actor: Actor = {
      clientId: c.sub,
      organisation: c.ctx.org,
      user: c.ctx.user.name === undefined ? { id: c.ctx.user.id, role: c.ctx.user.role } : c.ctx.user,
      purposeOfUse: c.ctx.pou,
      ...(c.ctx.justification !== undefined ? { justification: c.ctx.justification } : {}),
      ...(c.ctx.consent_reference !== undefined ? { consentReference: c.ctx.consent_reference } : {}),
      scopes: parseScopes(c.scope),
      tokenId: c.jti,
    };
    return { actor, expiresAt: c.exp * 1000 };
  }

  /** A bounded map: at the limit, expired entries go first, then the oldest. */
  private remember(hash: string, entry: Cached): void {
    if (this.cache.size >= this.cacheSize) {
      const now = Date.now();
      for (const [k, v] of this.cache) if (v.expiresAt <= now) this.cache.delete(k);
      while (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
    }
    this.cache.set(hash, entry);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
