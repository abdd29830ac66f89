import { z } from 'zod';
import { OdsCode as AuthOdsCode } from '../../auth/organisation.ts';
import { isValidNhsNumber } from '../../fhir/validation/nhs-number.ts';
import { SDS_JOB_ROLES } from '../../auth/sds-job-roles.ts';

/** The only version of the council format so far. */
export const FORMAT_VERSION = '1';

/** Clock skew allowed on instants the council says are "now or earlier". */
const INSTANT_SKEW_MS = 5 * 60 * 1000;

const UK_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' });

/** Today's date (YYYY-MM-DD) in England, where the councils are. */
export function todayInEngland(now: Date = new Date()): string {
  return UK_DATE.format(now);
}

export const NHS_NUMBER_MESSAGE = 'not a valid NHS number: it must be 10 digits whose last is the modulus 11 check digit of the first nine';

/** An NHS number: ten digits, modulus 11 check digit (isValidNhsNumber). */
export const NhsNumber = z
  .string()
  .regex(/^\d{10}$/, { message: 'an NHS number is exactly 10 digits, without spaces', abort: true })
  .refine(isValidNhsNumber, NHS_NUMBER_MESSAGE)
  .meta({ description: 'NHS number: 10 digits with a valid modulus 11 check digit', examples: ['9990000018'] });

/** An ODS organisation code, as the rest of the gateway checks it. */
export const OdsCode = AuthOdsCode.meta({ description: 'ODS organisation code (3 to 10 capital letters and digits)', examples: ['X9C01', 'X99001', 'X9H01'] });

/** SDS job role code (the RBAC code on an NHS smartcard), e.g. R8000. */
export const SdsJobRole = z
  .string()
  .refine((v) => SDS_JOB_ROLES.has(v), { message: 'unknown code in code list "SDS job role"' })
  .meta({ description: 'SDS job role code (UK Core SDSJobRoleName), e.g. R8000', pattern: '^R\\d{4}$' });

/** A local identifier in the council's system: printable, no surrounding spaces. */
export const LocalId = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'at most 128 characters')
  .regex(/^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/, 'printable ASCII without leading or trailing spaces')
  .meta({ description: "An identifier in the council's case-management system" });

/** Free text with a length limit (and at least one character). */
export function text(max = 1000) {
  return z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);
}

/** A calendar date (YYYY-MM-DD) that may be in the future (planned). */
export const PlannedDate = z.iso.date({ message: 'a date as YYYY-MM-DD' });

/** A calendar date (YYYY-MM-DD) of something that has happened: not after today. */
export const PastDate = z.iso
  .date({ message: 'a date as YYYY-MM-DD', abort: true })
  .refine((d) => d <= todayInEngland(), { message: 'must not be in the future' });

/** An instant with its offset (ISO 8601), e.g. 2026-03-02T09:15:00Z. */
export const Instant = z.iso.datetime({ offset: true, message: 'an instant with time zone, e.g. 2026-03-02T09:15:00Z' });

/** An instant that has happened (a few minutes of clock skew allowed). */
export const PastInstant = z.iso
  .datetime({ offset: true, message: 'an instant with time zone, e.g. 2026-03-02T09:15:00Z', abort: true })
  .refine((t) => Date.parse(t) <= Date.now() + INSTANT_SKEW_MS, { message: 'must not be in the future' });

/** Where a record comes from: the case-management system, its id there, and when it last changed there. */
export const Source = z
  .strictObject({
    system: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/, 'a system id is lower-case letters, digits, ".", "_" or "-" (at most 64), e.g. "mosaic-midshire"')
      .meta({ description: 'The case-management system, as registered for the council', examples: ['mosaic-midshire'] }),
    recordId: LocalId.meta({ description: "The record's id in that system" }),
    lastUpdated: PastInstant.meta({ description: 'When the record last changed in that system: a newer push wins, an older one is refused' }),
  })
  .meta({ id: 'Source', title: 'Source of the record' });

/** The person a record is about: the council's person id, and the NHS number if known. */
export const PersonRef = z
  .strictObject({
    localId: LocalId.meta({ description: "The council's person id (e.g. Mosaic person id)" }),
    nhsNumber: NhsNumber.optional(),
  })
  .meta({ id: 'PersonRef', title: 'The person the record is about' });

/** A period: start (happened), optional end (may be planned). */
export const Period = z
  .strictObject({ start: PastDate, end: PlannedDate.optional() })
  .superRefine((p, ctx) => {
    if (p.end !== undefined && p.end < p.start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must not be before start' });
  })
  .meta({ id: 'Period', title: 'Period' });

export const HumanName = z
  .strictObject({
    prefix: text(40).optional(),
    given: z.array(text(100)).min(1, 'at least one given name').max(5),
    family: text(100),
  })
  .meta({ id: 'HumanName', title: 'Name' });

/** An organisation: ODS code when it has one, and its name. */
export const OrganisationRef = z
  .strictObject({ ods: OdsCode.optional(), name: text(200) })
  .meta({ id: 'OrganisationRef', title: 'Organisation' });

/** A practitioner: name, the council's staff id, and optional SDS job role and organisation. */
export const PractitionerRef = z
  .strictObject({
    name: text(200),
    localId: LocalId.optional(),
    sdsJobRole: SdsJobRole.optional(),
    organisationOds: OdsCode.optional(),
  })
  .meta({ id: 'PractitionerRef', title: 'Practitioner' });

export const UK_POSTCODE = /^(GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})$/;
export const Postcode = z.string().regex(UK_POSTCODE, 'a UK postcode in capitals with one space, e.g. "ZZ99 3CZ"');

export const ContactDetails = z
  .strictObject({
    phone: z.string().regex(/^\+?[0-9 ()-]{6,20}$/, 'a telephone number').optional(),
    email: z.email({ message: 'an email address' }).optional(),
    postcode: Postcode.optional(),
  })
  .meta({ id: 'ContactDetails', title: 'Contact details' });

/**
 * The envelope shared by every record. `recordType` and `person` are added
 * by each record type; `deleted: true` makes the record a tombstone.
 */
export const envelopeShape = {
  formatVersion: z.literal(FORMAT_VERSION, { error: `formatVersion must be "${FORMAT_VERSION}"` }),
  source: Source,
  person: PersonRef,
} as const;

export type SourceT = z.infer<typeof Source>;
export type PersonRefT = z.infer<typeof PersonRef>;

type Optionalised<S extends z.ZodRawShape> = { [K in keyof S]: z.ZodOptional<S[K]> };

function pascal(recordType: string): string {
  return recordType.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/** A live record of one type: the envelope, `recordType`, and the type's own fields. */
export function liveRecord<T extends string, S extends z.ZodRawShape>(recordType: T, shape: S) {
  return z.strictObject({
    ...envelopeShape,
    recordType: z.literal(recordType),
    deleted: z.literal(false).optional().meta({ description: 'Absent (or false) for a live record; true makes it a tombstone' }),
    ...shape,
  });
}

/**
 * A tombstone: the record was deleted at source. Only the envelope and the
 * person key fields are required; the record's own fields may be repeated
 * but are not checked for completeness.
 */
export function tombstoneRecord<T extends string, S extends z.ZodRawShape>(recordType: T, shape: S) {
  const optional = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, (v as z.ZodType).optional()])) as unknown as Optionalised<S>;
  return z
    .strictObject({
      ...envelopeShape,
      recordType: z.literal(recordType),
      deleted: z.literal(true),
      ...optional,
    })
    .meta({ id: `${pascal(recordType)}Tombstone`, title: `${recordType} tombstone`, description: `A ${recordType} record deleted at source` });
}

export function recordMeta(recordType: string, description: string) {
  return { id: `${pascal(recordType)}Record`, title: `${recordType} record`, description };
}
