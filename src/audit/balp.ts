import { ACTION_OF } from './balp-codes.ts';
import { withStoredText } from './event-text.ts';
import { exchangeFacts, exchangeFactsText } from './exchange-facts.ts';
import type { ExchangeAuditInput } from './exchange-facts.ts';
import type { AuditRecordInput } from './types.ts';

export type { ExchangeAuditInput } from './exchange-facts.ts';

/**
 * The audit record of one exchange: the searchable columns, and as content
 * the exchange's facts (exchange-facts.ts), from which its IHE BALP
 * AuditEvent is rendered (balp-render.ts) wherever one is shown: the
 * record's `event`, the IG API, the CSV, the access report. The facts carry
 * identifiers of systems, organisations and users, and references to
 * resources: never a name, an NHS number, an address or any resource content
 * (the actor's user name is deliberately left out, and the query is
 * redacted).
 */
export function buildExchangeAuditRecord(input: ExchangeAuditInput): AuditRecordInput {
  const facts = exchangeFacts(input);
  const a = input.actor;
  return withStoredText(
    {
      recorded: input.recorded,
      patientId: input.patientId,
      clientId: a?.clientId,
      orgOds: a?.organisation.ods,
      userId: a?.user.id,
      purpose: a?.purposeOfUse,
      outcome: input.outcome,
      action: ACTION_OF[input.interaction],
      subtype: input.interaction,
      lawfulBasis: input.decision?.lawfulBasis?.art6,
      override: facts.override,
      reviewState: facts.override ? 'pending' : undefined,
    },
    exchangeFactsText(facts)
  );
}
