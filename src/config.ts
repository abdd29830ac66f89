import { z } from 'zod';

/**
 * Configuration comes only from the environment and is checked once at start,
 * so a bad setting stops the process with a message naming it rather than
 * failing later inside a request.
 */
const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Loopback by default: an operator decides to expose the gateway, it never
  // happens by accident (and open-development mode must never be reachable).
  HOST: z.string().min(1).default('127.0.0.1'),
  BASE_URL: z.url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_LISTEN_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(), // cache invalidation's LISTEN: a direct connection when DATABASE_URL goes through a transaction-mode pooler
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000), // longest wait for a database connection before a request fails fast with 503
  // SMART Backend Services unless an operator explicitly opts out for a local
  // experiment or the auth benchmark: open-development has no authentication.
  AUTH_MODE: z.enum(['smart', 'open-development']).default('smart'),
  // Demo organisations and clients on an empty database: 'auto' seeds only in
  // embedded PGlite mode, so a real PostgreSQL deployment never gets demo keys.
  DEMO_DATA: z.enum(['auto', 'on', 'off']).default('auto'),
  // SMART Backend Services recommends at most five minutes; a longer lifetime
  // would widen the window in which a leaked token is useful.
  // How long an instance trusts its memory that a client is active; a suspension bites within this.
  CLIENT_STATUS_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(30_000),
  ACCESS_TOKEN_SECONDS: z.coerce.number().int().min(10).max(300).default(300),
  // The gate's memory of facts about a person. Writes through this instance
  // drop it at once; the TTL bounds how long another instance's write (a
  // withdrawn consent) can go unseen when several share one database.
  GATE_FACTS_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  // Sharing agreements change through the CLI; instances reload them after this.
  GATE_AGREEMENTS_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  // Rule 9: how long one break-glass declaration opens a person's record to one user.
  BREAK_GLASS_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(240),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
  MAX_JSON_DEPTH: z.coerce.number().int().min(8).max(1000).default(64),
  // The NDJSON import (POST /council/v1/import) streams, so its cap on a whole
  // caseload is generous; one record (one line) is held whole, so that is small.
  MAX_IMPORT_BYTES: z.coerce.number().int().min(1024).default(8 * 1024 ** 3),
  MAX_IMPORT_LINE_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  // Node's limit on receiving a whole request (slow-upload protection). A streamed
  // caseload import longer than this must be sent in parts (the CLI does); 0 disables it.
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  // Rate limits and slow clients (docs/operations.md), per instance: N instances let a client N times through.
  // Per authenticated client: requests a second sustained, and how many may come at once; 0 = no limit.
  RATE_LIMIT_PER_CLIENT: z.coerce.number().min(0).max(1_000_000).default(100),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
  // Token requests a minute per remote address (the endpoint has no client yet); 0 = no limit.
  RATE_LIMIT_TOKEN_PER_IP: z.coerce.number().min(0).max(1_000_000).default(60),
  // Time a client has to send a request's headers (slowloris protection); never more than REQUEST_TIMEOUT_MS.
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  // Where logs go: a file (appended) instead of stdout. For tests and hosts without a log collector.
  LOG_FILE: z.string().min(1).optional(),
  // FHIR Subscriptions (docs/subscriptions.md): endpoints must be https, except plain http to
  // these hosts (comma-separated; loopback names only make sense in development and tests).
  SUBSCRIPTION_HTTP_HOSTS: z.string().default(''),
  // Delivery retries: first retry after the base delay, doubling up to the cap, for at most this many attempts.
  SUBSCRIPTION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  SUBSCRIPTION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(1_000),
  SUBSCRIPTION_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(300_000),
  // A Subscription shows status "error" after this many consecutive failed attempts (and "active" again after a success).
  SUBSCRIPTION_ERROR_AFTER: z.coerce.number().int().min(1).max(100).default(3),
  SUBSCRIPTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  SUBSCRIPTION_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  // How long audit records are kept before `npx joinedup audit archive` exports and removes them
  // (8 years by default: a records-management choice, not a legal requirement; set it from your policy).
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(2922),
  // The IG web page (/ig, docs/ig-web.md): a signed-in session ends after this long without a request.
  IG_WEB_SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(30),
  // Sign-in to /ig with the organisation's single sign-on: OpenID Connect code flow with PKCE
  // (docs/ig-web.md). All or nothing: issuer, client id, role claim, roles and organisation
  // together; igOidcSettings (src/ig-web/oidc-config.ts) names a missing one and refuses to start.
  IG_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  IG_OIDC_CLIENT_ID: z.string().min(1).optional(),
  // Unset: a public client (PKCE only); set: client_secret_basic.
  IG_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  IG_OIDC_SCOPES: z.string().regex(/(^|\s)openid(\s|$)/, 'must include "openid"').default('openid profile email'),
  // The claim holding the user's roles or groups, and the values of it that grant IG access (comma-separated).
  IG_OIDC_ROLE_CLAIM: z.string().min(1).optional(),
  IG_OIDC_ROLES: z.string().min(1).optional(),
  // The organisation every IG user signing in this way acts for.
  IG_OIDC_ORG_ODS: z.string().regex(/^[A-Za-z0-9]{3,12}$/, 'must be an ODS code (3-12 letters and digits)').optional(),
  IG_OIDC_ORG_NAME: z.string().min(1).optional(),
  // Prometheus metrics (docs/operations.md, "Metrics") on a port of their own, never the API's;
  // unset means no metrics server. Loopback by default, like HOST.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Safety switches for the compiled fast paths (ADR 0015). Read by their modules at load; checked here so a typo stops the start.
  JOINEDUP_FAST_VALIDATION: z.enum(['on', 'off']).default('on'),
  JOINEDUP_INDEX_WALKERS: z.enum(['on', 'off']).default('on'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings in the environment mean "unset" (docker-compose passes them that way).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  return { ...c, BASE_URL: c.BASE_URL?.replace(/\/+$/, '') };
}
