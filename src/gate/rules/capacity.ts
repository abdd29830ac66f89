import type { ConsentAuthority } from '../types.ts';
import type { CategoryAnswer } from './category.ts';
import { careBasis } from './outcome.ts';

/**
 * Rule 6, lacking capacity (Mental Capacity Act 2005). Seed 001: "Joint work
 * can only take place if the person consents unless: the person lacks
 * capacity to consent; and a Deputy or Lasting Power of Attorney provides
 * consent in their Best Interests; or where there is no Deputy or Lasting
 * Power of Attorney, the Local Authority makes a Best Interest decision".
 * When the most recent assessment says the person lacks capacity, only
 * decisions by a registered health and welfare LPA attorney (MCA s9-14), a
 * court-appointed deputy (s16-20) or a recorded best-interests decision (s4)
 * count. Policy reading: the person's own recorded decisions are then set
 * aside entirely, and implied consent is not available across organisations.
 * The decision names the authority relied on.
 */
export const AUTHORITY_WORDS: Readonly<Record<ConsentAuthority, string>> = {
  person: 'the person',
  'lpa-health-welfare': 'a registered health and welfare LPA attorney',
  deputy: 'a court-appointed deputy',
  'best-interests': "a best-interests decision recorded by the council",
  'parental-responsibility': 'a person with parental responsibility',
};

export const incapacityAnswer: CategoryAnswer = {
  needsExplicitConsent: true,
  noConsent:
    'the person lacks capacity and no decision by an LPA attorney, deputy or recorded best-interests decision permits sharing with this organisation',
  refused: (v) => `the person lacks capacity and ${AUTHORITY_WORDS[v.consent.authority]} refused sharing (${v.consent.ref})`,
  permitted: (v) =>
    `the person lacks capacity and ${AUTHORITY_WORDS[v.consent.authority]} consented in their best interests (${v.consent.ref})`,
  basis: () => careBasis({ commonLaw: 'best-interests', statutoryGateway: 'mca-2005' }),
};
