import type { Extension } from '@medplum/fhirtypes';
import type { Decision, LawfulBasis } from '../gate/types.ts';
import { GATE_DECISION_URL } from './balp-codes.ts';
import type { AuditOutcome, AuditOverride } from './types.ts';

export interface GateExtensionInput {
  outcome: AuditOutcome;
  decision?: Decision;
  override?: AuditOverride;
  /** Break-glass or safeguarding justification as the user declared it: shown to IG only. */
  justification?: string;
}

/**
 * The gate's decision as one complex extension (BALP leaves decisions to
 * the implementer): outcome, every rule that fired (the deciding one first),
 * each part of the lawful basis, the agreement and consent relied on, the
 * override and its justification, and the plain-English explanation (which
 * the gate guarantees holds no personal data). Keys in sorted order, as
 * the event around it (balp.ts).
 *
 * Rule and lawful-basis codes are valueCode: the extension's definition
 * binds each to one code system (GATE_RULE_SYSTEM, LAWFUL_BASIS_SYSTEM), so
 * repeating the system in every record only added bytes to every audited
 * read. Records written before 2026-11-21 carry them as valueCoding; readers
 * accept both (src/ig/event-parts.ts), and the stored text, hence every
 * hash, is never rewritten.
 */
export function gateDecisionExtension(input: GateExtensionInput): Extension {
  const parts: Extension[] = [{ url: 'outcome', valueCode: input.outcome }];
  const d = input.decision;
  for (const r of d?.rules ?? []) {
    parts.push({
      extension: [
        { url: 'code', valueCode: r.rule },
        { url: 'effect', valueCode: r.effect },
      ],
      url: 'rule',
    });
  }
  for (const code of lawfulBasisCodes(d?.lawfulBasis)) {
    parts.push({ url: 'lawfulBasis', valueCode: code });
  }
  const agreement = d?.reliedOn.agreement;
  if (agreement) {
    parts.push({
      extension: [
        { url: 'id', valueString: agreement.id },
        { url: 'version', valueInteger: agreement.version },
      ],
      url: 'agreement',
    });
  }
  if (d?.reliedOn.consent) parts.push({ url: 'consent', valueReference: { reference: d.reliedOn.consent } });
  for (const o of d?.obligations ?? []) parts.push({ url: 'obligation', valueCode: o });
  if (input.override) parts.push({ url: 'override', valueCode: input.override });
  if (input.justification) parts.push({ url: 'justification', valueString: input.justification });
  if (d?.explanation) parts.push({ url: 'explanation', valueString: d.explanation });
  return { extension: parts, url: GATE_DECISION_URL };
}

/** Every part of a lawful basis, Art 6 first. */
export function lawfulBasisCodes(b: LawfulBasis | undefined): string[] {
  if (!b) return [];
  return [b.art6, b.art9, b.dpaSchedule1, b.commonLaw, b.statutoryGateway].filter((c): c is NonNullable<typeof c> => c !== undefined);
}
