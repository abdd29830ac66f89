import { z } from 'zod';
import { RELATIONSHIP_TYPE, code } from './code-lists.ts';
import { ContactDetails, HumanName, LocalId, NhsNumber, PastDate, Period, liveRecord, recordMeta, text, tombstoneRecord } from './envelope.ts';

/** Relationships that carry legal authority, and so need its reference. */
const NEEDS_AUTHORITY: Record<string, 'lpa' | 'deputyship'> = {
  'lpa-health-welfare': 'lpa',
  'lpa-property-finance': 'lpa',
  'deputy-health-welfare': 'deputyship',
  'deputy-property-finance': 'deputyship',
};
const CARERS = new Set(['unpaid-carer', 'main-unpaid-carer']);

export const Authority = z
  .strictObject({
    kind: z.enum(['lpa', 'deputyship', 'advocacy-referral', 'other'], { error: 'kind must be one of: lpa, deputyship, advocacy-referral, other' }),
    reference: text(100).meta({ description: 'LPA registration number (Office of the Public Guardian) or Court of Protection order number' }),
    registeredOn: PastDate.optional(),
  })
  .meta({ id: 'Authority', title: 'Legal authority to act for the person' });

export const relatedPersonShape = {
  relationship: code(RELATIONSHIP_TYPE),
  personalRelationship: text(100).optional().meta({ description: 'e.g. "wife", "son", "friend"' }),
  relatedPerson: z
    .strictObject({
      localId: LocalId.optional().meta({ description: 'Their own council person id: required for carers, whose own records (e.g. a carer’s assessment) use it' }),
      nhsNumber: NhsNumber.optional(),
      name: HumanName,
      contact: ContactDetails.optional(),
    })
    .meta({ id: 'RelatedPersonDetails', title: 'The related person' }),
  authority: Authority.optional(),
  period: Period,
};

export const RelatedPersonRecord = liveRecord('related-person', relatedPersonShape)
  .superRefine((r, ctx) => {
    const needed = NEEDS_AUTHORITY[r.relationship];
    if (needed && !r.authority) ctx.addIssue({ code: 'custom', path: ['authority'], message: `a ${r.relationship} needs the ${needed} reference` });
    else if (needed && r.authority && r.authority.kind !== needed) ctx.addIssue({ code: 'custom', path: ['authority', 'kind'], message: `a ${r.relationship} acts under a ${needed}` });
    if (CARERS.has(r.relationship) && !r.relatedPerson.localId) {
      ctx.addIssue({ code: 'custom', path: ['relatedPerson', 'localId'], message: 'a carer is a person in their own right: give their council person id' });
    }
    if (r.relatedPerson.localId !== undefined && r.relatedPerson.localId === r.person.localId) {
      ctx.addIssue({ code: 'custom', path: ['relatedPerson', 'localId'], message: 'a person cannot be related to themselves' });
    }
  })
  .meta(recordMeta('related-person', 'A carer, attorney, deputy, advocate or other person related to the person'));
export const RelatedPersonTombstone = tombstoneRecord('related-person', relatedPersonShape);

export type RelatedPersonRecord = z.infer<typeof RelatedPersonRecord>;
