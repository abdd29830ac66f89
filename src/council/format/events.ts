import { z } from 'zod';
import {
  ASSESSMENT_METHOD,
  ASSESSMENT_TYPE,
  CONTACT_REASON,
  DELIVERY_MECHANISM,
  ELIGIBILITY_OUTCOME,
  EVENT_OUTCOME,
  REQUESTER_TYPE,
  ROUTE_OF_ACCESS,
  SERVICE_COMPONENT,
  SERVICE_TYPE,
  code,
} from './code-lists.ts';
import { OrganisationRef, PastDate, PlannedDate, PractitionerRef, liveRecord, recordMeta, text, tombstoneRecord } from './envelope.ts';

// ---------------------------------------------------------------- contact

export const contactShape = {
  date: PastDate.meta({ description: 'When the request or contact was received' }),
  routeOfAccess: code(ROUTE_OF_ACCESS),
  reason: code(CONTACT_REASON),
  requester: z
    .strictObject({
      type: code(REQUESTER_TYPE),
      organisation: OrganisationRef.optional(),
      practitioner: PractitionerRef.optional(),
    })
    .meta({ id: 'Requester', title: 'Who made the request' }),
  description: text(2000).optional(),
  status: z.enum(['open', 'completed', 'cancelled'], { error: 'status must be one of: open, completed, cancelled' }),
  outcome: code(EVENT_OUTCOME).optional(),
  outcomeDate: PastDate.optional(),
};

export const ContactRecord = liveRecord('contact', contactShape)
  .superRefine((c, ctx) => {
    if (c.outcomeDate !== undefined && c.outcomeDate < c.date) ctx.addIssue({ code: 'custom', path: ['outcomeDate'], message: 'must not be before date' });
    if (c.status === 'completed' && c.outcome === undefined) ctx.addIssue({ code: 'custom', path: ['outcome'], message: 'a completed contact needs its outcome' });
  })
  .meta(recordMeta('contact', 'A request for support or a contact (CLD Request event)'));
export const ContactTombstone = tombstoneRecord('contact', contactShape);

// ---------------------------------------------------------------- assessment

export const EligibilityOutcome = z
  .strictObject({
    outcome: code(ELIGIBILITY_OUTCOME),
    unableToAchieve: z.boolean({ error: 'unableToAchieve must be true or false' }),
    note: text(1000).optional(),
  })
  .meta({ id: 'EligibilityOutcome', title: 'One Care Act eligibility outcome' });

export const Answer = z
  .strictObject({
    questionId: text(100),
    question: text(500),
    answer: z.union([text(4000), z.number(), z.boolean()], { error: 'answer must be text, a number or true/false' }),
  })
  .meta({ id: 'Answer', title: 'An answered question' });

export const assessmentShape = {
  assessmentType: code(ASSESSMENT_TYPE),
  method: code(ASSESSMENT_METHOD).optional(),
  status: z.enum(['in-progress', 'completed', 'cancelled'], { error: 'status must be one of: in-progress, completed, cancelled' }),
  startDate: PastDate,
  endDate: PastDate.optional(),
  assessor: PractitionerRef.optional(),
  outcome: code(EVENT_OUTCOME).optional(),
  eligibility: z
    .strictObject({
      outcomes: z.array(EligibilityOutcome).max(10),
      significantImpactOnWellbeing: z.boolean(),
      eligible: z.boolean(),
    })
    .optional()
    .meta({ id: 'Eligibility', title: 'Eligibility against the Care Act outcomes (Eligibility Criteria Regulations 2015 reg 2(2))' }),
  answers: z.array(Answer).max(500).optional(),
};

export const AssessmentRecord = liveRecord('assessment', assessmentShape)
  .superRefine((a, ctx) => {
    if (a.endDate !== undefined && a.endDate < a.startDate) ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'must not be before startDate' });
    if (a.status === 'completed' && a.endDate === undefined) ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'a completed assessment needs its endDate' });
    const seen = new Set<string>();
    a.eligibility?.outcomes.forEach((o, i) => {
      if (seen.has(o.outcome)) ctx.addIssue({ code: 'custom', path: ['eligibility', 'outcomes', i, 'outcome'], message: `eligibility outcome "${o.outcome}" appears twice` });
      seen.add(o.outcome);
    });
    const ids = new Set<string>();
    a.answers?.forEach((ans, i) => {
      if (ids.has(ans.questionId)) ctx.addIssue({ code: 'custom', path: ['answers', i, 'questionId'], message: `questionId "${ans.questionId}" appears twice` });
      ids.add(ans.questionId);
    });
  })
  .meta(recordMeta('assessment', 'An assessment (CLD Assessment event), with Care Act eligibility and answers'));
export const AssessmentTombstone = tombstoneRecord('assessment', assessmentShape);

// ---------------------------------------------------------------- service

export const serviceShape = {
  serviceType: code(SERVICE_TYPE),
  serviceComponent: code(SERVICE_COMPONENT),
  deliveryMechanism: code(DELIVERY_MECHANISM),
  provider: OrganisationRef,
  hoursPerWeek: z.number().min(0, 'must not be negative').max(168, 'at most 168').optional(),
  startDate: PastDate,
  endDate: PlannedDate.optional().meta({ description: 'Actual end, or planned end for a time-limited service' }),
  endReason: code(EVENT_OUTCOME).optional(),
};

export const ServiceRecord = liveRecord('service', serviceShape)
  .superRefine((s, ctx) => {
    if (s.endDate !== undefined && s.endDate < s.startDate) ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'must not be before startDate' });
    if (s.endReason !== undefined && s.endDate === undefined) ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'an endReason needs its endDate' });
  })
  .meta(recordMeta('service', 'A service provided or arranged (CLD Service event)'));
export const ServiceTombstone = tombstoneRecord('service', serviceShape);

// ---------------------------------------------------------------- review

export const reviewShape = {
  reviewType: z.enum(['planned', 'unplanned'], { error: 'reviewType must be one of: planned, unplanned' }),
  method: code(ASSESSMENT_METHOD).optional(),
  date: PastDate,
  reviewer: PractitionerRef.optional(),
  outcome: code(EVENT_OUTCOME),
  nextReviewDate: PlannedDate.optional(),
};

export const ReviewRecord = liveRecord('review', reviewShape)
  .superRefine((r, ctx) => {
    if (r.nextReviewDate !== undefined && r.nextReviewDate < r.date) ctx.addIssue({ code: 'custom', path: ['nextReviewDate'], message: 'must not be before date' });
  })
  .meta(recordMeta('review', 'A review of care and support (CLD Review event)'));
export const ReviewTombstone = tombstoneRecord('review', reviewShape);

export type ContactRecord = z.infer<typeof ContactRecord>;
export type AssessmentRecord = z.infer<typeof AssessmentRecord>;
export type ServiceRecord = z.infer<typeof ServiceRecord>;
export type ReviewRecord = z.infer<typeof ReviewRecord>;
