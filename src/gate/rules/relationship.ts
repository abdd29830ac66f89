import type { Decision, RuleFiring } from '../types.ts';
import type { Ctx } from './context.ts';
import { deny, fire } from './outcome.ts';

/**
 * Rule 2, legitimate relationship for direct care (TREAT, CAREMGT): the
 * requesting organisation must be the registered GP practice, in an active
 * care team, a party to an open referral, or hold a record about the person
 * (NHS England IG framework for shared care records: access on the basis of
 * a legitimate relationship). Without one: deny, unless an emergency
 * (rule 9); safeguarding purposes (rule 5) do not need one.
 */
export function relationship(ctx: Ctx, supporting: readonly RuleFiring[]): Decision | RuleFiring {
  const { person, requester } = ctx.q;
  const ods = requester.ods;
  const why = person.registeredGp.includes(ods)
    ? 'the requesting organisation is the registered GP practice'
    : person.careTeamOrgs.includes(ods)
      ? "the requesting organisation is in the person's care team"
      : person.referralOrgs.includes(ods)
        ? 'the requesting organisation is party to an open referral'
        : person.recordHolders.includes(ods)
          ? 'the requesting organisation holds a record about the person'
          : undefined;
  if (why) return fire('R2-relationship', 'condition', why);
  return deny(fire('R2-relationship', 'deny', 'the requesting organisation has no care relationship with the person (registered GP, care team, open referral or record holder)'), supporting);
}
