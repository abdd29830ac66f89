import { OperationOutcomeError, getStatus, isOperationOutcome } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** An error the HTTP layer answers with this status and OperationOutcome. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome
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
export function toErrorResponse(err: unknown): { status: number; body: OperationOutcome; unexpected: boolean } {
  if (err instanceof HttpError) {
    return { status: err.status, body: err.outcome, unexpected: false };
  }
  if (err instanceof OperationOutcomeError || isOperationOutcome(err)) {
    const oo = err instanceof OperationOutcomeError ? err.outcome : (err as OperationOutcome);
    const status = getStatus(oo);
    if (status < 500) {
      return { status, body: publicOutcome(oo), unexpected: false };
    }
  }
  return {
    status: 500,
    body: outcome('exception', 'Internal error. The request was not completed; nothing was stored.'),
    unexpected: true,
  };
}

/** Medplum keys statuses on OperationOutcome.id; that id is ours, not the client's. */
export function publicOutcome(oo: OperationOutcome): OperationOutcome {
  const { id: _id, ...rest } = oo;
  return rest;
}
