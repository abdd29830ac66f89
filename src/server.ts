import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AccessTokens } from './auth/access-token.ts';
import { ClientRegistry } from './auth/client-registry.ts';
import { ClientStatusCache } from './auth/client-status.ts';
import { GatewayKeys } from './auth/gateway-keys.ts';
import { JwksSource } from './auth/jwks-source.ts';
import type { Config } from './config.ts';
import { openDatabase } from './db/open-database.ts';
import type { Database } from './db/sql-client.ts';
import { loadBaseSchema } from './fhir/schema.ts';
import { buildSearchParamRegistry } from './fhir/search/search-params.ts';
import { createValidator } from './fhir/validation/validator.ts';
import { createApp } from './http/app.ts';
import { answerClientErrors } from './http/client-error.ts';
import { AuditBatcher } from './audit/audit-batcher.ts';
import { loadAgreements } from './gate/agreements/agreement-store.ts';
import { createGateServices } from './gate/enforce/gate-services.ts';
import type { GateServices } from './gate/enforce/gate-services.ts';
import { newOrigin, publishInvalidation } from './ops/cluster-invalidation.ts';
import { ClusterListener } from './ops/cluster-listener.ts';
import { createLogger } from './ops/logger.ts';
import { GatewayMetrics, startMetricsServer } from './ops/metrics.ts';
import { jointWorkRules } from './joint-work/joint-work-rules.ts';
import { withSubscriptionRules } from './subscriptions/rules.ts';
import { SubscriptionService } from './subscriptions/service.ts';
import { VERSION } from './version.ts';

export interface RunningServer {
  url: string;
  baseUrl: string;
  db: Database;
  server: Server;
  logger: Logger;
  /** Issues and verifies access tokens (the test harness issues tokens directly with it). */
  tokens: AccessTokens;
  keys: GatewayKeys;
  clients: ClientRegistry;
  /** The gate's shared caches (tests and the CLI invalidate agreements through it). */
  gate: GateServices;
  /** FHIR Subscriptions: the rest-hook delivery loop (tests wait on it with settled()). */
  subscriptions: SubscriptionService;
  /** The Prometheus scrape URL (METRICS_PORT set), on its own port; undefined when metrics are off. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Composition root: config → database → services → HTTP. */
export interface ServerOptions {
  /**
   * Benchmarks only (bench/gate-run.ts measures the gate's cost against this
   * baseline): FHIR reads and searches skip the lawful-basis gate. Not
   * reachable from configuration; never set it in a deployment.
   */
  ungatedBaselineForBenchmarks?: boolean;
  /**
   * Benchmarks only (bench/audit-run.ts measures the audit's cost against
   * this baseline): FHIR exchanges leave no audit record. Not reachable from
   * configuration; never set it in a deployment.
   */
  unauditedBaselineForBenchmarks?: boolean;
}

export async function startServer(config: Config, existingDb?: Database, options: ServerOptions = {}): Promise<RunningServer> {
  const logger = createLogger(config.LOG_LEVEL, config.LOG_FILE);
  loadBaseSchema();
  buildSearchParamRegistry();
  const validator = createValidator();
  const db = existingDb ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DB_POOL_SIZE, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS }));
  // Metrics only when an operator asks for their port: never on the API's port.
  const metrics = config.METRICS_PORT === undefined ? undefined : new GatewayMetrics(db.poolStats ? { poolStats: () => db.poolStats?.() } : {});
  // Keys before listening: the first start creates the signing key, and no
  // request may arrive before tokens can be verified.
  const keys = await GatewayKeys.load(db);
  const clients = new ClientRegistry(db);
  const jwks = new JwksSource({ logger });
  // A metrics port that cannot be bound stops the start before the API listens.
  const metricsServer = metrics && config.METRICS_PORT !== undefined ? await startMetricsServer(metrics, config.METRICS_PORT, config.METRICS_HOST) : undefined;
  // Slow clients: headers within HEADERS_TIMEOUT_MS (never later than the whole request), the whole request
  // within REQUEST_TIMEOUT_MS; Node checks both only every connectionsCheckingInterval, so check often enough for them to hold.
  const headersTimeout = config.REQUEST_TIMEOUT_MS > 0 ? Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS) : config.HEADERS_TIMEOUT_MS;
  const server = createServer({
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    headersTimeout,
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
  });
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  }).catch((err: unknown) => {
    metricsServer?.server.close();
    throw err;
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  // The public base URL appears in links and Location headers; without
  // BASE_URL it is where we actually listen.
  const baseUrl = config.BASE_URL ?? url;
  // Tokens name the gateway (iss) and its FHIR API (aud); both come from the public base URL.
  const tokens = new AccessTokens(keys, { issuer: baseUrl, audience: `${baseUrl}/fhir`, lifetimeSeconds: config.ACCESS_TOKEN_SECONDS });
  const auth = { keys, tokens, clients, jwks, clientStatus: new ClientStatusCache(clients, config.CLIENT_STATUS_TTL_MS) };
  const origin = newOrigin();
  const gate = createGateServices({
    factsTtlMs: config.GATE_FACTS_TTL_MS,
    policyTtlMs: config.GATE_AGREEMENTS_TTL_MS,
    breakGlassWindowMs: config.BREAK_GLASS_MINUTES * 60_000,
    loadAgreements: (sql) => loadAgreements(sql),
    ...(metrics ? { onDecision: metrics.gateDecision } : {}),
    // Several instances on one PostgreSQL (README "Scaling out"): writes tell the others, on COMMIT.
    ...(db.kind === 'postgres' ? { notifyFactsChanged: (sql, patientIds) => publishInvalidation(sql, { kind: 'facts', patientIds }, origin) } : {}),
  });
  const listenUrl = db.kind === 'postgres' ? (config.DATABASE_LISTEN_URL ?? config.DATABASE_URL) : undefined;
  const cluster = listenUrl ? new ClusterListener({ url: listenUrl, origin, logger, targets: { facts: gate.facts, policy: gate, clients: auth.clientStatus } }) : undefined;
  await cluster?.start().catch((err: unknown) => {
    server.close();
    metricsServer?.server.close();
    throw err;
  });
  if (cluster && metrics) metrics.watchClusterListener(() => ({ connected: cluster.connected, resets: cluster.resets }));
  const audit = new AuditBatcher(db, metrics ? { onBatchWritten: metrics.auditBatchWritten } : {});
  // Joint work (issue #7): request workflow, care team roles, duplicate assessments (config/joint-work.json).
  const writeRules = jointWorkRules();
  // Subscriptions (docs/subscriptions.md): our rules on top of R4 validation, and delivery after each commit.
  const storeValidator = withSubscriptionRules(validator, { httpHosts: new Set(config.SUBSCRIPTION_HTTP_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)) });
  const subscriptions = new SubscriptionService({
    db,
    validator: storeValidator,
    baseUrl: `${baseUrl}/fhir`,
    gate,
    audit,
    logger,
    clientStatus: auth.clientStatus,
    options: {
      maxAttempts: config.SUBSCRIPTION_MAX_ATTEMPTS,
      retryBaseMs: config.SUBSCRIPTION_RETRY_BASE_MS,
      retryMaxMs: config.SUBSCRIPTION_RETRY_MAX_MS,
      errorAfter: config.SUBSCRIPTION_ERROR_AFTER,
      timeoutMs: config.SUBSCRIPTION_TIMEOUT_MS,
      pollMs: config.SUBSCRIPTION_POLL_MS,
    },
  });
  server.on('request', createApp({ config, baseUrl, db, validator: storeValidator, onCommitted: subscriptions.onCommitted, profileForType: (t) => validator.registry.profileForType(t), logger, version: VERSION, auth, gate, audit, writeRules, ungated: options.ungatedBaselineForBenchmarks === true, unaudited: options.unauditedBaselineForBenchmarks === true, ...(metrics ? { metrics } : {}) }));
  subscriptions.start();
  return {
    url,
    baseUrl,
    db,
    server,
    logger,
    tokens,
    keys,
    clients,
    gate,
    subscriptions,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    async close() {
      // Stop accepting, let requests in flight finish (their writes commit or
      // roll back whole), then cut whatever is still open after the grace period.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(timer);
      // Deliveries in flight finish (and are audited); queued ones wait in the database for the next start.
      await subscriptions.stop();
      // Requests have finished: their audit records are queued or written; write the rest before the database goes.
      await audit.close();
      await cluster?.close();
      if (metricsServer) {
        const stopped = new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
        metricsServer.server.closeAllConnections();
        await stopped;
      }
      if (!existingDb) await db.close();
    },
  };
}
