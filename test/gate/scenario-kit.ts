import { createHash } from 'node:crypto';
import type { OrganisationKind } from '../../src/auth/organisation.ts';
import type { ConsentFact, GateQuery, PersonFacts, Policy } from '../../src/gate/types.ts';
import { SCENARIO_AGREEMENTS } from './scenario-agreements.ts';
import type { ConsentSpec, Scenario } from './scenario-types.ts';

export type { ConsentSpec, PersonSpec, ProvisionSpec, Scenario } from './scenario-types.ts';

/** Organisations, defaults and the builders that turn a Scenario into the engine's inputs. */

export const ORGS = {
  council: 'X9C01',
  otherCouncil: 'X9C02',
  gp: 'X99001',
  secondGp: 'X99002',
  acute: 'X9H01',
  mentalHealth: 'X9M01',
  ig: 'X9G01',
} as const;

export const ORG_KINDS: Record<string, OrganisationKind> = {
  X9C01: 'local-authority',
  X9C02: 'local-authority',
  X99001: 'gp-practice',
  X99002: 'gp-practice',
  X9H01: 'nhs-trust',
  X9M01: 'nhs-trust',
  X9G01: 'information-governance',
};

export const DEFAULT_NOW = '2026-06-01T10:00:00Z';
export const ADULT_BIRTH_DATE = '1960-04-12';
export const CHILD_BIRTH_DATE = '2015-09-03';
export const BREAK_GLASS_WINDOW_MS = 4 * 60 * 60 * 1000;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function consentFact(c: ConsentSpec): ConsentFact {
  const fact: ConsentFact = {
    ref: `Consent/${c.id}`,
    dateTime: c.dateTime,
    decision: c.decision,
    authority: c.authority ?? 'person',
    provisions: c.provisions.map((p) => ({
      type: p.type,
      actors: [...(p.actors ?? [])],
      purposes: [...(p.purposes ?? [])],
      classes: [...(p.classes ?? [])],
      ...(p.period ? { period: p.period } : {}),
    })),
  };
  if (c.period) fact.period = c.period;
  if (c.capacity) fact.capacity = c.capacity;
  return fact;
}

export function factsFromScenario(s: Scenario): PersonFacts {
  const p = s.person;
  return {
    patientId: 'scenario-person',
    birthDate: p.birthDate ?? (p.age === 'adult' ? ADULT_BIRTH_DATE : CHILD_BIRTH_DATE),
    isCarer: p.isCarer ?? false,
    registeredGp: p.gp ? [p.gp] : [],
    careTeamOrgs: [...(p.careTeam ?? [])],
    referralOrgs: [...(p.referrals ?? [])],
    recordHolders: [...(p.recordHolders ?? [ORGS.council])],
    servicesArrangedBy: [...(p.servicesArrangedBy ?? [ORGS.council])],
    consents: (p.consents ?? []).map(consentFact),
    openSafeguarding: p.safeguarding ? [{ ref: 'Flag/safeguarding-enquiry', kind: p.safeguarding }] : [],
    nationalDataOptOut: p.optOut ?? false,
    breakGlass: (p.breakGlass ?? []).map((w) => ({
      userId: w.userId,
      clientId: w.clientId ?? `client-${s.requester.ods}`,
      justificationHash: sha256(w.justification),
      openedAt: w.openedAt,
    })),
  };
}

function carerFacts(consents: readonly ConsentSpec[]): PersonFacts {
  return {
    patientId: 'scenario-carer',
    birthDate: ADULT_BIRTH_DATE,
    isCarer: true,
    registeredGp: [],
    careTeamOrgs: [],
    referralOrgs: [],
    recordHolders: [ORGS.council],
    servicesArrangedBy: [ORGS.council],
    consents: consents.map(consentFact),
    openSafeguarding: [],
    nationalDataOptOut: false,
    breakGlass: [],
  };
}

export function policyFromScenario(s: Scenario): Policy {
  return { agreements: s.agreements.map((id) => SCENARIO_AGREEMENTS[id]), breakGlassWindowMs: BREAK_GLASS_WINDOW_MS };
}

export function queryFromScenario(s: Scenario): GateQuery {
  const controller = s.ask.controller === null ? undefined : (s.ask.controller ?? ORGS.council);
  const third = s.ask.thirdPartyCarer;
  return {
    requester: {
      clientId: `client-${s.requester.ods}`,
      ods: s.requester.ods,
      kind: ORG_KINDS[s.requester.ods] ?? 'nhs-trust',
      userId: s.requester.userId ?? 'user-1',
      role: 'R8000',
      purpose: s.requester.purpose,
      ...(s.requester.justification !== undefined ? { justification: s.requester.justification } : {}),
    },
    operation: s.ask.operation,
    person: factsFromScenario(s),
    data: {
      resourceType: s.ask.resourceType ?? 'CarePlan',
      dataClass: s.ask.dataClass,
      ...(controller !== undefined ? { controller } : {}),
      ...(third !== undefined ? { thirdParty: third === null ? { kind: 'carer' as const } : { kind: 'carer' as const, facts: carerFacts(third.consents) } } : {}),
    },
    now: new Date(s.now ?? DEFAULT_NOW),
  };
}
