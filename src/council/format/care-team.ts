import { z } from 'zod';
import { LocalId, OdsCode, Period, SdsJobRole, liveRecord, recordMeta, text, tombstoneRecord } from './envelope.ts';

/** Roles in joint work agreed in the care team (seed 001, "Roles in joint working"). */
export const JOINT_WORK_ROLES = ['primary-contact', 'chair', 'minute-taker', 'assessor-recorder', 'member'] as const;
/** Roles at most one current member may hold. */
const SINGLE_HOLDER_ROLES = new Set<string>(['primary-contact', 'chair', 'minute-taker']);

export const CareTeamMember = z
  .strictObject({
    name: text(200),
    localId: LocalId.optional().meta({ description: "The member's staff id in the council's system" }),
    organisationOds: OdsCode,
    organisationName: text(200).optional(),
    sdsJobRole: SdsJobRole.optional(),
    jobTitle: text(200).optional(),
    role: z.enum(JOINT_WORK_ROLES, { error: `role must be one of: ${JOINT_WORK_ROLES.join(', ')}` }),
    period: Period,
  })
  .meta({ id: 'CareTeamMember', title: 'A member of the care team and their role in the joint work' });

export const careTeamShape = {
  name: text(200).optional(),
  status: z.enum(['proposed', 'active', 'inactive'], { error: 'status must be one of: proposed, active, inactive' }),
  period: Period,
  members: z.array(CareTeamMember).min(1, 'a care team has at least one member').max(100),
};

export const CareTeamRecord = liveRecord('care-team', careTeamShape)
  .superRefine((t, ctx) => {
    const holders = new Map<string, number>();
    t.members.forEach((m, i) => {
      if (!SINGLE_HOLDER_ROLES.has(m.role) || m.period.end !== undefined) return;
      if (holders.has(m.role)) {
        ctx.addIssue({ code: 'custom', path: ['members', i, 'role'], message: `only one current member may be ${m.role} (members[${holders.get(m.role)}] is already)` });
      } else holders.set(m.role, i);
    });
  })
  .meta(recordMeta('care-team', 'The care team for joint work, with agreed roles'));
export const CareTeamTombstone = tombstoneRecord('care-team', careTeamShape);

export type CareTeamRecord = z.infer<typeof CareTeamRecord>;
