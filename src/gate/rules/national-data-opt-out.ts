import type { Decision, RuleFiring, SharingAgreement } from '../types.ts';
import type { Ctx } from './context.ts';
import { agreementBasis, agreementLabel, careBasis, deny, fire, permit } from './outcome.ts';

/**
 * Rule 11, National Data Opt-out (NHS England operational policy): applies
 * only to purposes beyond individual care — HRESCH, HOPERAT (planning) and
 * PUBHLTH unless the disclosure is a legal duty. It never applies to direct
 * care or safeguarding (those purposes never reach this rule). An opted-out
 * person's data is not used; a PUBHLTH agreement that declares a legal duty
 * is the exception. Not opted out, a secondary use still needs an agreement
 * (its declared lawful basis is the basis of the decision) and no objection.
 */

/** The opt-out check: a deny, or the legal-duty agreement to rely on (opted out, PUBHLTH), or undefined when not opted out. */
export function optOut(ctx: Ctx, supporting: readonly RuleFiring[]): Decision | { legalDuty: SharingAgreement } | undefined {
  if (!ctx.q.person.nationalDataOptOut) return undefined;
  if (ctx.purpose === 'PUBHLTH') {
    const legalDuty = ctx.agreements().find((a) => a.lawfulBasis.legalDuty === true);
    if (legalDuty) return { legalDuty };
  }
  return deny(
    fire('R11-national-data-opt-out', 'deny', 'the person has registered a National Data Opt-out, which applies to this purpose beyond individual care'),
    supporting,
  );
}

export function secondaryPermit(agreement: SharingAgreement, optedOut: boolean, supporting: readonly RuleFiring[]): Decision {
  const reason = optedOut
    ? `a legal duty declared in ${agreementLabel(agreement)} sets aside the National Data Opt-out for this public health use`
    : `use beyond individual care under ${agreementLabel(agreement)}; the person has not opted out`;
  return permit(fire('R11-national-data-opt-out', 'permit', reason), supporting, { basis: agreementBasis(agreement), agreement });
}

/** Policy reading: an organisation analysing its own records for its own operations (HOPERAT) needs no agreement. */
export function ownOperationsPermit(supporting: readonly RuleFiring[]): Decision {
  return permit(
    fire('R11-national-data-opt-out', 'permit', "the organisation's own operations on its own records; the person has not opted out"),
    supporting,
    { basis: careBasis() },
  );
}
