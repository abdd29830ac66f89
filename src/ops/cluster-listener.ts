import pg from 'pg';
import type { Logger } from 'pino';
import { CHANNEL_SQL, decodeInvalidation } from './cluster-invalidation.ts';

/** The caches one instance keeps that another instance's writes can make stale. */
export interface InvalidationTargets {
  facts: { invalidate(patientIds: readonly string[]): void; clear(): void };
  policy: { invalidatePolicy(): void };
  clients: { invalidate(clientIds: readonly string[]): void; clear(): void };
}

export interface ClusterListenerOptions {
  /** A direct connection: LISTEN does not survive a pooler in transaction mode (PgBouncer). */
  url: string;
  /** This instance's origin: its own notifications are skipped (it invalidated in process already). */
  origin: string;
  targets: InvalidationTargets;
  logger: Logger;
  retryMinMs?: number;
  retryMaxMs?: number;
}

/**
 * One dedicated connection per instance LISTENing on the schema's
 * invalidation channel (cluster-invalidation.ts). Notifications sent while
 * it is disconnected are lost, so every (re)connection starts by dropping
 * all caches; the TTLs stay as the safety net for a connection that is
 * silently dead. Reconnects with capped exponential backoff until closed.
 */
export class ClusterListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Times every cache was dropped because the connection (re)started (tests and operators). */
  resets = 0;
  /** Notifications applied (tests wait on it). */
  received = 0;

  constructor(private readonly options: ClusterListenerOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** The first connection: a failure here stops the start (a wrong DATABASE_LISTEN_URL should be loud). */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      // Named, so an operator sees it in pg_stat_activity (one per instance, idle by design).
      application_name: 'joinedup-invalidation-listener',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5_000,
    });
    // Without a listener, a dropped connection's 'error' would crash the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.apply(msg.payload ?? ''));
    try {
      await client.connect();
      const r = await client.query<{ channel: string }>(`SELECT ${CHANNEL_SQL} AS channel`);
      await client.query(`LISTEN "${r.rows[0]!.channel}"`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    // Whatever was sent while no one listened is lost: forget everything once listening.
    this.reset();
    this.options.logger.info({ resets: this.resets }, 'cluster invalidation: listening');
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.logger.warn({ err: err?.message }, 'cluster invalidation: connection lost; reconnecting');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const min = this.options.retryMinMs ?? 250;
    const max = this.options.retryMaxMs ?? 10_000;
    const base = Math.min(max, min * 2 ** this.failures);
    this.failures++;
    // Jitter: instances cut off together do not all come back in the same instant.
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.connect().catch((err: unknown) => {
        this.options.logger.warn({ err: (err as Error).message, attempt: this.failures }, 'cluster invalidation: reconnect failed');
        this.scheduleRetry();
      });
    }, delay);
    this.retryTimer.unref();
  }

  private reset(): void {
    this.resets++;
    const t = this.options.targets;
    t.facts.clear();
    t.policy.invalidatePolicy();
    t.clients.clear();
  }

  private apply(payload: string): void {
    const decoded = decodeInvalidation(payload);
    this.received++;
    if (!decoded) {
      // A message we do not understand (a newer instance): dropping everything is always safe.
      this.reset();
      return;
    }
    if (decoded.origin === this.options.origin) return;
    const inv = decoded.invalidation;
    const t = this.options.targets;
    switch (inv.kind) {
      case 'facts':
        t.facts.invalidate(inv.patientIds);
        break;
      case 'facts-all':
        t.facts.clear();
        break;
      case 'agreements':
        t.policy.invalidatePolicy();
        break;
      case 'clients':
        t.clients.invalidate(inv.clientIds);
        break;
      case 'all':
        this.reset();
        break;
    }
  }
}
