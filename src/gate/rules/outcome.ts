import { RULE_SOURCES } from '../citations.ts';
import type { Decision, LawfulBasis, Obligation, RuleFiring, RuleId, SharingAgreement } from '../types.ts';

/** Builders shared by the rules: a firing carries its rule's sources; a decision explains itself from its firings. */

export function fire(rule: RuleId, effect: RuleFiring['effect'], reason: string): RuleFiring {
  // A copy per firing: decisions are handed to callers, who must not be able to alter the shared lists.
  return { rule, effect, reason, sources: RULE_SOURCES[rule].slice() };
}

function explain(outcome: Decision['outcome'], rules: readonly RuleFiring[]): string {
  const [first, ...rest] = rules;
  let text = `${outcome === 'permit' ? 'Permitted' : 'Denied'}: ${first ? first.reason : 'no rule applied'}.`;
  if (rest.length > 0) text += ` Also considered: ${rest.map((r) => r.reason).join('; ')}.`;
  return text;
}

export function deny(first: RuleFiring, supporting: readonly RuleFiring[] = []): Decision {
  const rules = [first, ...supporting];
  return { outcome: 'deny', rules, reliedOn: {}, obligations: [], explanation: explain('deny', rules) };
}

export interface PermitParts {
  basis: LawfulBasis;
  consent?: string;
  agreement?: SharingAgreement;
  obligations?: Obligation[];
}

export function permit(first: RuleFiring, supporting: readonly RuleFiring[], parts: PermitParts): Decision {
  const rules = [first, ...supporting];
  const reliedOn: Decision['reliedOn'] = {};
  if (parts.consent) reliedOn.consent = parts.consent;
  if (parts.agreement) reliedOn.agreement = { id: parts.agreement.id, version: parts.agreement.version };
  return {
    outcome: 'permit',
    rules,
    lawfulBasis: parts.basis,
    reliedOn,
    obligations: parts.obligations ?? [],
    explanation: explain('permit', rules),
  };
}

/** Art 6(1)(e) + Art 9(2)(h) with DPA 2018 Sch 1 Pt 1 para 2: the base of every health and social care exchange. */
export function careBasis(extra: Omit<LawfulBasis, 'art6' | 'art9' | 'dpaSchedule1'> = {}): LawfulBasis {
  return { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', ...extra };
}

/** The lawful basis an agreement declares (without its legal-duty flag, which is not a basis). */
export function agreementBasis(a: SharingAgreement): LawfulBasis {
  const { art6, art9, dpaSchedule1, commonLaw, statutoryGateway } = a.lawfulBasis;
  const b: LawfulBasis = { art6, art9 };
  if (dpaSchedule1) b.dpaSchedule1 = dpaSchedule1;
  if (commonLaw) b.commonLaw = commonLaw;
  if (statutoryGateway) b.statutoryGateway = statutoryGateway;
  return b;
}

export function agreementLabel(a: SharingAgreement): string {
  return `agreement ${a.id} v${a.version}`;
}
