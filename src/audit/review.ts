import type { AuditEvent } from '@medplum/fhirtypes';
import { PURPOSES } from '../auth/purposes.ts';
import type { Actor } from '../request-context.ts';
import { CLIENT_ID_SYSTEM, GATE_DECISION_URL, GATEWAY_OBSERVER, ODS_SYSTEM, SDS_JOB_ROLE_SYSTEM, SOURCE_APP_SERVER, USER_ID_SYSTEM, X_REQUEST_ID } from './balp-codes.ts';
import type { AuditRecordInput } from './types.ts';

export const REVIEW_OUTCOMES = ['appropriate', 'inappropriate', 'escalated'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

export interface OverrideReviewInput {
  recorded: Date;
  /** seq of the break-glass or safeguarding record reviewed. */
  reviewedSeq: number;
  /** The patient of the reviewed record, so the review shows in that person's access report. */
  patientId?: string;
  reviewer: Actor;
  outcome: ReviewOutcome;
  /** The privacy officer's note: IG-visible only, like the justification it answers. */
  note?: string;
  /** The reviewing request's id (X-Request-Id), as an exchange's record names its own. */
  requestId?: string;
}

/**
 * A privacy officer's review of an override, as a NEW audit record
 * (review_state 'reviewed', reviews_seq = the override's seq): the table
 * stays strictly append-only, and the review is itself audited.
 */
export function buildOverrideReviewRecord(input: OverrideReviewInput): AuditRecordInput {
  const a = input.reviewer;
  const entity = reviewEntities(input);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: 'https://joinedup.org.uk/fhir/CodeSystem/audit-subtype', code: 'override-review', display: 'override review' }],
    action: 'U',
    recorded: input.recorded.toISOString(),
    outcome: '0',
    purposeOfEvent: [{ coding: [{ system: PURPOSES[a.purposeOfUse].system, code: a.purposeOfUse }] }],
    agent: [
      { type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] }, who: { identifier: { system: CLIENT_ID_SYSTEM, value: a.clientId } }, requestor: false },
      {
        who: { identifier: { system: USER_ID_SYSTEM, value: a.user.id } },
        role: [{ coding: [{ system: SDS_JOB_ROLE_SYSTEM, code: a.user.role }] }],
        requestor: true,
        policy: [a.tokenId],
      },
      { who: { identifier: { system: ODS_SYSTEM, value: a.organisation.ods } }, requestor: false },
    ],
    source: { observer: GATEWAY_OBSERVER, type: [SOURCE_APP_SERVER] },
    ...(entity.length ? { entity } : {}),
    extension: [
      {
        url: GATE_DECISION_URL,
        extension: [
          { url: 'outcome', valueCode: 'permit' },
          // The IG API serves each record as AuditEvent/<seq>.
          { url: 'reviewOf', valueReference: { reference: `AuditEvent/${input.reviewedSeq}` } },
          { url: 'reviewOutcome', valueCode: input.outcome },
          ...(input.note ? [{ url: 'reviewNote', valueString: input.note }] : []),
        ],
      },
    ],
  };
  return {
    recorded: input.recorded,
    patientId: input.patientId,
    clientId: a.clientId,
    orgOds: a.organisation.ods,
    userId: a.user.id,
    purpose: a.purposeOfUse,
    outcome: 'permit',
    action: 'U',
    subtype: 'override-review',
    reviewState: 'reviewed',
    reviewsSeq: input.reviewedSeq,
    event,
  };
}

/** The request (when known) and the person, as an exchange's record lists them. */
function reviewEntities(input: OverrideReviewInput): NonNullable<AuditEvent['entity']> {
  const entity: NonNullable<AuditEvent['entity']> = [];
  if (input.requestId) entity.push({ type: X_REQUEST_ID, what: { identifier: { value: input.requestId } } });
  if (input.patientId) entity.push({ what: { reference: `Patient/${input.patientId}` }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } });
  return entity;
}
