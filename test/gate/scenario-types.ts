import type { PurposeOfUse } from '../../src/auth/purposes.ts';
import type {
  Art6Code,
  Art9Code,
  CommonLawCode,
  DpaSchedule1Code,
  StatutoryGatewayCode,
} from '../../src/gate/lawful-basis-codes.ts';
import type { ConsentAuthority, DataClass, Obligation, Operation, RuleId } from '../../src/gate/types.ts';
import type { AgreementId } from './scenario-agreements.ts';

/**
 * The scenario shape: plain data (JSON-serialisable), so another harness can
 * replay each case through the HTTP API by creating FHIR resources (Patient,
 * Consent, CareTeam, ServiceRequest, Flag, agreements) — and so the docs table
 * can be generated from the same list.
 */

export interface ProvisionSpec {
  type: 'permit' | 'deny';
  actors?: readonly string[];
  purposes?: readonly PurposeOfUse[];
  classes?: readonly DataClass[];
  period?: { start?: string; end?: string };
}

export interface ConsentSpec {
  /** Consent id; the decision cites "Consent/{id}". */
  id: string;
  decision: 'given' | 'refused' | 'withdrawn';
  authority?: ConsentAuthority;
  dateTime: string;
  period?: { start?: string; end?: string };
  /** Root provision first. */
  provisions: readonly ProvisionSpec[];
  capacity?: { hasCapacity: boolean; assessedOn?: string };
}

export interface PersonSpec {
  age: 'adult' | 'child';
  /** Overrides the default birth date of the age group. */
  birthDate?: string;
  isCarer?: boolean;
  gp?: string;
  careTeam?: readonly string[];
  referrals?: readonly string[];
  /** Organisations arranging services; default: the council. */
  servicesArrangedBy?: readonly string[];
  /** Organisations holding records; default: the council. */
  recordHolders?: readonly string[];
  consents?: readonly ConsentSpec[];
  safeguarding?: 's42' | 's47';
  optOut?: boolean;
  breakGlass?: readonly { userId: string; clientId?: string; justification: string; openedAt: string }[];
}

export interface Scenario {
  name: string;
  /** Which rule or interaction the case is about (for the docs table). */
  about: string;
  person: PersonSpec;
  agreements: readonly AgreementId[];
  requester: { ods: string; purpose: PurposeOfUse; justification?: string; userId?: string };
  ask: {
    operation: Operation;
    dataClass: DataClass;
    resourceType?: string;
    /** Default: the council. null: a create (nobody controls the record yet). */
    controller?: string | null;
    /** A carer's details in this person's record; null: a carer not known to us. */
    thirdPartyCarer?: { consents: readonly ConsentSpec[] } | null;
  };
  now?: string;
  expect: {
    outcome: 'permit' | 'deny';
    rule: RuleId;
    art6?: Art6Code;
    art9?: Art9Code;
    dpaSchedule1?: DpaSchedule1Code;
    commonLaw?: CommonLawCode;
    /** null: asserted absent (e.g. s251B never cited for a child or an objection). */
    statutoryGateway?: StatutoryGatewayCode | null;
    /** Consent id relied on; null: none. */
    consent?: string | null;
    agreement?: AgreementId;
    obligations?: readonly Obligation[];
  };
}
