import { z } from 'zod';

/**
 * The code lists the council format v1 checks codes against. Each list has a
 * name (used in error messages: `unknown code "X" in code list "CLD route of
 * access"`), the canonical URL of its CodeSystem, and its codes with their
 * displays.
 *
 * Codes are facts taken from the Interweave CodeSystems (Yorkshire & Humber
 * Care Record IG, codes derived from the NHS England Adult Social Care Client
 * Level Data (CLD) specification) where Interweave has the list; where it does
 * not (route of access, delivery mechanism, accommodation status, assessment
 * method), the displays are the CLD values and the short codes are JoinedUp's
 * own, published under the JoinedUp CodeSystem base below. The mappings
 * (mappings/) translate every list with a ConceptMap.
 */
export const JOINEDUP_CODESYSTEM_BASE = 'https://joinedup.org.uk/fhir/CodeSystem/';
/**
 * The Interweave FSH source publishes no canonical base (it has no
 * sushi-config), so its CodeSystems are named under ours, by their FSH ids.
 */
export const INTERWEAVE_CODESYSTEM_BASE = `${JOINEDUP_CODESYSTEM_BASE}interweave/`;

export interface CodeList<C extends string = string> {
  /** Human name, quoted in every error message about this list. */
  readonly name: string;
  /** Canonical URL of the CodeSystem the codes come from. */
  readonly system: string;
  /** code → display. */
  readonly codes: Readonly<Record<C, string>>;
}

function list<const T extends Record<string, string>>(name: string, system: string, codes: T): CodeList<Extract<keyof T, string>> {
  return Object.freeze({ name, system, codes: Object.freeze(codes) });
}

const DATA_NOT_HELD = {
  'DNH-SL': 'Data Not Held - System Level',
  'DNH-IL': 'Data Not Held - Individual Level',
} as const;

/** CLD Route of Access (the route by which a request for support arrived). */
export const ROUTE_OF_ACCESS = list('CLD route of access', `${JOINEDUP_CODESYSTEM_BASE}cld-route-of-access`, {
  DH: 'Discharge from Hospital',
  DIV: 'Diversion from Hospital Services',
  COMM: 'Community / Other Route',
  TRAN: 'Planned Entry (Transition)',
  SFDF: 'Self-Funder with Depleted Funds',
  PR: 'Prison',
  ...DATA_NOT_HELD,
});

/** Interweave SocialCareContactReason: why a contact or request was made. */
export const CONTACT_REASON = list('Interweave contact reason', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareContactReason`, {
  FOI: 'Access to Records Request/FOI',
  AEI: 'Adaptation/ Equipment Issue',
  AR: 'Application/Registration',
  CAQ: 'Care Act Query',
  C: 'Complaint',
  CFW: 'Concern for Welfare',
  CHC: 'Continuing Health Care',
  DSR: 'Data Sharing Request from Other Agency',
  DOLS: 'DoLS',
  FIQ: 'Financial/Invoicing Query',
  'HRF-2D': 'Health referral pathway 2D/2E',
  'HRF-EOL': 'Health referral pathway 4 end of life',
  'HRF-FT': 'Health referral pathway 4 fastrak',
  HD: 'Hospital Discharge',
  MHAAR: 'Mental Health Act Assessment Request',
  MHTRR: 'Mental Health Tribunal Report Requested',
  NRR: 'Nearest Relative Request for MHA Assessment',
  NF: 'Not For Adult Social Care',
  ND: 'Notification that SU Deceased',
  OSF: 'Online - Self Assessment Form',
  OTH: 'Other',
  PUI: 'Providing Update/ Information',
  RR: 'Repeat Respite',
  'R-SI': 'Reporting a Safeguarding Incident',
  'R-I': 'Reporting an Incident',
  'R-IPC': 'Reporting an Issue with a Package of Care',
  'REQ-AE': 'Request for Adaptation/Equipment',
  'REQ-ADVO': 'Request for Advocacy',
  'REQ-ASS': 'Request for Assessment',
  'REQ-CS': 'Request for Carers Services',
  'REQ-DST': 'Request for Decision Support Tool (DST) Meeting',
  'REQ-I': 'Request for Information',
  'REQ-PSPA': 'Request for Permanent Support Plan Adjustment',
  'REQ-R': 'Request for Review',
  'REQ-TSPA': 'Request for Temporary Support Plan Adjustment',
  'REQ-USC': 'Request for Urgent Support - Carer',
  'REQ-USS': 'Request for Urgent Support - Service User',
  SA: 'Self Assessment',
  TC: 'Transitions Case',
  TRAN: 'Transport',
});

/** Interweave SocialCareRequesterType: who made the request. */
export const REQUESTER_TYPE = list('Interweave requester type', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareRequesterType`, {
  ADV: 'Advocate',
  ANON: 'Anonymous',
  ASCP: 'Adult Social Care Provider',
  FFN: 'Family/Friend/Neighbour',
  ICC: 'Integrated Care Centre',
  IC: 'Intermediate Care',
  INT: 'Internal',
  LAHD: 'LA Housing Department/Association',
  LA: 'Legal Agency (Police, Court, Probation etc)',
  MA: 'Managing Authority',
  UKN: 'Not Known',
  P: 'Portal',
  PCH: 'Primary Community Health (GP, community based)',
  SH: 'Secondary Health (A&E, Hospital, OT, Ward, Hospice)',
  TA: 'Trusted Assessor',
  OTH: 'Other',
  S: 'Self',
});

/**
 * Assessment type: the Interweave SocialCareAssessmentType codes, plus FIN
 * (financial assessment, a CLD assessment kind Interweave does not list).
 * Long-term needs assessment = CN, short-term (reablement) = RA, carer's = CA.
 */
export const ASSESSMENT_TYPE = list('CLD assessment type', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareAssessmentType`, {
  CN: 'Care Act Needs Assessment',
  CA: 'Carers Assessment',
  HD: 'Hospital Discharge Assessment',
  MH: 'Mental Health Assessment',
  OT: 'Occupational Therapy Assessment',
  RA: 'Reablement Assessment',
  SA: 'Social Assessment',
  EOL: 'End of Life Assessment',
  FIN: 'Financial Assessment',
  OTH: 'Other',
});

/** How an assessment or review was carried out (CLD method of assessment). */
export const ASSESSMENT_METHOD = list('CLD assessment method', `${JOINEDUP_CODESYSTEM_BASE}cld-assessment-method`, {
  F2F: 'Face to face',
  TEL: 'Telephone',
  VID: 'Video call',
  SELF: 'Supported self-assessment',
  OTH: 'Other',
  ...DATA_NOT_HELD,
});

/** CLD Event Outcome (Interweave SocialCareAssessmentOutcome): outcome of a request, assessment, review or service end. */
export const EVENT_OUTCOME = list('CLD event outcome', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareAssessmentOutcome`, {
  'PRO-R': 'Progress to Reablement/ST-Max',
  'PRO-ASS': 'Progress to Assessment',
  ADMH: 'Admitted to hospital',
  'PRO-RASS': 'Progress to Re-assessment/Unplanned Review',
  'PRO-SUP': 'Progress to Support Planning / Services',
  'PRO-EOL': 'Progress to End of Life Care',
  NCP: 'No change in package',
  SEP: 'Service ended as planned',
  'NFA-MALA': 'NFA - Moved to another LA',
  'NFA-1NFC': 'NFA - 100% NHS funded care',
  'NFA-SFC': 'NFA - Self-funded client (inc 12wk disregard)',
  'NFA-SD': 'NFA - Support declined',
  'NFA-IA': 'NFA - Information & Advice / Signposting only',
  'NFA-D': 'NFA - Deceased',
  'NFA-NSO': 'NFA - No services offered: Other reason',
  'NFA-SEO': 'NFA - Support ended: Other reason',
  'NFA-OTH': 'NFA - Other',
  'PRO-FA': 'Progress to financial assessment',
  POS: 'Provision of service',
  ...DATA_NOT_HELD,
  OTH: 'Other',
});

/** CLD Service Type (Interweave SocialCareServiceCategory). */
export const SERVICE_TYPE = list('CLD service type', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareServiceCategory`, {
  'STS-STMAX': 'Short Term Support: ST-Max',
  'STS-OLL': 'Short Term Support: Ongoing Low Level',
  'STS-OST': 'Short Term Support: Other Short Term',
  'LTS-NC': 'Long Term Support: Nursing Care',
  'LTS-RS': 'Long Term Support: Residential Care',
  'LTS-C': 'Long Term Support: Community',
  'LTS-P': 'Long Term Support: Prison',
  'CS-DC': 'Carer Support: Direct to Carer',
  'CS-SIPC': 'Carer Support: Support involving the person cared-for',
  ...DATA_NOT_HELD,
  OTH: 'Other',
});

/** CLD Service Component (Interweave SocialCareServiceType). */
export const SERVICE_COMPONENT = list('CLD service component', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareServiceType`, {
  R: 'Reablement',
  STNC: 'Short Term Nursing Care',
  STRC: 'Short Term Residential Care',
  LTNC: 'Long Term Nursing Care',
  LTRC: 'Long Term Residential Care',
  HS: 'Home Support',
  DS: 'Day Support',
  M: 'Meals',
  TRAN: 'Transport',
  EQ: 'Equipment',
  DP: 'Direct Payment',
  SL: 'Shared Lives',
  CSL: 'Community Supported Living',
  PS: 'Professional Support',
  'PS-SW': 'Professional Support- Social Worker',
  LEES: 'Learning/Education/Employment Support',
  EOL: 'End of Life Care',
  ES: 'Emergency Support',
  OSTS: 'Other Short Term Support',
  OLTS: 'Other Long Term Support',
  'C-R': 'Carer Respite',
  'C-SS': 'Carer Sitting Service',
  'C-US': 'Carer Universal Services',
  'C-OTH': 'Other Carer Support',
  ...DATA_NOT_HELD,
  OTH: 'Other',
});

/** CLD Delivery Mechanism: how a service is paid for and arranged. */
export const DELIVERY_MECHANISM = list('CLD delivery mechanism', `${JOINEDUP_CODESYSTEM_BASE}cld-delivery-mechanism`, {
  DP: 'Direct Payment only',
  PDP: 'Part Direct Payment',
  CMPB: 'CASSR Managed Personal Budget',
  CCS: 'CASSR Commissioned Support only',
  ...DATA_NOT_HELD,
});

/** CLD Primary Support Reason (Interweave SocialCareSupportReason, with its sub-codes). */
export const PRIMARY_SUPPORT_REASON = list('CLD primary support reason', `${INTERWEAVE_CODESYSTEM_BASE}Interweave-SocialCareSupportReason`, {
  LDS: 'Learning Disability Support',
  MHS: 'Mental Health Support',
  PS: 'Physical Support',
  'PS-AMO': 'Physical Support: Access & mobility only',
  'PS-PCS': 'Physical Support: Personal care support',
  SMC: 'Support with Memory and Cognition',
  SOS: 'Social Support',
  'SOS-SMS': 'Social Support: Substance misuse support',
  'SOS-ASS': 'Social Support: Asylum seeker support',
  'SOS-IO': 'Social Support: Support for Social Isolation/Other',
  SS: 'Sensory Support',
  'SS-SVI': 'Sensory Support: Support for visual impairment',
  'SS-SHI': 'Sensory Support: Support for hearing impairment',
  'SS-SDI': 'Sensory Support: Support for dual impairment',
  UNK: 'PSR Not Known',
});

/** CLD Accommodation Status (the ASCOF settled / non-settled accommodation categories). */
export const ACCOMMODATION_STATUS = list('CLD accommodation status', `${JOINEDUP_CODESYSTEM_BASE}cld-accommodation-status`, {
  OWN: 'Owner occupier or shared ownership scheme',
  'TEN-SOC': 'Tenant - Local Authority/Arms Length Management Organisation/Registered Social Landlord/Housing Association',
  'TEN-PRIV': 'Tenant - private landlord',
  FAM: 'Settled mainstream housing with family/friends (including flat-sharing)',
  SUPP: 'Supported accommodation / supported lodgings / supported group home',
  SL: 'Shared Lives scheme',
  APP: 'Approved premises for offenders released from prison or under probation supervision',
  SHEL: 'Sheltered housing / extra care housing / other sheltered housing',
  MOB: 'Mobile accommodation for Gypsy/Roma and Traveller communities',
  ROUGH: 'Rough sleeper / squatting',
  HOSTEL: 'Night shelter / emergency hostel / direct access hostel',
  REFUGE: 'Refuge',
  'TEMP-LA': 'Placed in temporary accommodation by the council (including homelessness resettlement)',
  GUEST: 'Staying with family/friends as a short-term guest',
  HOSP: 'Acute / long-term healthcare residential facility or hospital',
  CH: 'Registered care home',
  NH: 'Registered nursing home',
  PRISON: 'Prison / Young offenders institution / detention centre',
  'TEMP-OTH': 'Other temporary accommodation',
  UNK: 'Unknown',
});

/** NHS ethnic category (UK Core EthnicCategoryEngland, the Data Dictionary ETHNIC CATEGORY). */
export const ETHNIC_CATEGORY = list('NHS ethnic category', 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', {
  A: 'White - British',
  B: 'White - Irish',
  C: 'White - Any other White background',
  D: 'Mixed - White and Black Caribbean',
  E: 'Mixed - White and Black African',
  F: 'Mixed - White and Asian',
  G: 'Mixed - Any other mixed background',
  H: 'Asian or Asian British - Indian',
  J: 'Asian or Asian British - Pakistani',
  K: 'Asian or Asian British - Bangladeshi',
  L: 'Asian or Asian British - Any other Asian background',
  M: 'Black or Black British - Caribbean',
  N: 'Black or Black British - African',
  P: 'Black or Black British - Any other Black background',
  R: 'Other Ethnic Groups - Chinese',
  S: 'Other Ethnic Groups - Any other ethnic group',
  Z: 'Not stated',
  '99': 'Not known',
});

/** FHIR AdministrativeGender (what UK Core Patient.gender carries). */
export const GENDER = list('FHIR administrative gender', 'http://hl7.org/fhir/administrative-gender', {
  male: 'Male',
  female: 'Female',
  other: 'Other',
  unknown: 'Unknown',
});

/**
 * The ten Care Act eligibility outcomes: The Care and Support (Eligibility
 * Criteria) Regulations 2015, reg 2(2)(a)–(j).
 */
export const ELIGIBILITY_OUTCOME = list('Care Act eligibility outcome', `${JOINEDUP_CODESYSTEM_BASE}care-act-eligibility-outcome`, {
  'managing-nutrition': 'Managing and maintaining nutrition',
  'personal-hygiene': 'Maintaining personal hygiene',
  'toilet-needs': 'Managing toilet needs',
  'being-clothed': 'Being appropriately clothed',
  'home-safety': 'Being able to make use of the adult’s home safely',
  'habitable-home': 'Maintaining a habitable home environment',
  relationships: 'Developing and maintaining family or other personal relationships',
  'work-training-education-volunteering': 'Accessing and engaging in work, training, education or volunteering',
  'community-facilities': 'Making use of necessary facilities or services in the local community, including public transport and recreational facilities or services',
  'caring-for-child': 'Carrying out any caring responsibilities the adult has for a child',
});

/** Classes of data a consent decision can cover (JoinedUp's own list). */
export const DATA_CLASS = list('JoinedUp data class', `${JOINEDUP_CODESYSTEM_BASE}data-class`, {
  person: 'Demographics and social care status',
  contacts: 'Contacts and requests for support',
  assessments: 'Assessments and their answers',
  services: 'Services and care packages',
  reviews: 'Reviews',
  'care-plan': 'Care and support plan',
  'care-team': 'Care team',
  'related-people': 'Carers, attorneys, deputies and advocates',
  safeguarding: 'Open safeguarding enquiry flag',
  'carer-data': "A carer's own data (their assessment and support plan)",
});

/** Relationship of a related person to the person (JoinedUp's own list; ConceptMap to Interweave SupportRole). */
export const RELATIONSHIP_TYPE = list('JoinedUp related person relationship', `${JOINEDUP_CODESYSTEM_BASE}related-person-relationship`, {
  'unpaid-carer': 'Unpaid carer',
  'main-unpaid-carer': 'Main unpaid carer',
  'lpa-health-welfare': 'Attorney under a health and welfare Lasting Power of Attorney',
  'lpa-property-finance': 'Attorney under a property and financial affairs Lasting Power of Attorney',
  'deputy-health-welfare': 'Court of Protection deputy for personal welfare',
  'deputy-property-finance': 'Court of Protection deputy for property and affairs',
  'care-act-advocate': 'Independent advocate (Care Act 2014 s67)',
  imca: 'Independent Mental Capacity Advocate',
  'nearest-relative': 'Nearest relative (Mental Health Act 1983)',
  'next-of-kin': 'Next of kin',
  'emergency-contact': 'Emergency contact',
  appointee: 'DWP appointee',
  'parent-responsibility': 'Person with parental responsibility',
  other: 'Other',
});

export type CodeOf<L extends CodeList> = L extends CodeList<infer C> ? C : never;

export function codesOf<C extends string>(l: CodeList<C>): [C, ...C[]] {
  return Object.keys(l.codes) as [C, ...C[]];
}

export function isCodeIn<C extends string>(l: CodeList<C>, code: string): code is C {
  return Object.hasOwn(l.codes, code);
}

/** The message every unknown code gets: names the list and the bad code. */
export function unknownCodeMessage(l: CodeList, input: unknown): string {
  const shown = typeof input === 'string' ? `"${input.length > 40 ? input.slice(0, 40) + '…' : input}"` : `of type ${input === null ? 'null' : typeof input}`;
  return `unknown code ${shown} in code list "${l.name}"`;
}

/** A zod schema accepting exactly the codes of `l` (a JSON Schema enum), with the list named in its error. */
export function code<C extends string>(l: CodeList<C>) {
  return z
    .enum(codesOf(l), { error: (iss) => (iss.input === undefined ? undefined : unknownCodeMessage(l, iss.input)) })
    .meta({ description: `A code from the code list "${l.name}" (${l.system})` });
}

/** Every list, by name, for the documentation and the mappings. */
export const CODE_LISTS: readonly CodeList[] = [
  ROUTE_OF_ACCESS,
  CONTACT_REASON,
  REQUESTER_TYPE,
  ASSESSMENT_TYPE,
  ASSESSMENT_METHOD,
  EVENT_OUTCOME,
  SERVICE_TYPE,
  SERVICE_COMPONENT,
  DELIVERY_MECHANISM,
  PRIMARY_SUPPORT_REASON,
  ACCOMMODATION_STATUS,
  ETHNIC_CATEGORY,
  GENDER,
  ELIGIBILITY_OUTCOME,
  DATA_CLASS,
  RELATIONSHIP_TYPE,
];
