import { winningConsent } from '../consent-provisions.ts';
import type { Decision, RuleFiring } from '../types.ts';
import { explicitConsentBasis, type CategoryAnswer } from './category.ts';
import type { Ctx } from './context.ts';
import { deny, fire } from './outcome.ts';

/**
 * Rule 7, carers are separate people. Seed 001: "In the case of carers,
 * direct joint work can only take place with their consent." A carer's own
 * data (their assessment, support plan, services, reviews; or data of class
 * carer-data) leaves the organisation holding it only with the carer's own
 * explicit consent — even for direct care under an agreement.
 *
 * Two cases:
 * - the data subject is the carer (category 'carer', answered here);
 * - the item is a carer's details inside the cared-for person's record
 *   (data.thirdParty): the carer's consent is checked first, before any
 *   rule about the cared-for person. Policy reading: safeguarding or an
 *   emergency concerning the cared-for person does not unlock the carer's
 *   separate data. Within the organisation that holds the record it is that
 *   organisation's own record (rule 8), so the gate does not apply.
 */

export const carerAnswer: CategoryAnswer = {
  needsExplicitConsent: true,
  noConsent: "a carer's own data is shared only with the carer's own consent, and none permits it",
  refused: (v) => `the carer refused sharing of their data (${v.consent.ref})`,
  permitted: (v) => `the carer consented to sharing their data (${v.consent.ref})`,
  basis: (direct) => explicitConsentBasis(direct, true),
};

/** The third-party gate: a deny Decision, a supporting firing when the carer consented, or undefined when it does not apply. */
export function thirdPartyCarer(ctx: Ctx): Decision | RuleFiring | undefined {
  const { q } = ctx;
  if (q.data.thirdParty?.kind !== 'carer' || ctx.same) return undefined;
  const facts = q.data.thirdParty.facts;
  if (!facts) {
    return deny(fire('R7-carer-data', 'deny', "details of a carer who is not known to us: no consent of the carer's can be found"));
  }
  const v = winningConsent(
    facts.consents,
    { actor: q.requester.ods, purpose: ctx.purpose, dataClass: q.data.dataClass, nowMs: ctx.nowMs },
    ['person'],
  );
  if (!v) return deny(fire('R7-carer-data', 'deny', "the carer's details are shared only with the carer's own consent, and none permits it"));
  if (v.effect === 'deny') return deny(fire('R7-carer-data', 'deny', `the carer refused sharing of their details (${v.consent.ref})`));
  return fire('R7-carer-data', 'condition', `the carer consented to sharing their details (${v.consent.ref})`);
}
