import { RULE_TITLES } from '../gate/citations.ts';
import type { Decision, LawfulBasis, Obligation } from '../gate/types.ts';
import type { ClassVerdict, ConsultResult } from './consult.ts';
import { DATA_CLASS_SYSTEM } from './request-schema.ts';

/**
 * Turns a consult result into the card LEAP's Consent Decision Service
 * answers with: summary CONSENT_PERMIT / CONSENT_DENY / NO_CONSENT, the
 * decision and obligations in `extension`, and what it was based on. Our
 * lawful basis rides in an extension of its own, keyed by a URL, so LEAP
 * clients that do not know it can ignore it. Cards carry codes, rule reasons
 * and ODS codes only; never a name or an NHS number.
 */
export const CARD_DECISIONS = ['CONSENT_PERMIT', 'CONSENT_DENY', 'NO_CONSENT'] as const;
export type CardDecision = (typeof CARD_DECISIONS)[number];

export const LAWFUL_BASIS_EXTENSION = 'https://joinedup.org.uk/fhir/StructureDefinition/lawful-basis';
export const GATE_DECISION_EXTENSION = 'https://joinedup.org.uk/fhir/StructureDefinition/gate-decision';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const OBLIGATION_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/gate-obligation';
const RULE_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/gate-rule';
const SOURCE_LABEL = 'JoinedUp lawful-basis gate';

export interface Coding {
  system: string;
  code: string;
}

/** LEAP's obligation shape: an id coding and free parameters (REDACT takes `codes`). */
export interface CardObligation {
  id: Coding;
  parameters?: { codes?: Coding[] };
}

export interface ConsentCard {
  uuid: string;
  summary: CardDecision;
  detail: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url: string };
  extension: {
    decision: CardDecision;
    obligations: CardObligation[];
    basedOn?: string;
    [url: string]: unknown;
  };
}

const NO_CONSENT_DETAIL = {
  'unknown-person': 'No consent decision could be made: no person with the identifiers given is known to this gateway.',
  'no-records': 'No consent decision could be made: no organisation holds records about this person here.',
} as const;

export function toCard(result: ConsultResult, uuid: string, sourceUrl: string): ConsentCard {
  const source = { label: SOURCE_LABEL, url: sourceUrl };
  if (result.kind === 'no-consent') {
    const detail = NO_CONSENT_DETAIL[result.reason];
    return { uuid, summary: 'NO_CONSENT', detail, indicator: 'warning', source, extension: { decision: 'NO_CONSENT', obligations: [] } };
  }
  const released = result.classes.filter((c) => c.permitted);
  const withheld = result.classes.filter((c) => !c.permitted);
  const main = (released[0] ?? withheld[0] as ClassVerdict).decision;
  const summary: CardDecision = released.length ? 'CONSENT_PERMIT' : 'CONSENT_DENY';
  const obligations = released.length ? obligationsOf(released, withheld) : [];
  const flagged = obligations.some((o) => o.id.code === 'flag-for-review');
  const indicator = summary === 'CONSENT_DENY' ? 'critical' : withheld.length || flagged ? 'warning' : 'info';
  const extension: ConsentCard['extension'] = {
    decision: summary,
    obligations,
    [LAWFUL_BASIS_EXTENSION]: lawfulBasis(main),
    [GATE_DECISION_EXTENSION]: {
      outcome: !released.length ? 'deny' : withheld.length ? 'permit-withheld' : 'permit',
      classes: result.classes.map((c) => ({ class: c.dataClass, outcome: c.permitted ? 'permit' : 'deny', rules: c.decision.rules.map((r) => r.rule) })),
      ...(main.reliedOn.agreement ? { agreement: main.reliedOn.agreement } : {}),
    },
  };
  const basedOn = main.reliedOn.consent ?? main.reliedOn.agreement?.id;
  if (basedOn) extension.basedOn = basedOn;
  return { uuid, summary, detail: detail(main, released, withheld), indicator, source, extension };
}

/** Our obligations under our gate-obligation codes, and the withheld classes as LEAP's REDACT with data-class codes. */
function obligationsOf(released: readonly ClassVerdict[], withheld: readonly ClassVerdict[]): CardObligation[] {
  const ours = new Set<Obligation>(released.flatMap((c) => c.decision.obligations));
  const out: CardObligation[] = [...ours].sort().map((code) => ({ id: { system: OBLIGATION_SYSTEM, code } }));
  if (withheld.length) {
    out.unshift({ id: { system: ACT_CODE, code: 'REDACT' }, parameters: { codes: withheld.map((c) => ({ system: DATA_CLASS_SYSTEM, code: c.dataClass })) } });
  }
  return out;
}

function lawfulBasis(d: Decision): Partial<LawfulBasis> & { rules: unknown[] } {
  return {
    ...(d.lawfulBasis ?? {}),
    rules: d.rules.map((r) => ({ system: RULE_SYSTEM, code: r.rule, display: RULE_TITLES[r.rule], effect: r.effect, reason: r.reason })),
  };
}

/** The plain-English text an IG lead reads: the settling decision, then what was withheld and why. */
function detail(main: Decision, released: readonly ClassVerdict[], withheld: readonly ClassVerdict[]): string {
  if (!released.length) return main.explanation;
  let text = main.explanation;
  if (withheld.length) {
    const why = withheld.map((c) => `${c.dataClass} (${RULE_TITLES[c.decision.rules[0]?.rule ?? 'R12-default-deny']})`);
    text += ` Released: ${released.map((c) => c.dataClass).join(', ')}. Withheld: ${why.join('; ')}.`;
  }
  return text;
}
