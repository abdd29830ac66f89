import { z } from 'zod';
import { ACCOMMODATION_STATUS, ETHNIC_CATEGORY, GENDER, PRIMARY_SUPPORT_REASON, code } from './code-lists.ts';
import { ContactDetails, HumanName, OdsCode, PastDate, Postcode, liveRecord, recordMeta, tombstoneRecord } from './envelope.ts';

export const CLIENT_TYPES = ['service-user', 'carer'] as const;

/** The person's own fields (their council id and NHS number are in `person`). */
export const personShape = {
  name: HumanName,
  birthDate: PastDate,
  deceasedDate: PastDate.optional(),
  gender: code(GENDER),
  ethnicity: code(ETHNIC_CATEGORY).optional(),
  postcode: Postcode.optional(),
  contact: ContactDetails.optional(),
  gpPracticeOds: OdsCode.optional().meta({ description: 'ODS code of the registered GP practice' }),
  clientType: z.enum(CLIENT_TYPES, { error: `clientType must be one of: ${CLIENT_TYPES.join(', ')}` }),
  primarySupportReason: code(PRIMARY_SUPPORT_REASON).optional(),
  accommodationStatus: code(ACCOMMODATION_STATUS).optional(),
  hasUnpaidCarer: z.enum(['yes', 'no', 'unknown'], { error: 'hasUnpaidCarer must be one of: yes, no, unknown' }).optional(),
};

export const PersonRecord = liveRecord('person', personShape)
  .superRefine((p, ctx) => {
    if (p.deceasedDate !== undefined && p.deceasedDate < p.birthDate) {
      ctx.addIssue({ code: 'custom', path: ['deceasedDate'], message: 'must not be before birthDate' });
    }
  })
  .meta(recordMeta('person', 'A person known to the council: a service user or a carer in their own right'));

export const PersonTombstone = tombstoneRecord('person', personShape);

export type PersonRecord = z.infer<typeof PersonRecord>;
