import type { AuditEvent } from '@medplum/fhirtypes';
import { renderExchangeEventText } from './balp-render.ts';
import { isExchangeFacts } from './exchange-facts.ts';
import { readStoredFacts } from './stored-facts.ts';

/**
 * A stored record that cannot be shown: its content is not what the gateway
 * writes, so it was altered (`audit verify` finds where). The message names
 * the record and the field, never a value, so it may go to an IG client.
 */
export class StoredAuditContentError extends Error {
  override name = 'StoredAuditContentError';
  constructor(
    readonly seq: number | undefined,
    problem: string
  ) {
    super(`Audit record ${seq ?? '(unnumbered)'} cannot be shown: ${problem}. It was altered after it was written; npx joinedup audit verify reports the first broken link.`);
  }
}

/**
 * The AuditEvent of a stored record's content: an exchange's facts
 * (exchange-facts.ts) rendered as its BALP AuditEvent, or an event stored
 * as itself (security events, reviews, and exchanges recorded before
 * 2026-11-21), as stored. Every reader of audit_event.content goes through
 * here, so old and new records read alike. `seq` names the record if it
 * cannot be shown.
 */
export function auditEventOf(content: string, seq?: number): AuditEvent {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    throw new StoredAuditContentError(seq, 'its content is not JSON');
  }
  if (isExchangeFacts(value)) {
    const read = readStoredFacts(value);
    if ('problem' in read) throw new StoredAuditContentError(seq, `in its exchange facts, ${read.problem}`);
    return JSON.parse(renderExchangeEventText(read.facts)) as AuditEvent;
  }
  if (typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === 'AuditEvent') return value as AuditEvent;
  throw new StoredAuditContentError(seq, 'its content is neither an AuditEvent nor an exchange\'s facts');
}
