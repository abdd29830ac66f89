import jose from 'node-jose';
import type { JWK } from 'node-jose';
import type { Database, SqlClient } from '../db/sql-client.ts';

/**
 * How long a retired key keeps verifying. Tokens live at most 300 s; the rest
 * covers other instances that keep signing with the old key until their next
 * refresh (REFRESH_MS) notices the rotation.
 */
export const RETIRED_KEY_GRACE_SECONDS = 15 * 60;

/** How often a long-running instance re-reads the key table (rotation by another instance or the CLI). */
const REFRESH_MS = 60_000;

/** An unknown kid may send us to the database, but at most this often: garbage kids must not become a query per request. */
const UNKNOWN_KID_RELOAD_MS = 1_000;

const KID_RE = /^[A-Za-z0-9_-]{1,100}$/;

// Any constant: it serialises key creation and rotation between instances (migrations use 7243001).
const KEY_LOCK = 7243002;

interface Row {
  kid: string;
  private_jwk: string;
  retired_at: string | Date | null;
}

interface LoadedKey {
  key: JWK.Key;
  /** ms since epoch; undefined while the key is the active signing key. */
  retiredAt?: number;
}

/**
 * The gateway's own ES384 keys for signing access tokens, kept in table
 * signing_key so every instance signs and verifies with the same set and a
 * restart does not invalidate tokens in flight.
 */
export class GatewayKeys {
  private keys = new Map<string, LoadedKey>();
  private activeKid = '';
  private loadedAt = 0;
  private lastUnknownReload = 0;
  private reloading: Promise<void> | undefined;

  private constructor(private readonly db: Database) {}

  /** Loads the keys, creating the first one when the table has no active key. */
  static async load(db: Database): Promise<GatewayKeys> {
    const keys = new GatewayKeys(db);
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const active = await tx.query('SELECT kid FROM signing_key WHERE retired_at IS NULL LIMIT 1');
      if (!active.rows[0]) await insertNewKey(tx);
    });
    await keys.reload();
    return keys;
  }

  /** Adds a new signing key and retires the current one, which keeps verifying for RETIRED_KEY_GRACE_SECONDS. */
  async rotate(): Promise<string> {
    const kid = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      await tx.query('UPDATE signing_key SET retired_at = now() WHERE retired_at IS NULL');
      return insertNewKey(tx);
    });
    await this.reload();
    return kid;
  }

  /** The key new tokens are signed with. */
  signingKey(): JWK.Key {
    const k = this.keys.get(this.activeKid);
    if (!k) throw new Error('GatewayKeys: no active signing key');
    return k.key;
  }

  /**
   * Re-reads the table when the last read is older than REFRESH_MS, so a
   * rotation elsewhere reaches this instance within a minute. Cheap to call on
   * every issue: it only touches the database once a minute.
   */
  async refreshIfStale(): Promise<void> {
    if (Date.now() - this.loadedAt > REFRESH_MS) await this.reload();
  }

  /**
   * The key for a token's kid, or undefined when there is none or it retired
   * too long ago. An unknown kid triggers one reload (throttled), so keys
   * rotated by another instance are found.
   */
  async verificationKey(kid: string): Promise<JWK.Key | undefined> {
    if (!KID_RE.test(kid)) return undefined;
    let k = this.keys.get(kid);
    if (!k && Date.now() - this.lastUnknownReload > UNKNOWN_KID_RELOAD_MS) {
      this.lastUnknownReload = Date.now();
      await this.reload();
      k = this.keys.get(kid);
    }
    if (!k || !usable(k)) return undefined;
    return k.key;
  }

  /** The public halves of every key that still verifies, for /.well-known/jwks.json. */
  publicJwks(): { keys: object[] } {
    return {
      keys: [...this.keys.values()].filter(usable).map((k) => k.key.toJSON(false)),
    };
  }

  private async reload(): Promise<void> {
    // Concurrent callers share one read.
    this.reloading ??= this.readKeys().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async readKeys(): Promise<void> {
    const r = await this.db.query<Row>(
      `SELECT kid, private_jwk, retired_at FROM signing_key
        WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
        ORDER BY created_at`,
      [RETIRED_KEY_GRACE_SECONDS]
    );
    const next = new Map<string, LoadedKey>();
    let active = '';
    for (const row of r.rows) {
      const existing = this.keys.get(row.kid);
      const key = existing?.key ?? (await jose.JWK.asKey(row.private_jwk, 'json'));
      const loaded: LoadedKey = { key };
      if (row.retired_at !== null) loaded.retiredAt = new Date(row.retired_at).getTime();
      else active = row.kid;
      next.set(row.kid, loaded);
    }
    if (!active) throw new Error('GatewayKeys: the signing_key table has no active key');
    this.keys = next;
    this.activeKid = active;
    this.loadedAt = Date.now();
  }
}

function usable(k: LoadedKey): boolean {
  return k.retiredAt === undefined || Date.now() - k.retiredAt < RETIRED_KEY_GRACE_SECONDS * 1000;
}

/** Creates an ES384 (P-384) key; its kid is the RFC 7638 thumbprint, so it is stable and unique. */
async function insertNewKey(sql: SqlClient): Promise<string> {
  const generated = await jose.JWK.createKey('EC', 'P-384', { alg: 'ES384', use: 'sig' });
  // node-jose resolves a Buffer (its typings say string).
  const kid = ((await generated.thumbprint('SHA-256')) as unknown as Buffer).toString('base64url');
  const key = await jose.JWK.asKey({ ...(generated.toJSON(true) as object), kid, alg: 'ES384', use: 'sig' });
  await sql.query('INSERT INTO signing_key (kid, private_jwk) VALUES ($1, $2)', [kid, JSON.stringify(key.toJSON(true))]);
  return kid;
}
