import type { AuditEvent } from '@medplum/fhirtypes';

/**
 * What one audit record is: the BALP AuditEvent plus the columns IG searches
 * on. Both are covered by the record's hash (see hash-chain.ts).
 */
export type AuditOutcome = 'permit' | 'deny' | 'permit-withheld' | 'error';
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
export type AuditOverride = 'break-glass' | 'safeguarding';
export type ReviewState = 'pending' | 'reviewed';

export interface AuditRecordInput {
  recorded: Date;
  patientId?: string;
  clientId?: string;
  orgOds?: string;
  userId?: string;
  purpose?: string;
  outcome: AuditOutcome;
  action: AuditAction;
  /** The FHIR interaction (read, search-type, ...) or 'token' for security events, 'review' for reviews. */
  subtype: string;
  /** The UK GDPR Art 6 code relied on (lawful-basis CodeSystem), if any. */
  lawfulBasis?: string;
  override?: AuditOverride;
  /** 'pending' for an override awaiting review; 'reviewed' on the review record itself. */
  reviewState?: ReviewState;
  /** On a review record: the seq of the override it reviews. */
  reviewsSeq?: number;
  /** The BALP event. Stored as canonical JSON (audit-writer.ts), except an exchange's, stored as the facts it is rendered from (exchange-facts.ts). */
  event: AuditEvent;
}

/** The searchable columns in the fixed order the hash header lists them. */
export interface AuditColumns {
  recorded: string;
  patient_id: string | null;
  client_id: string | null;
  org_ods: string | null;
  user_id: string | null;
  purpose: string | null;
  outcome: string;
  action: string;
  subtype: string;
  lawful_basis: string | null;
  override: string | null;
  review_state: string | null;
  reviews_seq: number | null;
}

/** A stored row as verify and archive read it (recorded already as ISO text). */
export interface AuditRow extends AuditColumns {
  seq: number;
  content: string;
  prev_hash: string;
  hash: string;
}
