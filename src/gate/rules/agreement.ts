import type { Decision, RuleFiring, SharingAgreement } from '../types.ts';
import type { Ctx } from './context.ts';
import { agreementLabel, deny, fire } from './outcome.ts';

/**
 * Rule 1, no agreement, no sharing across organisations: an information
 * sharing agreement in force between the requesting organisation and the
 * controller, covering the purpose and data class (NHS England IG framework
 * for shared care records 2021; seed 001 on "local joint working protocols
 * ... agreed between the Local Authority and other organisations").
 * "Unless rule 5, 6 or 9 applies" — policy reading: safeguarding and
 * emergencies are decided before this rule; for direct care, an explicit
 * permit consent (rule 4, 6, 7 or 10) that names the requesting organisation
 * stands in for the agreement. Secondary uses and requests made for or on
 * behalf of the person always need the agreement.
 */
export function agreementRule(ctx: Ctx, supporting: readonly RuleFiring[], consentNamesRequester: boolean):
  | { agreement: SharingAgreement; firing: RuleFiring }
  | { agreement: undefined; firing: RuleFiring }
  | Decision {
  const agreement = ctx.agreements()[0];
  if (agreement) return { agreement, firing: fire('R1-agreement', 'condition', `${agreementLabel(agreement)} is in force and covers this purpose and data class`) };
  if (consentNamesRequester) {
    return { agreement: undefined, firing: fire('R1-agreement', 'condition', 'no agreement covers this exchange, but explicit consent naming the requesting organisation stands in for it') };
  }
  return deny(fire('R1-agreement', 'deny', 'no sharing agreement in force between the requesting organisation and the controller covers this purpose and data class'), supporting);
}
