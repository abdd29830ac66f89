import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Pool counts a database may report (node-postgres Pool: totalCount, idleCount, waitingCount). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * Prometheus metrics (docs/operations.md, "Metrics"). One registry of our
 * own, not prom-client's global default, so two gateways in one process
 * (tests) never share counters. Labels carry only route shapes, methods,
 * statuses, outcomes and rule ids: never an id, a name or an NHS number.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({
    name: 'joinedup_http_requests_total',
    help: 'HTTP requests answered, by route shape, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'joinedup_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by route shape and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly gateDecisions = new Counter({
    name: 'joinedup_gate_decisions_total',
    help: 'Lawful-basis gate decisions, by outcome and the rule that settled it',
    labelNames: ['outcome', 'rule'] as const,
    registers: [this.registry],
  });
  private readonly auditAppend = new Histogram({
    name: 'joinedup_audit_append_seconds',
    help: 'Time to write one batch of audit records (one transaction), by result',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly councilRecords = new Counter({
    name: 'joinedup_council_records_total',
    help: 'Council records pushed or imported, by result status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  private readonly rateLimited = new Counter({
    name: 'joinedup_rate_limited_total',
    help: 'Requests refused with 429 by a rate limit, by limit (client: per client id; token_address: token requests per address)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  constructor(options: { poolStats?: () => PoolStats | undefined } = {}) {
    collectDefaultMetrics({ register: this.registry });
    const poolStats = options.poolStats;
    if (poolStats) {
      new Gauge({
        name: 'joinedup_db_pool',
        help: 'PostgreSQL connection pool: total, idle and waiting (requests queued for a connection)',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const s = poolStats();
          if (!s) return;
          this.set({ state: 'total' }, s.total);
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'waiting' }, s.waiting);
        },
      });
    }
  }

  /** The instance's cross-instance listener (server.ts), read at each scrape. */
  watchClusterListener(state: () => { connected: boolean; resets: number }): void {
    new Gauge({
      name: 'joinedup_cluster_listener_connected',
      help: '1 while this instance listens for other instances\' changes (PostgreSQL LISTEN/NOTIFY), 0 while it reconnects; absent without a listener (embedded mode)',
      registers: [this.registry],
      collect() {
        this.set(state().connected ? 1 : 0);
      },
    });
    new Counter({
      name: 'joinedup_cluster_listener_resets_total',
      help: 'Times this instance dropped all its caches because its listening connection was (re)established or a message was not understood',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(state().resets);
      },
    });
  }

  rateLimitRefused = (limit: 'client' | 'token_address'): void => {
    this.rateLimited.inc({ limit });
  };

  /** One finished HTTP exchange; `route` must already be a route shape (routeShape in app.ts). */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    this.httpDuration.observe({ route, method }, seconds);
  }

  gateDecision = (outcome: string, rule: string): void => {
    this.gateDecisions.inc({ outcome, rule });
  };

  auditBatchWritten = (seconds: number, ok: boolean): void => {
    this.auditAppend.observe({ result: ok ? 'ok' : 'error' }, seconds);
  };

  councilRecord(status: string): void {
    this.councilRecords.inc({ status });
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The metrics endpoint on its own port (METRICS_PORT), never on the API's:
 * operators keep it off the network the gateway's clients reach. Answers
 * GET /metrics only.
 */
export async function startMetricsServer(metrics: GatewayMetrics, port: number, host: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = path === '/metrics' ? 405 : 404;
      res.end();
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => {
        res.setHeader('Content-Type', contentType);
        res.setHeader('Cache-Control', 'no-store');
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.statusCode = 500;
        res.end();
      }
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${actual}/metrics`, server };
}
