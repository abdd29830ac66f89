import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

/*
 * "The database is down or restarting" is not a bug in the request nor in
 * the gateway: the client should try again shortly. Such failures answer 503
 * with Retry-After (OperationOutcome code `transient`; RFC 6749
 * `temporarily_unavailable` at the token endpoint) instead of a 500, and
 * they are recognised here, in one place, from what pg and Node report.
 */

/** Seconds a client is told to wait before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

// Medplum's getStatus() reads OperationOutcome.id: 'server-timeout' makes it
// a 5xx (504) to code that does not know this outcome, so nothing downstream
// ever mistakes it for the client's fault (a 4xx). Ours is told apart from
// Medplum's own server timeouts by its issue code, 'transient'.
const OUTCOME_ID = 'server-timeout';

// Socket-level failures: the server is not listening, went away, or cannot be reached.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// SQLSTATEs: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
// (starting up or shutting down), 53300 too_many_connections. Class 08 is
// "connection exception" as a whole.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

// pg and pg-pool say these in plain Errors without a code.
const MESSAGES = [
  /^Connection terminated/, // "Connection terminated unexpectedly", "... due to connection timeout"
  /^timeout exceeded when trying to connect/, // pg-pool connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
];

/** The outcome every database-unavailable answer carries. Names no host, port or query. */
export function databaseUnavailableOutcome(): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: OUTCOME_ID,
    issue: [
      {
        severity: 'error',
        code: 'transient',
        details: { text: `The database is unavailable. The request was not completed and nothing was stored; try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds.` },
      },
    ],
  };
}

/**
 * A database-unavailable failure, once recognised. An OperationOutcomeError
 * so the code that already passes those through untouched (the FHIR router,
 * council pushes) keeps it whole, and recognisable by its outcome.
 */
export class DatabaseUnavailableError extends OperationOutcomeError {
  /** The driver's error code or SQLSTATE, for logs only. */
  readonly code: string | undefined;

  constructor(cause?: unknown) {
    super(databaseUnavailableOutcome());
    this.name = 'DatabaseUnavailableError';
    this.code = codeOf(cause);
  }
}

/** True when err (a pg/Node error, our own class, or its outcome) means the database cannot be reached right now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (isDatabaseUnavailableOutcome(err)) return true;
  if (err instanceof OperationOutcomeError) return isDatabaseUnavailableOutcome(err.outcome);
  if (typeof err !== 'object' || err === null) return false;
  const code = codeOf(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  const message = (err as { message?: unknown }).message;
  if (typeof message === 'string' && MESSAGES.some((re) => re.test(message))) return true;
  // Node wraps several connect attempts (IPv4 and IPv6) in an AggregateError.
  if (err instanceof AggregateError) return err.errors.length > 0 && err.errors.every(isDatabaseUnavailable);
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err && isDatabaseUnavailable(cause);
}

/** Ours: the id (removed by publicOutcome before sending) and a transient first issue. */
export function isDatabaseUnavailableOutcome(value: unknown): boolean {
  const oo = value as OperationOutcome | undefined;
  return oo?.resourceType === 'OperationOutcome' && oo.id === OUTCOME_ID && oo.issue?.[0]?.code === 'transient';
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
