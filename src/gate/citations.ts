import type { Citation, RuleId } from './types.ts';

/**
 * The sources each rule relies on. Every RuleFiring carries its rule's list,
 * so a decision read on its own says where the rule comes from. These are the
 * Acts, the seed guidance and the national frameworks — not our own
 * docs/legal-rules.md, which is only our reading of them.
 */

const SEED_001 = 'seed 001 (council joint work guidance, "Joint Work")';

export const SOURCES = {
  dpaSch1Para2: { source: 'DPA 2018 Sch 1 Pt 1 para 2', text: 'health or social care purposes' },
  dpaSch1Para18: { source: 'DPA 2018 Sch 1 Pt 2 para 18', text: 'safeguarding of children and of individuals at risk' },
  art6e: { source: 'UK GDPR Art 6(1)(e)', text: 'public task' },
  art6d: { source: 'UK GDPR Art 6(1)(d)', text: 'vital interests' },
  art9h: { source: 'UK GDPR Art 9(2)(h)', text: 'health or social care' },
  art9g: { source: 'UK GDPR Art 9(2)(g)', text: 'substantial public interest' },
  art9c: { source: 'UK GDPR Art 9(2)(c)', text: 'vital interests of a person physically or legally incapable of giving consent' },
  s251b: { source: 'Health and Social Care Act 2012 s251B', text: 'duty to share information for direct care (health and adult social care)' },
  caldicott7: { source: 'Caldicott principle 7', text: 'the duty to share information for individual care is as important as the duty to protect confidentiality' },
  careAct6: { source: 'Care Act 2014 s6', text: 'co-operation between the local authority and relevant partners' },
  careAct42: { source: 'Care Act 2014 s42', text: 'enquiry by local authority into abuse or neglect' },
  childrenAct47: { source: 'Children Act 1989 s47', text: 'local authority duty to investigate' },
  childrenAct2004s11: { source: 'Children Act 2004 s11', text: 'arrangements to safeguard and promote welfare' },
  mca: { source: 'Mental Capacity Act 2005 ss1-4, 9-19', text: 'best interests; lasting powers of attorney; court-appointed deputies' },
  ndoo: { source: 'NHS England National Data Opt-out operational policy', text: 'applies to confidential patient information used for purposes beyond individual care' },
  isaFramework: { source: 'NHS England IG framework for shared care records (2021)', text: 'information sharing agreements between the organisations sharing' },
  commonLawConfidence: { source: 'Common law duty of confidentiality', text: 'disclosure needs consent, a legal duty or an overriding public interest' },
  gdprArt5: { source: 'UK GDPR Art 5(1)(a)', text: 'processed lawfully, fairly and in a transparent manner' },
  seedConsent: { source: SEED_001, text: 'Joint work can only take place if the person consents unless: the person lacks capacity to consent; and a Deputy or Lasting Power of Attorney provides consent in their Best Interests' },
  seedBestInterests: { source: SEED_001, text: 'Where there is no Deputy or Lasting Power of Attorney, the Local Authority makes a Best Interest decision to this effect.' },
  seedSafeguarding: { source: SEED_001, text: 'The only occasion when direct joint work can take place without the consent of the person is when it is taking place as part of a safeguarding enquiry.' },
  seedCarers: { source: SEED_001, text: 'In the case of carers, direct joint work can only take place with their consent.' },
  seedNeedToKnow: { source: SEED_001, text: 'Need to know: when joint work between practitioners in the same agency is required to effectively arrange services the consent of the person or carer can be assumed' },
  seedProtocols: { source: SEED_001, text: 'be familiar with any local joint working protocols that have been agreed between the Local Authority and other organisations' },
} as const satisfies Record<string, Citation>;

const S = SOURCES;

/** Sources per rule, in the order a reader should check them. Frozen: firings share these arrays. */
export const RULE_SOURCES: Readonly<Record<RuleId, readonly Citation[]>> = Object.freeze({
  'R1-agreement': [S.isaFramework, S.seedProtocols, S.careAct6, S.gdprArt5],
  'R2-relationship': [S.isaFramework, S.s251b, S.commonLawConfidence],
  'R3-implied-consent-direct-care': [S.art6e, S.art9h, S.dpaSch1Para2, S.s251b, S.caldicott7, S.commonLawConfidence],
  'R4-objection': [S.commonLawConfidence, S.s251b, S.seedConsent],
  'R5-safeguarding': [S.careAct42, S.childrenAct47, S.childrenAct2004s11, S.art9g, S.dpaSch1Para18, S.seedSafeguarding],
  'R6-capacity': [S.mca, S.seedConsent, S.seedBestInterests],
  'R7-carer-data': [S.seedCarers, S.commonLawConfidence],
  'R8-need-to-know': [S.seedNeedToKnow, S.art6e, S.art9h, S.dpaSch1Para2],
  'R9-break-glass': [S.art6d, S.art9c, S.commonLawConfidence],
  'R10-children': [S.s251b, S.childrenAct47, S.commonLawConfidence],
  'R11-national-data-opt-out': [S.ndoo],
  'R12-default-deny': [S.gdprArt5, S.commonLawConfidence],
  'W-controller-write': [S.art6e, S.art9h, S.dpaSch1Para2, S.isaFramework],
});

/** One-line titles, used by the CodeSystem and the docs. */
export const RULE_TITLES: Readonly<Record<RuleId, string>> = {
  'R1-agreement': 'No agreement, no sharing across organisations',
  'R2-relationship': 'Legitimate relationship for direct care',
  'R3-implied-consent-direct-care': 'Direct care for adults: implied consent',
  'R4-objection': 'Consent and objection: the most recent applicable decision wins',
  'R5-safeguarding': 'Safeguarding overrides consent',
  'R6-capacity': 'Lacking capacity: attorney, deputy or best-interests decision',
  'R7-carer-data': 'Carers are separate people: their data needs their consent',
  'R8-need-to-know': 'Need to know within the same organisation',
  'R9-break-glass': 'Emergency or break-glass: time-boxed read',
  'R10-children': 'Children: consent from the child or a person with parental responsibility',
  'R11-national-data-opt-out': 'National Data Opt-out for purposes beyond individual care',
  'R12-default-deny': 'Default deny',
  'W-controller-write': 'Writes: only the controller or a party to an agreement',
};
