import type { Decision, RuleFiring } from '../types.ts';
import { hasJustification, type Ctx } from './context.ts';
import { deny, fire, permit } from './outcome.ts';

/**
 * Rule 5, safeguarding overrides consent. Seed 001: "The only occasion when
 * direct joint work can take place without the consent of the person is when
 * it is taking place as part of a safeguarding enquiry."
 * - safeguarding-adults: an adult with an open Care Act 2014 s42 enquiry;
 * - safeguarding-children: a child (Children Act 1989 s47; the duty to make
 *   enquiries arises before an enquiry is formally open, so none is needed).
 * A justification is mandatory and every use is flagged for IG review.
 * No agreement or relationship is needed and an objection does not stop it.
 * Lawful basis: Art 6(1)(e); Art 9(2)(g) with DPA 2018 Sch 1 Pt 2 para 18;
 * common law: overriding public interest.
 */
export function safeguarding(ctx: Ctx, supporting: readonly RuleFiring[]): Decision {
  const { q } = ctx;
  const adults = ctx.purpose === 'safeguarding-adults';
  if (!hasJustification(q)) {
    return deny(fire('R5-safeguarding', 'deny', 'a safeguarding request needs a justification'), supporting);
  }
  if (adults && ctx.child) {
    return deny(fire('R5-safeguarding', 'deny', 'the safeguarding-adults purpose does not apply to a child; use safeguarding-children'), supporting);
  }
  if (!adults && !ctx.child) {
    return deny(fire('R5-safeguarding', 'deny', 'the safeguarding-children purpose does not apply to an adult; use safeguarding-adults'), supporting);
  }
  if (adults && !q.person.openSafeguarding.some((s) => s.kind === 's42')) {
    return deny(fire('R5-safeguarding', 'deny', 'safeguarding-adults needs an open Care Act 2014 s42 enquiry and none is open'), supporting);
  }
  const reason = adults
    ? 'safeguarding adults with an open Care Act 2014 s42 enquiry and a justification; shared without consent and flagged for review'
    : 'safeguarding a child under Children Act 1989 s47 with a justification; shared without consent and flagged for review';
  return permit(fire('R5-safeguarding', 'permit', reason), supporting, {
    basis: {
      art6: 'art6-1-e',
      art9: 'art9-2-g',
      dpaSchedule1: 'dpa-sch1-pt2-para18',
      commonLaw: 'overriding-public-interest',
      statutoryGateway: adults ? 'care-act-2014-s42' : 'children-act-1989-s47',
    },
    obligations: ['flag-for-review'],
  });
}
