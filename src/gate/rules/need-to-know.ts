import type { Decision, RuleFiring } from '../types.ts';
import { CATEGORY_RULE, type Ctx } from './context.ts';
import { careBasis, deny, fire, permit } from './outcome.ts';

/**
 * Rule 8, need to know within the same agency. Seed 001, "Need to know":
 * "When joint work between practitioners in the same agency is required to
 * effectively arrange services the consent of the person or carer can be
 * assumed if: the person has consented to the service being arranged; and
 * the joint work is for the sole purpose of arranging the service."
 * Applies to TREAT and CAREMGT when the requester's organisation controls the
 * record and holds a record about, or arranges a service for, the person.
 * It is the organisation's own record, not a disclosure, so it applies to
 * children, adults lacking capacity and carers alike.
 * Policy reading: a refusal to share (rule 4) is a refusal to share outside
 * the organisation holding the record and does not stop rule 8; a deny
 * provision naming the organisation itself does.
 */
export function needToKnow(ctx: Ctx, supporting: readonly RuleFiring[]): Decision {
  const { person, requester } = ctx.q;
  const v = ctx.consent();
  if (v?.effect === 'deny' && v.namesActor) {
    return deny(
      fire(CATEGORY_RULE[ctx.category], 'deny', `a recorded refusal names this organisation itself (${v.consent.ref}), so colleagues may not use the record`),
      supporting,
    );
  }
  const ods = requester.ods;
  if (person.recordHolders.includes(ods) || person.servicesArrangedBy.includes(ods)) {
    const also = v?.effect === 'deny' ? '; a refusal to share outside the organisation does not stop this' : '';
    return permit(
      fire('R8-need-to-know', 'permit', `a colleague in the organisation holding the record, for care or arranging services: consent can be assumed${also}`),
      supporting,
      { basis: careBasis({ commonLaw: 'implied-consent' }) },
    );
  }
  return deny(
    fire('R12-default-deny', 'deny', 'the organisation controls this record but neither holds a record about nor arranges a service for the person'),
    supporting,
  );
}
