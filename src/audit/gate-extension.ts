import type { Extension } from '@medplum/fhirtypes';
import { GATE_DECISION_URL } from './balp-codes.ts';
import { jsonInteger as int, jsonString as q } from './canonical.ts';
import type { DecisionFacts } from './exchange-facts.ts';
import type { AuditOutcome, AuditOverride } from './types.ts';

export interface GateExtensionInput {
  outcome: AuditOutcome;
  /** The gate's decision as an exchange's audit stores it (exchange-facts.ts). */
  decision?: DecisionFacts;
  override?: AuditOverride;
  /** Break-glass or safeguarding justification as the user declared it: shown to IG only. */
  justification?: string;
}

/**
 * The gate's decision as one complex extension (BALP leaves decisions to
 * the implementer): outcome, every rule that fired (the deciding one first),
 * each part of the lawful basis, the agreement and consent relied on, the
 * override and its justification, and the plain-English explanation (which
 * the gate guarantees holds no personal data).
 *
 * Written directly as canonical JSON text (keys sorted, no whitespace;
 * canonical.ts): every audited exchange carries it, and text built from
 * fixed pieces costs a fraction of building an object, checking its key
 * order and stringifying it (docs/performance.md, audited reads, sixth pass).
 * test/audit/balp.test.ts checks every shape against the canonical writer.
 *
 * Rule and lawful-basis codes are valueCode: the extension's definition
 * binds each to one code system (GATE_RULE_SYSTEM, LAWFUL_BASIS_SYSTEM), so
 * repeating the system in every record only added bytes to every audited
 * read. Records written before 2026-11-21 carry them as valueCoding; readers
 * accept both (src/ig/event-parts.ts), and the stored text, hence every
 * hash, is never rewritten.
 */
export function gateDecisionExtensionJson(input: GateExtensionInput): string {
  const d = input.decision;
  let parts = `{"url":"outcome","valueCode":${q(input.outcome)}}`;
  for (const [rule, effect] of d?.rules ?? []) {
    parts += `,{"extension":[{"url":"code","valueCode":${q(rule)}},{"url":"effect","valueCode":${q(effect)}}],"url":"rule"}`;
  }
  for (const code of d?.lawfulBasis ?? []) parts += `,{"url":"lawfulBasis","valueCode":${q(code)}}`;
  const agreement = d?.agreement;
  if (agreement) {
    parts += `,{"extension":[{"url":"id","valueString":${q(agreement.id)}},{"url":"version","valueInteger":${int(agreement.version)}}],"url":"agreement"}`;
  }
  if (d?.consent) parts += `,{"url":"consent","valueReference":{"reference":${q(d.consent)}}}`;
  for (const o of d?.obligations ?? []) parts += `,{"url":"obligation","valueCode":${q(o)}}`;
  if (input.override) parts += `,{"url":"override","valueCode":${q(input.override)}}`;
  if (input.justification) parts += `,{"url":"justification","valueString":${q(input.justification)}}`;
  if (d?.explanation) parts += `,{"url":"explanation","valueString":${q(d.explanation)}}`;
  return `{"extension":[${parts}],"url":${GATE_DECISION_URL_JSON}}`;
}

/** The same extension as an object, for events built as objects (security-event.ts). */
export function gateDecisionExtension(input: GateExtensionInput): Extension {
  return JSON.parse(gateDecisionExtensionJson(input)) as Extension;
}

const GATE_DECISION_URL_JSON = JSON.stringify(GATE_DECISION_URL);
