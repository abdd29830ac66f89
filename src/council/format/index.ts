import { z } from 'zod';
import { AssessmentRecord, AssessmentTombstone, ContactRecord, ContactTombstone, ReviewRecord, ReviewTombstone, ServiceRecord, ServiceTombstone } from './events.ts';
import { CarePlanRecord, CarePlanTombstone } from './care-plan.ts';
import { CareTeamRecord, CareTeamTombstone } from './care-team.ts';
import { ConsentRecord, ConsentTombstone } from './consent.ts';
import { PersonRecord, PersonTombstone } from './person.ts';
import { RelatedPersonRecord, RelatedPersonTombstone } from './related-person.ts';
import { SafeguardingRecord, SafeguardingTombstone } from './safeguarding.ts';
import { FORMAT_VERSION } from './envelope.ts';

export * from './code-lists.ts';
export * from './envelope.ts';
export * from './person.ts';
export * from './events.ts';
export * from './care-plan.ts';
export * from './care-team.ts';
export * from './consent.ts';
export * from './related-person.ts';
export * from './safeguarding.ts';

/** Every record type of the council format v1, in documentation order. */
export const RECORD_TYPES = ['person', 'contact', 'assessment', 'service', 'review', 'care-plan', 'care-team', 'consent', 'related-person', 'safeguarding'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

const LIVE = {
  person: PersonRecord,
  contact: ContactRecord,
  assessment: AssessmentRecord,
  service: ServiceRecord,
  review: ReviewRecord,
  'care-plan': CarePlanRecord,
  'care-team': CareTeamRecord,
  consent: ConsentRecord,
  'related-person': RelatedPersonRecord,
  safeguarding: SafeguardingRecord,
} as const satisfies Record<RecordType, z.ZodType>;

const TOMBSTONE = {
  person: PersonTombstone,
  contact: ContactTombstone,
  assessment: AssessmentTombstone,
  service: ServiceTombstone,
  review: ReviewTombstone,
  'care-plan': CarePlanTombstone,
  'care-team': CareTeamTombstone,
  consent: ConsentTombstone,
  'related-person': RelatedPersonTombstone,
  safeguarding: SafeguardingTombstone,
} as const satisfies Record<RecordType, z.ZodType>;

/** A live record (not deleted), discriminated on recordType. */
export const LiveCouncilRecord = z
  .discriminatedUnion('recordType', [
    PersonRecord,
    ContactRecord,
    AssessmentRecord,
    ServiceRecord,
    ReviewRecord,
    CarePlanRecord,
    CareTeamRecord,
    ConsentRecord,
    RelatedPersonRecord,
    SafeguardingRecord,
  ])
  .meta({ id: 'LiveCouncilRecord', title: 'A live council record' });

/** A tombstone (deleted: true), discriminated on recordType. */
export const CouncilTombstone = z
  .discriminatedUnion('recordType', [
    PersonTombstone,
    ContactTombstone,
    AssessmentTombstone,
    ServiceTombstone,
    ReviewTombstone,
    CarePlanTombstone,
    CareTeamTombstone,
    ConsentTombstone,
    RelatedPersonTombstone,
    SafeguardingTombstone,
  ])
  .meta({ id: 'CouncilTombstone', title: 'A council record deleted at source' });

/** The council format v1: one record, live or tombstone. */
export const CouncilRecord = z.union([LiveCouncilRecord, CouncilTombstone]).meta({
  title: 'JoinedUp council record, format v1',
  description:
    'One social care record pushed by a council. Every record carries formatVersion "1", its recordType, its source (system, recordId, lastUpdated) and the person it is about; deleted: true makes it a tombstone.',
});

export type LiveCouncilRecord = z.infer<typeof LiveCouncilRecord>;
export type CouncilTombstone = z.infer<typeof CouncilTombstone>;
/** Discriminated on `recordType` (and, within a type, on `deleted`). */
export type CouncilRecord = z.infer<typeof CouncilRecord>;

export interface CouncilRecordIssue {
  /** JSONPath of the problem in the submitted record, e.g. "$.person.nhsNumber". */
  path: string;
  message: string;
}

export type ParseCouncilRecordResult = { ok: true; record: CouncilRecord } | { ok: false; issues: CouncilRecordIssue[] };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** ["person", "nhsNumber"] → "$.person.nhsNumber"; ["members", 0, "care-role"] → "$.members[0]['care-role']". */
export function toJsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += IDENTIFIER.test(s) ? `.${s}` : `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
    }
  }
  return out;
}

/** Per-parse default messages: a missing field says so, plainly. */
function defaultMessage(iss: { code?: string; input?: unknown; expected?: unknown }): string | undefined {
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value' || iss.code === 'invalid_union')) return 'required';
  if (iss.code === 'invalid_type' && typeof iss.expected === 'string') {
    return `expected ${iss.expected}, received ${iss.input === null ? 'null' : Array.isArray(iss.input) ? 'array' : typeof iss.input}`;
  }
  return undefined;
}

function toIssues(error: z.ZodError): CouncilRecordIssue[] {
  const out: CouncilRecordIssue[] = [];
  for (const iss of error.issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push({ path: toJsonPath([...iss.path, key]), message: `unknown field "${key}"` });
    } else {
      out.push({ path: toJsonPath(iss.path), message: iss.message });
    }
  }
  return out;
}

function isRecordType(v: unknown): v is RecordType {
  return typeof v === 'string' && (RECORD_TYPES as readonly string[]).includes(v);
}

/**
 * Parses and validates one council record (already JSON-decoded). Problems
 * come back as JSONPath + message, one per problem, never throwing.
 */
export function parseCouncilRecord(json: unknown): ParseCouncilRecordResult {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, issues: [{ path: '$', message: 'a council record is a JSON object' }] };
  }
  const obj = json as Record<string, unknown>;
  if (!isRecordType(obj.recordType)) {
    const issues: CouncilRecordIssue[] = [];
    if (obj.formatVersion !== FORMAT_VERSION) issues.push({ path: '$.formatVersion', message: `formatVersion must be "${FORMAT_VERSION}"` });
    issues.push({
      path: '$.recordType',
      message: obj.recordType === undefined ? `required: one of ${RECORD_TYPES.join(', ')}` : `unknown recordType: must be one of ${RECORD_TYPES.join(', ')}`,
    });
    return { ok: false, issues };
  }
  const schema: z.ZodType = obj.deleted === true ? TOMBSTONE[obj.recordType] : LIVE[obj.recordType];
  const result = schema.safeParse(json, { error: defaultMessage });
  if (result.success) return { ok: true, record: result.data as CouncilRecord };
  return { ok: false, issues: toIssues(result.error) };
}

/** The schema for one record type (live or tombstone). */
export function recordSchema(recordType: RecordType, tombstone = false): z.ZodType {
  return tombstone ? TOMBSTONE[recordType] : LIVE[recordType];
}
