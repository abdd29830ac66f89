import type { Decision, RuleFiring, SharingAgreement } from '../types.ts';
import { fire, careBasis, permit } from './outcome.ts';

/**
 * Rule 3, direct care for adults: implied consent. With an agreement (rule 1)
 * and a care relationship (rule 2), no applicable objection (rule 4) and
 * capacity (rule 6), sharing for direct care is permitted. Lawful basis:
 * UK GDPR Art 6(1)(e) public task; Art 9(2)(h) with DPA 2018 Sch 1 Pt 1
 * para 2; common law implied consent for direct care; HSCA 2012 s251B duty to
 * share (health and adult social care); Caldicott principle 7: "the duty to
 * share information for individual care is as important as the duty to
 * protect patient confidentiality".
 */
export function impliedConsent(supporting: readonly RuleFiring[], agreement: SharingAgreement | undefined): Decision {
  return permit(
    fire('R3-implied-consent-direct-care', 'permit', 'direct care of an adult with a care relationship, an agreement in force and no objection: implied consent'),
    supporting,
    { basis: careBasis({ commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' }), ...(agreement ? { agreement } : {}) },
  );
}
