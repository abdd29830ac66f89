import type { OrganisationKind } from '../auth/organisation.ts';
import type { PurposeOfUse } from '../auth/purposes.ts';
import type { Art6Code, Art9Code, CommonLawCode, DpaSchedule1Code, StatutoryGatewayCode } from './lawful-basis-codes.ts';

/**
 * The gate's vocabulary. The engine (decide.ts and rules/) is pure: it sees
 * only these values, never the database, the request or the clock (the time
 * of the decision arrives as `now`). Loaders and enforcement points build
 * them; the engine answers with a Decision.
 */

/** Data classes, as in mappings/codesystems/data-class.json (the codes councils scope consent by). */
export const DATA_CLASSES = [
  'person',
  'contacts',
  'assessments',
  'services',
  'reviews',
  'care-plan',
  'care-team',
  'related-people',
  'safeguarding',
  'carer-data',
  'consents',
] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

export type Operation = 'read' | 'search' | 'write';

/** Who asks: the verified token's actor, reduced to what the rules use. */
export interface Requester {
  clientId: string;
  ods: string;
  kind: OrganisationKind;
  userId: string;
  /** SDS job role code. */
  role: string;
  purpose: PurposeOfUse;
  justification?: string;
}

/** Who may decide for a person, and on what authority (consent-authority CodeSystem). */
export type ConsentAuthority = 'person' | 'lpa-health-welfare' | 'deputy' | 'best-interests' | 'parental-responsibility';

/** One provision of a Consent, flattened (nested provisions become their own entries). Empty lists mean "any". */
export interface ConsentProvisionFact {
  type: 'permit' | 'deny';
  /** ODS codes of the recipient organisations the provision names. */
  actors: string[];
  purposes: PurposeOfUse[];
  classes: DataClass[];
  period?: { start?: string; end?: string };
}

/** A privacy Consent (scope patient-privacy) as the loader found it: status active, already known to apply to this person. */
export interface ConsentFact {
  /** "Consent/{id}", the reference the decision cites. */
  ref: string;
  /** When the consent decision was made (Consent.dateTime); the most recent applicable wins. */
  dateTime: string;
  /** Consent.provision.period, if any. */
  period?: { start?: string; end?: string };
  /** given | refused | withdrawn (consent-decision extension); refusals and withdrawals carry deny provisions. */
  decision: 'given' | 'refused' | 'withdrawn';
  authority: ConsentAuthority;
  /** The root provision first, then nested ones. */
  provisions: ConsentProvisionFact[];
  /** The capacity assessment recorded with the consent (mental-capacity extension), if any. */
  capacity?: { hasCapacity: boolean; assessedOn?: string };
}

/** An open safeguarding enquiry (an active Flag of our safeguarding category). */
export interface SafeguardingFact {
  ref: string;
  /** Care Act 2014 s42 (adult) or Children Act 1989 s47 (child). */
  kind: 's42' | 's47';
}

/** A break-glass window already opened for this person (rule 9's time box). */
export interface BreakGlassWindow {
  userId: string;
  clientId: string;
  /** sha256 hex of the justification text that opened it. */
  justificationHash: string;
  openedAt: string;
}

/** Everything the rules may know about one person, loaded (and cached) by src/gate/facts/. */
export interface PersonFacts {
  patientId: string;
  birthDate?: string;
  /** Known to the council as a carer (client type 'carer'): their assessment and plan are carer's data (rule 7). */
  isCarer: boolean;
  /** ODS codes of the registered GP practice(s) (Patient.generalPractitioner). */
  registeredGp: string[];
  /** ODS codes of organisations in an active care team (CareTeam.participant.onBehalfOf / member). */
  careTeamOrgs: string[];
  /** ODS codes of requester/performer organisations of open (active) referrals (ServiceRequest). */
  referralOrgs: string[];
  /** ODS codes of the organisations that control (pushed) records about this person. */
  recordHolders: string[];
  /** ODS codes of organisations arranging an active service or plan for the person (EpisodeOfCare, CarePlan). */
  servicesArrangedBy: string[];
  consents: ConsentFact[];
  openSafeguarding: SafeguardingFact[];
  /** National Data Opt-out, as loaded by the operator. */
  nationalDataOptOut: boolean;
  breakGlass: BreakGlassWindow[];
}

/** The data one decision is about: one resource (or one class of resources) about one person. */
export interface DataItem {
  resourceType: string;
  dataClass: DataClass;
  /** ODS code of the record's controller; undefined for a resource nobody controls yet (a create). */
  controller?: string;
  /**
   * Set when the item is about a different data subject than `person`: a
   * carer's details (RelatedPerson) shown in the cared-for person's record.
   * `facts` is that person's own facts when they are known to us.
   */
  thirdParty?: { kind: 'carer'; facts?: PersonFacts };
}

/** One question to the engine. */
export interface GateQuery {
  requester: Requester;
  operation: Operation;
  person: PersonFacts;
  data: DataItem;
  now: Date;
}

/** A sharing agreement (ISA) in force or not; see src/gate/agreements/. */
export interface SharingAgreement {
  id: string;
  version: number;
  title: string;
  parties: { ods: string; name: string }[];
  purposes: PurposeOfUse[];
  dataClasses: DataClass[];
  lawfulBasis: {
    art6: Art6Code;
    art9: Art9Code;
    dpaSchedule1?: DpaSchedule1Code;
    commonLaw?: CommonLawCode;
    statutoryGateway?: StatutoryGatewayCode;
    /** PUBHLTH under a legal duty: the National Data Opt-out does not apply (rule 11). */
    legalDuty?: boolean;
  };
  period: { start: string; end?: string };
  /** Set by `agreement end`: no longer in force from this instant. */
  endedAt?: string;
}

export interface Policy {
  agreements: readonly SharingAgreement[];
  /** Rule 9's time box per user per person (default 4 hours). */
  breakGlassWindowMs: number;
}

/** Codes of our gate-rule CodeSystem; each rule's unit cites its sources. */
export type RuleId =
  | 'R1-agreement'
  | 'R2-relationship'
  | 'R3-implied-consent-direct-care'
  | 'R4-objection'
  | 'R5-safeguarding'
  | 'R6-capacity'
  | 'R7-carer-data'
  | 'R8-need-to-know'
  | 'R9-break-glass'
  | 'R10-children'
  | 'R11-national-data-opt-out'
  | 'R12-default-deny'
  | 'W-controller-write';

export interface Citation {
  /** e.g. "Care Act 2014 s42", "UK GDPR Art 9(2)(g)", "seed 001 (joint work guidance)". */
  source: string;
  /** The words relied on, short. */
  text?: string;
}

export interface RuleFiring {
  rule: RuleId;
  effect: 'permit' | 'deny' | 'condition';
  reason: string;
  sources: Citation[];
}

/** Lawful basis, each part a code of our lawful-basis CodeSystem (e.g. 'art6-1-e', 'art9-2-h', 'dpa-sch1-pt1-para2'). */
export interface LawfulBasis {
  art6: Art6Code;
  art9?: Art9Code;
  dpaSchedule1?: DpaSchedule1Code;
  commonLaw?: CommonLawCode;
  statutoryGateway?: StatutoryGatewayCode;
}

export type Obligation =
  | 'flag-for-review'
  | 'open-break-glass-window'
  | 'redact-third-party'
  | 'read-only';

export interface Decision {
  outcome: 'permit' | 'deny';
  /** The rules that decided, first the one that settled it. */
  rules: RuleFiring[];
  lawfulBasis?: LawfulBasis;
  reliedOn: { consent?: string; agreement?: { id: string; version: number } };
  obligations: Obligation[];
  /** Plain English an IG lead can read; never contains personal data. */
  explanation: string;
}
