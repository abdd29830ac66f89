import { explicitConsentBasis, type CategoryAnswer } from './category.ts';
import { AUTHORITY_WORDS } from './capacity.ts';

/**
 * Rule 10, children (under 18 at `now`; Children Act 1989 s105). HSCA 2012
 * s251B covers health and adult social care only, so it is never cited for a
 * child and implied consent is not relied on across organisations: sharing
 * needs an explicit consent from a competent child (Gillick competence) or a
 * person with parental responsibility (Children Act 1989 s3), unless
 * safeguarding (rule 5) or an emergency (rule 9) applies.
 */
export const childAnswer: CategoryAnswer = {
  needsExplicitConsent: true,
  noConsent:
    "a child's record is shared across organisations only with consent from the child or a person with parental responsibility, and none permits it",
  refused: (v) => `${AUTHORITY_WORDS[v.consent.authority]} refused sharing of the child's record (${v.consent.ref})`,
  permitted: (v) => `${AUTHORITY_WORDS[v.consent.authority]} consented to sharing the child's record (${v.consent.ref})`,
  basis: (direct) => explicitConsentBasis(direct, false),
};
