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
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
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
  // Prometheus metrics (docs/operations.md, "Metrics") on a port of their own, never the API's;
  // unset means no metrics server. Loopback by default, like HOST.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
