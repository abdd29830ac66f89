import { z } from 'zod';
import { PURPOSE_CODES } from '../../auth/purposes.ts';
import { DATA_CLASS, code } from './code-lists.ts';
import { LocalId, OdsCode, PastDate, PlannedDate, PractitionerRef, liveRecord, recordMeta, text, tombstoneRecord } from './envelope.ts';

export const CONSENT_STATUSES = ['given', 'refused', 'withdrawn'] as const;
/** Who made the decision (Mental Capacity Act 2005: the person, an LPA attorney, a deputy, or a best-interests decision). */
export const DECIDED_BY = ['person', 'lpa-health-welfare', 'deputy', 'best-interests'] as const;

export const Purpose = z
  .enum(PURPOSE_CODES, { error: (iss) => (iss.input === undefined ? undefined : `unknown code "${String(iss.input)}" in code list "purpose of use"`) })
  .meta({ description: 'A purpose of use code (HL7 v3 PurposeOfUse, or JoinedUp safeguarding purposes)' });

export const DecisionMaker = z
  .strictObject({
    name: text(200),
    relationship: text(200).meta({ description: 'e.g. "daughter", "deputy appointed by the Court of Protection", "social worker"' }),
    relatedPersonLocalId: LocalId.optional().meta({ description: 'Their council person id, when they are also sent as a related-person record' }),
    authorityRef: text(100).optional().meta({ description: 'LPA registration number or Court of Protection order number' }),
  })
  .meta({ id: 'DecisionMaker', title: 'Who decided, when not the person' });

export const Capacity = z
  .strictObject({
    hasCapacity: z.boolean({ error: 'hasCapacity must be true or false' }),
    assessedOn: PastDate,
    assessor: PractitionerRef,
  })
  .meta({ id: 'Capacity', title: 'Capacity to make this decision (MCA 2005 ss2–3)' });

export const ConsentScope = z
  .strictObject({
    organisations: z.union([z.literal('any'), z.array(OdsCode).min(1, 'list at least one organisation, or "any"').max(200)], {
      error: 'organisations must be "any" or a list of ODS codes',
    }),
    purposes: z.array(Purpose).min(1, 'at least one purpose').max(20),
    dataClasses: z.array(code(DATA_CLASS)).min(1, 'at least one data class').max(20),
  })
  .meta({ id: 'ConsentScope', title: 'What the decision covers' });

export const consentShape = {
  status: z.enum(CONSENT_STATUSES, { error: `status must be one of: ${CONSENT_STATUSES.join(', ')}` }),
  decidedBy: z.enum(DECIDED_BY, { error: `decidedBy must be one of: ${DECIDED_BY.join(', ')}` }),
  decisionMaker: DecisionMaker.optional(),
  scope: ConsentScope,
  capacity: Capacity.optional(),
  date: PastDate.meta({ description: 'When the decision was made' }),
  reviewDate: PlannedDate.optional(),
  recordedBy: PractitionerRef.optional(),
};

export const ConsentRecord = liveRecord('consent', consentShape)
  .superRefine((c, ctx) => {
    if (c.decidedBy === 'person') {
      if (c.capacity && !c.capacity.hasCapacity) {
        ctx.addIssue({ code: 'custom', path: ['decidedBy'], message: 'the person was assessed as lacking capacity: the decision must be by an attorney, a deputy or in their best interests' });
      }
    } else {
      if (!c.decisionMaker) ctx.addIssue({ code: 'custom', path: ['decisionMaker'], message: `a decision by ${c.decidedBy} needs the decision maker` });
      if (!c.capacity) ctx.addIssue({ code: 'custom', path: ['capacity'], message: `a decision by ${c.decidedBy} needs the capacity assessment` });
      else if (c.capacity.hasCapacity) {
        ctx.addIssue({ code: 'custom', path: ['capacity', 'hasCapacity'], message: `a person with capacity decides for themselves: decidedBy ${c.decidedBy} needs hasCapacity false` });
      }
      if ((c.decidedBy === 'lpa-health-welfare' || c.decidedBy === 'deputy') && c.decisionMaker && !c.decisionMaker.authorityRef) {
        ctx.addIssue({ code: 'custom', path: ['decisionMaker', 'authorityRef'], message: `an ${c.decidedBy === 'deputy' ? 'deputyship order' : 'LPA registration'} reference is required` });
      }
    }
    if (c.capacity && c.capacity.assessedOn > c.date) {
      ctx.addIssue({ code: 'custom', path: ['capacity', 'assessedOn'], message: 'must not be after the decision date' });
    }
    if (c.reviewDate !== undefined && c.reviewDate < c.date) ctx.addIssue({ code: 'custom', path: ['reviewDate'], message: 'must not be before date' });
  })
  .meta(recordMeta('consent', 'A decision about sharing the person’s social care record'));
export const ConsentTombstone = tombstoneRecord('consent', consentShape);

export type ConsentRecord = z.infer<typeof ConsentRecord>;
