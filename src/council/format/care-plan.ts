import { z } from 'zod';
import { DELIVERY_MECHANISM, ELIGIBILITY_OUTCOME, SERVICE_COMPONENT, code } from './code-lists.ts';
import { LocalId, OdsCode, PastDate, Period, PlannedDate, PractitionerRef, SdsJobRole, liveRecord, recordMeta, text, tombstoneRecord } from './envelope.ts';

const ItemId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'an id of 1 to 64 letters, digits, ".", "_" or "-"');

/** Who delivers an activity. */
export const DeliveredBy = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('organisation'), name: text(200), ods: OdsCode.optional() }),
      z.strictObject({
        kind: z.literal('practitioner'),
        name: text(200),
        localId: LocalId.optional(),
        sdsJobRole: SdsJobRole.optional(),
        organisationOds: OdsCode.optional(),
      }),
      z.strictObject({
        kind: z.literal('related-person'),
        name: text(200),
        localId: LocalId.optional().meta({ description: "The related person's council person id, when they have one (carers do)" }),
      }),
      z.strictObject({ kind: z.literal('person') }).meta({ description: 'The person themselves' }),
    ],
    { error: 'deliveredBy.kind must be one of: organisation, practitioner, related-person, person' }
  )
  .meta({ id: 'DeliveredBy', title: 'Who delivers an activity' });

export const Need = z
  .strictObject({ id: ItemId, description: text(2000), eligibilityOutcome: code(ELIGIBILITY_OUTCOME).optional() })
  .meta({ id: 'Need', title: 'A need in the plan' });

export const GOAL_STATUSES = ['proposed', 'active', 'on-hold', 'achieved', 'not-achieved', 'cancelled'] as const;

export const Goal = z
  .strictObject({
    id: ItemId,
    description: text(2000),
    status: z.enum(GOAL_STATUSES, { error: `status must be one of: ${GOAL_STATUSES.join(', ')}` }),
    targetDate: PlannedDate.optional(),
    needIds: z.array(ItemId).optional(),
  })
  .meta({ id: 'Goal', title: 'An outcome the person wants (a goal)' });

export const ACTIVITY_STATUSES = ['not-started', 'scheduled', 'in-progress', 'on-hold', 'completed', 'cancelled', 'stopped'] as const;

export const Activity = z
  .strictObject({
    id: ItemId,
    description: text(2000),
    serviceComponent: code(SERVICE_COMPONENT).optional(),
    status: z.enum(ACTIVITY_STATUSES, { error: `status must be one of: ${ACTIVITY_STATUSES.join(', ')}` }),
    deliveredBy: DeliveredBy,
    frequency: text(200).optional(),
    goalIds: z.array(ItemId).optional(),
  })
  .meta({ id: 'Activity', title: 'An activity and who delivers it' });

export const PersonalBudget = z
  .strictObject({
    weeklyAmountGbp: z.number().min(0, 'must not be negative').max(100_000),
    deliveryMechanism: code(DELIVERY_MECHANISM),
    clientContributionWeeklyGbp: z.number().min(0, 'must not be negative').max(100_000).optional(),
  })
  .meta({ id: 'PersonalBudget', title: 'Personal budget (Care Act s26)' });

export const CARE_PLAN_STATUSES = ['draft', 'active', 'on-hold', 'revoked', 'completed'] as const;

export const carePlanShape = {
  status: z.enum(CARE_PLAN_STATUSES, { error: `status must be one of: ${CARE_PLAN_STATUSES.join(', ')}` }),
  title: text(200).optional(),
  created: PastDate,
  period: Period,
  author: PractitionerRef,
  needs: z.array(Need).max(100),
  goals: z.array(Goal).max(100),
  activities: z.array(Activity).max(200),
  personalBudget: PersonalBudget.optional(),
  reviewDate: PlannedDate.optional(),
};

export const CarePlanRecord = liveRecord('care-plan', carePlanShape)
  .superRefine((p, ctx) => {
    uniqueIds(p.needs, 'needs', ctx);
    uniqueIds(p.goals, 'goals', ctx);
    uniqueIds(p.activities, 'activities', ctx);
    const needs = new Set(p.needs.map((n) => n.id));
    const goals = new Set(p.goals.map((g) => g.id));
    p.goals.forEach((g, i) =>
      g.needIds?.forEach((id, j) => {
        if (!needs.has(id)) ctx.addIssue({ code: 'custom', path: ['goals', i, 'needIds', j], message: `no need with id "${id}" in this plan` });
      })
    );
    p.activities.forEach((a, i) =>
      a.goalIds?.forEach((id, j) => {
        if (!goals.has(id)) ctx.addIssue({ code: 'custom', path: ['activities', i, 'goalIds', j], message: `no goal with id "${id}" in this plan` });
      })
    );
  })
  .meta(recordMeta('care-plan', 'The care and support plan (Care Act s24–25)'));
export const CarePlanTombstone = tombstoneRecord('care-plan', carePlanShape);

function uniqueIds(items: { id: string }[], key: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `id "${item.id}" appears twice in ${key}` });
    seen.add(item.id);
  });
}

export type CarePlanRecord = z.infer<typeof CarePlanRecord>;
