import type { AuditEvent } from '@medplum/fhirtypes';
import { canonicalJson } from './canonical.ts';
import { auditEventOf } from './stored-event.ts';
import type { AuditRecordInput } from './types.ts';

/**
 * Stored text of records a builder wrote as text (balp.ts: an exchange's
 * facts), keyed by the record object itself: a copy of a record (`{
 * ...record, event }`) is not found here and is written from its own
 * `event`, so text and event can never disagree.
 */
const STORED = new WeakMap<AuditRecordInput, string>();

/** The text stored for a record (audit-writer.ts): the builder's text, else canonicalJson of the event. */
export function storedEventText(record: AuditRecordInput): string {
  return STORED.get(record) ?? canonicalJson(record.event);
}

/**
 * A record stored as the given canonical text (an exchange's facts, or an
 * event); `event` is read from that text on demand (auditEventOf), frozen so
 * it cannot drift from it.
 */
export function withStoredText(columns: Omit<AuditRecordInput, 'event'>, stored: string): AuditRecordInput {
  let parsed: AuditEvent | undefined;
  const record: AuditRecordInput = {
    ...columns,
    get event(): AuditEvent {
      parsed ??= deepFreeze(auditEventOf(stored));
      return parsed;
    },
  };
  STORED.set(record, stored);
  return record;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
