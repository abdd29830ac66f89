import type { AuditEvent } from '@medplum/fhirtypes';
import { renderExchangeEventText } from './balp-render.ts';
import { isExchangeFacts } from './exchange-facts.ts';

export class StoredAuditContentError extends Error {
  override name = 'StoredAuditContentError';
}

/**
 * The AuditEvent of a stored record's content: an exchange's facts
 * (exchange-facts.ts) rendered as its BALP AuditEvent, or an event stored
 * as itself (security events, reviews, and exchanges recorded before
 * 2026-11-21), as stored. Every reader of audit_event.content goes through
 * here, so old and new records read alike.
 */
export function auditEventOf(content: string): AuditEvent {
  const value: unknown = JSON.parse(content);
  if (isExchangeFacts(value)) return JSON.parse(renderExchangeEventText(value)) as AuditEvent;
  if (typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === 'AuditEvent') return value as AuditEvent;
  // The record's hash still covers it, so verify reports it intact or not; say only what kind of thing it is.
  throw new StoredAuditContentError('stored audit content is neither an AuditEvent nor an exchange\'s facts');
}
