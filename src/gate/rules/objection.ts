import type { ConsentVerdict } from '../consent-provisions.ts';
import type { Decision, RuleFiring, RuleId } from '../types.ts';
import { explicitConsentBasis, type CategoryAnswer, type CategoryAnswers } from './category.ts';
import { carerAnswer } from './carer-data.ts';
import { incapacityAnswer } from './capacity.ts';
import { childAnswer } from './children.ts';
import { CATEGORY_RULE, DIRECT_CARE, ON_REQUEST, type Ctx } from './context.ts';
import { deny, fire } from './outcome.ts';

/**
 * Rule 4, objection wins over implied consent. The most recent applicable
 * Consent decides (consent-provisions.ts); a deny — a deny provision for this
 * organisation, purpose or class, or a refusal or withdrawal — makes the
 * decision deny unless safeguarding (rule 5) or an emergency (rule 9) applies
 * (those are decided before this stage). A permit is explicit consent.
 * HSCA 2012 s251B(5): the duty to share does not apply where the individual
 * objects, so s251B is never cited when an objection applies.
 *
 * Which consents count, and which rule answers, depends on who speaks for the
 * person (context.ts Category): children (rule 10), an adult lacking capacity
 * (rule 6), a carer's own data (rule 7), any other adult (this rule).
 */

export const adultAnswer: CategoryAnswer = {
  needsExplicitConsent: false,
  noConsent: 'no consent recorded for this exchange',
  refused: (v) => `the person objects to this sharing (${v.consent.ref}), which overrides implied consent`,
  permitted: (v) => `the person gave explicit consent to this sharing (${v.consent.ref})`,
  basis: (direct) => explicitConsentBasis(direct, true),
};

export const ANSWERS: CategoryAnswers = {
  child: childAnswer,
  incapacity: incapacityAnswer,
  carer: carerAnswer,
  adult: adultAnswer,
};

export type ConsentStage =
  | { kind: 'deny'; decision: Decision }
  | { kind: 'permit'; verdict: ConsentVerdict; rule: RuleId; firing: RuleFiring }
  | { kind: 'none' };

/** The consent stage across organisations (and for PATRQT/PWATRNY within one). */
export function consentStage(ctx: Ctx, supporting: readonly RuleFiring[]): ConsentStage {
  const answer = ANSWERS[ctx.category];
  const rule = CATEGORY_RULE[ctx.category];
  const v = ctx.consent();
  if (v?.effect === 'deny') return { kind: 'deny', decision: deny(fire(rule, 'deny', answer.refused(v)), supporting) };
  if (v?.effect === 'permit') return { kind: 'permit', verdict: v, rule, firing: fire(rule, 'permit', answer.permitted(v)) };
  if (answer.needsExplicitConsent) return { kind: 'deny', decision: deny(fire(rule, 'deny', answer.noConsent), supporting) };
  if (ON_REQUEST.includes(ctx.purpose)) {
    return {
      kind: 'deny',
      decision: deny(fire('R12-default-deny', 'deny', 'a request made for or on behalf of the person needs their explicit consent, and none is recorded'), supporting),
    };
  }
  return { kind: 'none' };
}

export function consentBasis(ctx: Ctx) {
  return ANSWERS[ctx.category].basis(DIRECT_CARE.includes(ctx.purpose));
}
