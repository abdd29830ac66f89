/**
 * Codes of our lawful-basis CodeSystem (published at
 * /fhir/CodeSystem/lawful-basis): the parts of a lawful basis a decision
 * or a sharing agreement states. One list, so agreements (zod) and the
 * engine cannot drift apart.
 */
export const LAWFUL_BASIS_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/lawful-basis';

export const ART6 = {
  'art6-1-a': 'UK GDPR Art 6(1)(a): consent',
  'art6-1-c': 'UK GDPR Art 6(1)(c): legal obligation',
  'art6-1-d': 'UK GDPR Art 6(1)(d): vital interests',
  'art6-1-e': 'UK GDPR Art 6(1)(e): public task',
} as const;

export const ART9 = {
  'art9-2-a': 'UK GDPR Art 9(2)(a): explicit consent',
  'art9-2-c': 'UK GDPR Art 9(2)(c): vital interests of a person unable to consent',
  'art9-2-g': 'UK GDPR Art 9(2)(g): substantial public interest',
  'art9-2-h': 'UK GDPR Art 9(2)(h): health or social care',
  'art9-2-i': 'UK GDPR Art 9(2)(i): public health',
  'art9-2-j': 'UK GDPR Art 9(2)(j): archiving, research and statistics',
} as const;

export const DPA_SCHEDULE1 = {
  'dpa-sch1-pt1-para2': 'DPA 2018 Sch 1 Pt 1 para 2: health or social care purposes',
  'dpa-sch1-pt1-para3': 'DPA 2018 Sch 1 Pt 1 para 3: public health',
  'dpa-sch1-pt1-para4': 'DPA 2018 Sch 1 Pt 1 para 4: research',
  'dpa-sch1-pt2-para18': 'DPA 2018 Sch 1 Pt 2 para 18: safeguarding of children and of individuals at risk',
} as const;

export const COMMON_LAW = {
  'implied-consent': 'Common law duty of confidentiality: implied consent for direct care',
  'explicit-consent': 'Common law duty of confidentiality: explicit consent',
  'overriding-public-interest': 'Common law duty of confidentiality: overriding public interest',
  'best-interests': 'Mental Capacity Act 2005: decision by an attorney, deputy or in the person\'s best interests',
  'legal-duty': 'Common law duty of confidentiality set aside by a legal duty',
  'section-251-support': 'NHS Act 2006 s251 support (Confidentiality Advisory Group)',
} as const;

export const STATUTORY_GATEWAY = {
  'hsca-2012-s251b': 'Health and Social Care Act 2012 s251B: duty to share for direct care (health and adult social care)',
  'care-act-2014-s42': 'Care Act 2014 s42: safeguarding enquiry',
  'care-act-2014-s45': 'Care Act 2014 s45: supply of information to a Safeguarding Adults Board',
  'children-act-1989-s47': 'Children Act 1989 s47: local authority duty to investigate',
  'mca-2005': 'Mental Capacity Act 2005 ss4, 9-19: best interests, LPA attorneys and deputies',
} as const;

export type Art6Code = keyof typeof ART6;
export type Art9Code = keyof typeof ART9;
export type DpaSchedule1Code = keyof typeof DPA_SCHEDULE1;
export type CommonLawCode = keyof typeof COMMON_LAW;
export type StatutoryGatewayCode = keyof typeof STATUTORY_GATEWAY;

const keys = <T extends object>(o: T) => Object.keys(o) as [keyof T & string, ...(keyof T & string)[]];
export const ART6_CODES = keys(ART6);
export const ART9_CODES = keys(ART9);
export const DPA_SCHEDULE1_CODES = keys(DPA_SCHEDULE1);
export const COMMON_LAW_CODES = keys(COMMON_LAW);
export const STATUTORY_GATEWAY_CODES = keys(STATUTORY_GATEWAY);

/** Every code with its display, for the published CodeSystem and for explanations. */
export const LAWFUL_BASIS_DISPLAY: Readonly<Record<string, string>> = {
  ...ART6,
  ...ART9,
  ...DPA_SCHEDULE1,
  ...COMMON_LAW,
  ...STATUTORY_GATEWAY,
};
