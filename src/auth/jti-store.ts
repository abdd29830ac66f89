import type { SqlClient } from '../db/sql-client.ts';

/**
 * Replay memory for client assertion ids (RFC 7523 section 3, item 7). It
 * lives in the database, not in memory, so an assertion accepted once is
 * refused after a restart and by every other instance on the same database.
 */
export class JtiStore {
  private lastPurge = 0;

  constructor(
    private readonly sql: SqlClient,
    private readonly opts: { now?: () => number; purgeIntervalMs?: number } = {}
  ) {}

  /**
   * Records `jti` for `clientId` until `expiresAt`. Returns false when it was
   * already recorded and is still live: a replay. The insert is the check, so
   * two instances racing on the same assertion cannot both win. A row whose
   * expiry has passed may be taken over: by then the old assertion is refused
   * as expired anyway.
   */
  async remember(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const now = new Date(this.now());
    await this.purgeOccasionally(now);
    const r = await this.sql.query(
      `INSERT INTO assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
       WHERE assertion_jti.expires_at < $4`,
      [clientId, jti, expiresAt, now]
    );
    return r.rowCount === 1;
  }

  /** Expired rows are useless; drop them now and then rather than on every request. */
  private async purgeOccasionally(now: Date): Promise<void> {
    const interval = this.opts.purgeIntervalMs ?? 60_000;
    if (now.getTime() - this.lastPurge < interval) return;
    this.lastPurge = now.getTime();
    await this.sql.query('DELETE FROM assertion_jti WHERE expires_at < $1', [now]);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }
}
