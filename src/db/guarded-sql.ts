import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { SqlClient } from './sql-client.ts';
import { DatabaseUnavailableError, isDatabaseUnavailable } from './unavailable.ts';

export type DbErrorListener = (err: unknown) => void;

// SQLSTATEs that mean "try again" rather than "broken": concurrent writers.
const RETRYABLE = new Set(['40001', '40P01', '23505']);

function failure(status: 'conflict' | 'exception', text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: status === 'conflict' ? 'conflict' : undefined,
    issue: [{ severity: 'error', code: status, details: { text } }],
  };
}

export function sanitizeDbError(err: unknown, onError: DbErrorListener): OperationOutcomeError {
  if (err instanceof OperationOutcomeError) return err;
  onError(err);
  // Normally already classified by the driver adapter (postgres.ts); this catches any that was not.
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailableError(err);
  const code = (err as { code?: string })?.code;
  if (code && RETRYABLE.has(code)) {
    return new OperationOutcomeError(failure('conflict', 'A concurrent change to the same resource won; read it again and retry'));
  }
  return new OperationOutcomeError(failure('exception', 'Internal error. The request was not completed; nothing was stored.'));
}

/**
 * Driver errors must never reach another system: their messages can quote
 * stored values. This wrapper replaces them with a plain OperationOutcome
 * and hands the original to a listener that logs only its class and code.
 */
export function guardSql(inner: SqlClient, onError: DbErrorListener): SqlClient {
  const wrap = (err: unknown): never => {
    throw sanitizeDbError(err, onError);
  };
  return {
    query: <R>(text: string, params?: unknown[], name?: string) => inner.query<R>(text, params, name).catch(wrap),
    exec: (text) => inner.exec(text).catch(wrap),
  };
}
