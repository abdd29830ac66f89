import { createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import jose from 'node-jose';
import type { JWK } from 'node-jose';
import type { Logger } from 'pino';
import { Jwks } from './client-registry.ts';
import type { ClientRecord } from './client-registry.ts';
import { OAuthError } from './oauth-error.ts';

export interface JwksSourceOptions {
  /** Longest wait for a jwks_uri host, body included (default 3 s). */
  timeoutMs?: number;
  /** How long fetched keys are trusted before they are fetched again (default 5 min). */
  cacheMs?: number;
  /**
   * Least time between two fetches of one jwks_uri (default 30 s): an
   * attacker sending random kids, or a host that is down, must not make us
   * hammer the host or wait on it for every request.
   */
  minRefreshIntervalMs?: number;
  /** Largest JWKS document accepted (default 64 KiB). */
  maxBytes?: number;
  logger?: Logger;
  now?: () => number;
}

interface Remote {
  keys?: JWK.KeyStore;
  fetchedAt: number;
  lastAttempt: number;
  inflight?: Promise<void>;
}

/** Why a fetch failed, in our words: logged instead of the library's message, which can quote the document. */
class FetchFailure extends Error {}

const MAX_BY_VALUE_ENTRIES = 1000;

/**
 * Where a client's public keys come from: the JWKS registered by value, or
 * its jwks_uri. Remote keys are fetched in the background of a request only
 * when the cache is cold or stale, or once when an unknown kid arrives,
 * never per request.
 */
export class JwksSource {
  private readonly remotes = new Map<string, Remote>();
  private readonly byValue = new Map<string, { json: string; keys: Promise<JWK.KeyStore | undefined> }>();
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly minRefreshIntervalMs: number;
  private readonly maxBytes: number;
  /** Number of jwks_uri fetches started; tests use it to prove we do not hammer hosts. */
  fetches = 0;

  constructor(private readonly opts: JwksSourceOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.cacheMs = opts.cacheMs ?? 5 * 60_000;
    this.minRefreshIntervalMs = opts.minRefreshIntervalMs ?? 30_000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024;
  }

  /**
   * The client's key with this kid. Throws OAuthError invalid_client when
   * the keys cannot be had or none (or more than one) has that kid.
   */
  async key(client: ClientRecord, kid: string): Promise<JWK.Key> {
    if (client.jwks) {
      return pick(await this.registeredKeys(client.clientId, client.jwks), kid);
    }
    if (!client.jwksUri) throw new OAuthError('invalid_client', 'The client has no registered keys');
    const uri = client.jwksUri;
    let remote = this.remotes.get(uri);
    if (!remote) {
      remote = { fetchedAt: 0, lastAttempt: 0 };
      this.remotes.set(uri, remote);
    }
    const now = this.now();
    const fresh = remote.keys !== undefined && now - remote.fetchedAt < this.cacheMs;
    const mayFetch = now - remote.lastAttempt >= this.minRefreshIntervalMs;
    if ((!fresh || !hasKid(remote.keys, kid)) && (mayFetch || remote.inflight)) {
      await this.refresh(remote, uri, client.clientId);
    }
    if (!remote.keys || this.now() - remote.fetchedAt >= this.cacheMs) {
      throw new OAuthError('invalid_client', "The client's keys could not be fetched from its jwks_uri");
    }
    return pick(remote.keys, kid);
  }

  private async registeredKeys(clientId: string, jwks: Jwks): Promise<JWK.KeyStore> {
    // Keys are re-read with the client record on every request (so a change
    // by an operator applies at once); the parsed form is reused while the
    // JSON is unchanged.
    const json = JSON.stringify(jwks);
    let cached = this.byValue.get(clientId);
    if (cached?.json !== json) {
      if (this.byValue.size >= MAX_BY_VALUE_ENTRIES) this.byValue.clear();
      const keys = toKeyStore(jwks).catch(() => {
        this.opts.logger?.warn({ clientId }, 'registered JWKS holds a key we cannot use');
        return undefined;
      });
      cached = { json, keys };
      this.byValue.set(clientId, cached);
    }
    const keys = await cached.keys;
    if (!keys) throw new OAuthError('invalid_client', "The client's registered keys cannot be used");
    return keys;
  }

  /** One fetch at a time per uri; concurrent requests wait for the same one. */
  private refresh(remote: Remote, uri: string, clientId: string): Promise<void> {
    remote.inflight ??= (async () => {
      remote.lastAttempt = this.now();
      this.fetches++;
      try {
        remote.keys = await this.fetchJwks(uri);
        remote.fetchedAt = this.now();
      } catch (err) {
        const reason = err instanceof FetchFailure ? err.message : (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable';
        // The host and client id only: neither is personal data, and the
        // document or the library's message might hold anything.
        this.opts.logger?.warn({ clientId, jwksHost: safeHost(uri), reason }, 'jwks_uri fetch failed');
      } finally {
        remote.inflight = undefined;
      }
    })();
    return remote.inflight;
  }

  private async fetchJwks(uri: string): Promise<JWK.KeyStore> {
    const res = await fetch(uri, {
      signal: AbortSignal.timeout(this.timeoutMs),
      // A registered uri is the one trusted; a redirect could lead anywhere.
      redirect: 'error',
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new FetchFailure(`status ${res.status}`);
    }
    const text = await readCapped(res, this.maxBytes);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new FetchFailure('not JSON');
    }
    // The same rule as registration by value: public keys only. A host that
    // publishes private keys has leaked them; none of its keys is trusted.
    const parsed = Jwks.safeParse(doc);
    if (!parsed.success) throw new FetchFailure('not a public JWKS');
    try {
      return await toKeyStore(parsed.data);
    } catch {
      throw new FetchFailure('unusable key');
    }
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}

/**
 * node-jose accepts keys that cannot verify anything (an EC point missing a
 * coordinate, off its curve); Node's own import refuses them, so a broken key
 * is found when keys are loaded, not as a puzzling signature failure.
 */
async function toKeyStore(jwks: Jwks): Promise<JWK.KeyStore> {
  for (const k of jwks.keys) createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
  return jose.JWK.asKeyStore(jwks);
}

function hasKid(keys: JWK.KeyStore | undefined, kid: string): boolean {
  return keys !== undefined && keys.all({ kid }).length > 0;
}

function pick(keys: JWK.KeyStore, kid: string): JWK.Key {
  const found = keys.all({ kid });
  if (found.length === 0) throw new OAuthError('invalid_client', 'No key of this client has the kid in the assertion header');
  // kids must be unique within a JWKS (SMART Backend Services); with two
  // candidates we cannot know which one the client meant.
  if (found.length > 1) throw new OAuthError('invalid_client', 'Several keys of this client share the kid in the assertion header');
  return found[0] as JWK.Key;
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new FetchFailure('too large');
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new FetchFailure('too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function safeHost(uri: string): string {
  try {
    return new URL(uri).host;
  } catch {
    return 'invalid';
  }
}
