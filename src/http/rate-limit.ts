import type { NextFunction, Request, Response } from 'express';
import type { AccessTokens } from '../auth/access-token.ts';
import { setNoStore } from '../auth/oauth-error.ts';
import type { Config } from '../config.ts';
import { HttpError, outcome } from './outcome.ts';

/**
 * Per-client rate limits (docs/operations.md, "Rate limits and slow
 * clients"). One token bucket per key: a client may send `burst` requests at
 * once and `ratePerSecond` sustained. The buckets live in this process, so
 * every gateway instance applies the limit on its own: behind a balancer
 * spreading one client over N instances, the client gets up to N times the
 * limit.
 */
export interface BucketOptions {
  /** Tokens added per second (the sustained rate); must be positive. */
  ratePerSecond: number;
  /** The bucket's size: how many requests may arrive at once after a quiet spell. */
  burst: number;
  /** Keys remembered at most; beyond it the least recently used bucket is forgotten. */
  maxKeys?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** ms of the last refill */
  at: number;
}

const DEFAULT_MAX_KEYS = 100_000;
// Full buckets are forgotten on a sweep: a full bucket and no bucket mean the same thing.
const SWEEP_EVERY_MS = 60_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(private readonly opts: BucketOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new RangeError('TokenBuckets needs ratePerSecond > 0 and burst >= 1');
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = opts.now ?? Date.now;
    this.lastSweep = this.now();
  }

  /** Keys currently remembered (bounded by maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  /** Spends one token for `key`, or says how many whole seconds until one is there. */
  take(key: string): TakeResult {
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    const bucket = this.refilled(key, now);
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.evictOldest();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.opts.ratePerSecond)) };
  }

  private refilled(key: string, now: number): Bucket {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.opts.burst, at: now };
    // A clock stepping backwards adds nothing rather than taking tokens away.
    const elapsed = Math.max(0, now - b.at) / 1000;
    return { tokens: Math.min(this.opts.burst, b.tokens + elapsed * this.opts.ratePerSecond), at: now };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, b] of this.buckets) {
      if (b.tokens + (Math.max(0, now - b.at) / 1000) * this.opts.ratePerSecond >= this.opts.burst) this.buckets.delete(key);
    }
  }

  private evictOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}

/**
 * The per-client limit on the authenticated APIs (/fhir, /council, /cds,
 * /ig/v1). Each of them turns its bearer token into a client exactly once per
 * request, through AuthDeps.tokens.verify; charging the client's bucket
 * there limits by client (not by address, which many clients may share or
 * one client may change) on every API, after authentication, without each
 * router wiring it. A request over the limit is refused before its body is
 * read. In open-development mode nothing is verified, so nothing is limited.
 */
export function limitClients(tokens: AccessTokens, buckets: TokenBuckets, perSecond: number, onRefused?: () => void): AccessTokens {
  // Everything but verify reaches the real instance through the prototype.
  const limited = Object.create(tokens) as AccessTokens;
  limited.verify = async (token: string) => {
    const actor = await tokens.verify(token);
    const taken = buckets.take(actor.clientId);
    if (!taken.allowed) {
      onRefused?.();
      const text = `Too many requests from this client (more than ${perSecond} a second sustained); retry after ${taken.retryAfterSeconds} s`;
      throw new HttpError(429, outcome('throttled', text), { 'Retry-After': String(taken.retryAfterSeconds), 'Cache-Control': 'no-store' });
    }
    return actor;
  };
  return limited;
}

/**
 * The per-address limit on the token endpoint, which has no authenticated
 * client yet: placed before the form is parsed, so a flood costs no parsing
 * and no signature checks. Answers as the endpoint does, with RFC 6749 JSON.
 * The address is the TCP peer: behind a load balancer that is the balancer.
 */
export function limitTokenRequests(buckets: TokenBuckets, perMinute: number, onRefused?: () => void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const taken = buckets.take(req.socket.remoteAddress ?? 'unknown');
    if (taken.allowed) {
      next();
      return;
    }
    onRefused?.();
    setNoStore(res);
    res.setHeader('Retry-After', String(taken.retryAfterSeconds));
    // temporarily_unavailable (RFC 6749 section 4.1.2.1) is the registered code that tells a client to come back later.
    res
      .status(429)
      .type('application/json')
      .send(
        JSON.stringify({
          error: 'temporarily_unavailable',
          error_description: `Too many token requests from this address (more than ${perMinute} a minute); retry after ${taken.retryAfterSeconds} s`,
        })
      );
  };
}

type LimitSettings = Pick<Config, 'RATE_LIMIT_PER_CLIENT' | 'RATE_LIMIT_BURST' | 'RATE_LIMIT_TOKEN_PER_IP'>;

/** The app's dependencies with the per-client limit applied to token verification (unchanged when RATE_LIMIT_PER_CLIENT is 0). */
/** Told of each refusal (metrics: joinedup_rate_limited_total). */
interface RefusalCounter {
  rateLimitRefused(limit: 'client' | 'token_address'): void;
}

export function withClientRateLimit<D extends { config: LimitSettings; auth: { tokens: AccessTokens }; metrics?: RefusalCounter }>(deps: D): D {
  const perSecond = deps.config.RATE_LIMIT_PER_CLIENT;
  if (perSecond === 0) return deps;
  const buckets = new TokenBuckets({ ratePerSecond: perSecond, burst: deps.config.RATE_LIMIT_BURST });
  return { ...deps, auth: { ...deps.auth, tokens: limitClients(deps.auth.tokens, buckets, perSecond, deps.metrics ? () => deps.metrics?.rateLimitRefused('client') : undefined) } };
}

/** The token endpoint's per-address limit as route middleware: none when RATE_LIMIT_TOKEN_PER_IP is 0. */
export function tokenRateLimit(config: LimitSettings, metrics?: RefusalCounter): Array<(req: Request, res: Response, next: NextFunction) => void> {
  const perMinute = config.RATE_LIMIT_TOKEN_PER_IP;
  if (perMinute === 0) return [];
  return [limitTokenRequests(new TokenBuckets({ ratePerSecond: perMinute / 60, burst: Math.max(1, Math.ceil(perMinute)) }), perMinute, metrics ? () => metrics.rateLimitRefused('token_address') : undefined)];
}
