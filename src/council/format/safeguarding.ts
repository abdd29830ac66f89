import { z } from 'zod';
import { OrganisationRef, PastDate, liveRecord, recordMeta, tombstoneRecord } from './envelope.ts';

/** Adult: Care Act 2014 s42 enquiry; child: Children Act 1989 s47 enquiry. */
export const ENQUIRY_KINDS = ['adult-s42', 'child-s47'] as const;

export const safeguardingShape = {
  kind: z.enum(ENQUIRY_KINDS, { error: `kind must be one of: ${ENQUIRY_KINDS.join(', ')}` }),
  opened: PastDate,
  closed: PastDate.optional(),
  leadOrganisation: OrganisationRef,
};

export const SafeguardingRecord = liveRecord('safeguarding', safeguardingShape)
  .superRefine((s, ctx) => {
    if (s.closed !== undefined && s.closed < s.opened) ctx.addIssue({ code: 'custom', path: ['closed'], message: 'must not be before opened' });
  })
  .meta(recordMeta('safeguarding', 'A safeguarding enquiry: open until closed (a flag; no details of the concern are carried)'));
export const SafeguardingTombstone = tombstoneRecord('safeguarding', safeguardingShape);

export type SafeguardingRecord = z.infer<typeof SafeguardingRecord>;
