import type { AuditEvent } from '@medplum/fhirtypes';
import { canonicalJson } from './canonical.ts';
import type { AuditRecordInput } from './types.ts';

/**
 * Canonical text of records whose event a builder wrote as text (balp.ts),
 * keyed by the record object itself: a copy of a record (`{ ...record,
 * event }`) is not found here and is written from its own `event`, so text
 * and event can never disagree.
 */
const CANONICAL = new WeakMap<AuditRecordInput, string>();

/** The text stored for a record's event (audit-writer.ts): the builder's canonical text, else canonicalJson of the event. */
export function storedEventText(record: AuditRecordInput): string {
  return CANONICAL.get(record) ?? canonicalJson(record.event);
}

/** A record whose event is the given canonical text; `event` parses it on demand, frozen so it cannot drift from the text. */
export function withCanonicalEvent(columns: Omit<AuditRecordInput, 'event'>, canonical: string): AuditRecordInput {
  let parsed: AuditEvent | undefined;
  const record: AuditRecordInput = {
    ...columns,
    get event(): AuditEvent {
      parsed ??= deepFreeze(JSON.parse(canonical) as AuditEvent);
      return parsed;
    },
  };
  CANONICAL.set(record, canonical);
  return record;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
