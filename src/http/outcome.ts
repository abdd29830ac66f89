import { OperationOutcomeError, getStatus, isOperationOutcome } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { StoredAuditContentError } from '../audit/stored-event.ts';
import { DATABASE_RETRY_AFTER_SECONDS, databaseUnavailableOutcome, isDatabaseUnavailable } from '../db/unavailable.ts';

/*
 * Every error answer is an OperationOutcome. Which status, consistently:
 *   400  the request is not a usable FHIR request: malformed or too deeply
 *        nested JSON, a body that is not a resource, a resource of the wrong
 *        type or with the wrong id for the URL, a bad search or paging
 *        parameter, a Bundle that is not batch/transaction, a bad JSON Patch.
 *   422  a resource of the right type that breaks R4 (unknown element, bad
 *        code from a required binding, missing required element) or our
 *        profiles (NHS number check digit): one issue per problem.
 *   404 unknown type, id or endpoint; 405 known endpoint, wrong method;
 *   406/415 media types; 409 a failed JSON Patch test or a concurrent
 *   write; 410 deleted; 412 stale If-Match or several conditional matches;
 *   413 body too big.
 *   503 (with Retry-After) the database is down or restarting: code
 *        `transient`, nothing was stored, try again (src/db/unavailable.ts).
 * `expression` says where the problem is: a FHIRPath into the resource
 * (Patient.gender, Bundle.entry[2].resource.subject), or the name of the
 * header or query parameter (If-Match, Content-Type, _count). None is given
 * when the problem is the request as a whole (unparseable JSON, body size).
 */

/** An error the HTTP layer answers with this status and OperationOutcome. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
    /** Extra response headers, e.g. Allow on a 405. */
    readonly headers: Record<string, string> = {}
  ) {
    super(outcome.issue?.[0]?.details?.text ?? `HTTP ${status}`);
  }
}

export function outcome(code: OperationOutcomeIssue['code'], text: string, expression?: string[]): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity: 'error', code, details: { text } };
  if (expression?.length) issue.expression = expression;
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

export function httpError(status: number, code: OperationOutcomeIssue['code'], text: string, expression?: string[]): HttpError {
  return new HttpError(status, outcome(code, text, expression));
}

/**
 * Maps anything thrown to a status and an OperationOutcome fit to send to
 * another system. Unexpected errors say nothing about their cause: their
 * messages may carry personal data or internals.
 */
export function toErrorResponse(err: unknown): { status: number; body: OperationOutcome; unexpected: boolean; headers?: Record<string, string> } {
  if (err instanceof HttpError) {
    return { status: err.status, body: err.outcome, unexpected: false, headers: err.headers };
  }
  if (isDatabaseUnavailable(err)) return databaseUnavailableResponse();
  if (err instanceof OperationOutcomeError || isOperationOutcome(err)) {
    const oo = err instanceof OperationOutcomeError ? err.outcome : (err as OperationOutcome);
    const status = getStatus(oo);
    if (status < 500) {
      return { status, body: publicOutcome(oo), unexpected: false };
    }
  }
  // Still a server failure, and still logged as one, but it says which record is damaged: an IG lead can act on that.
  if (err instanceof StoredAuditContentError) return { status: 500, body: outcome('exception', err.message), unexpected: true };
  return {
    status: 500,
    body: outcome('exception', 'Internal error. The request was not completed; nothing was stored.'),
    unexpected: true,
  };
}

/**
 * The answer when the database cannot be reached: 503, Retry-After, an
 * OperationOutcome that says so and names nothing else. Also for handlers
 * that send their own error answers (an audit that could not be committed).
 */
export function databaseUnavailableResponse(): { status: 503; body: OperationOutcome; unexpected: false; headers: Record<string, string> } {
  return {
    status: 503,
    body: publicOutcome(databaseUnavailableOutcome()),
    unexpected: false,
    headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS), 'Cache-Control': 'no-store' },
  };
}

/** Medplum keys statuses on OperationOutcome.id; that id is ours, not the client's. */
export function publicOutcome(oo: OperationOutcome): OperationOutcome {
  const { id: _id, ...rest } = oo;
  return rest;
}
