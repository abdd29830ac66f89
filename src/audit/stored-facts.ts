import { z } from 'zod';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import { REST_INTERACTIONS } from './balp-codes.ts';
import { EXCHANGE_FACTS_FORM } from './exchange-facts.ts';
import type { ExchangeFacts } from './exchange-facts.ts';

/*
 * Stored facts read back from audit_event.content. The gateway wrote them,
 * but a row can be altered by anyone with the database's owner role (the
 * append-only trigger can be dropped), and the hash only tells `audit verify`
 * that it was. Everything that shows an exchange's record renders it from
 * these facts (balp-render.ts), so they are checked here first: a damaged row
 * is then reported as damaged, naming the field, instead of failing somewhere
 * in the renderer or, worse, rendering as an event nobody recorded.
 * Strict at every level: an extra key is as much an alteration as a missing one.
 */

const text = z.string();
const Actor = z.strictObject({ client: text, ods: text, purpose: z.enum(PURPOSE_CODES), role: text, token: text, user: text });
const Decision = z.strictObject({
  agreement: z.strictObject({ id: text, version: z.number().int() }).optional(),
  consent: text.optional(),
  explanation: text.optional(),
  lawfulBasis: z.array(text),
  obligations: z.array(text),
  outcome: z.enum(['permit', 'deny']),
  rules: z.array(z.tuple([text, text])),
});

export const StoredExchangeFacts = z.strictObject({
  actor: Actor.optional(),
  decision: Decision.optional(),
  form: z.literal(EXCHANGE_FACTS_FORM),
  interaction: z.enum(REST_INTERACTIONS),
  justification: text.optional(),
  operation: text.optional(),
  outcome: z.enum(['permit', 'deny', 'permit-withheld', 'error']),
  override: z.enum(['break-glass', 'safeguarding']).optional(),
  patient: text.optional(),
  query: text.optional(),
  recorded: text,
  refusedBy: z.literal('token').optional(),
  request: text,
  resources: z.array(text),
}) satisfies z.ZodType<ExchangeFacts>;

/** The facts, or what is wrong with them, by field name only (values may be personal, and so may a stray key). */
export function readStoredFacts(value: unknown): { facts: ExchangeFacts } | { problem: string } {
  const r = StoredExchangeFacts.safeParse(value);
  if (r.success) return { facts: r.data as ExchangeFacts };
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.map(String).join('.') : 'the facts';
  return { problem: issue?.code === 'unrecognized_keys' ? `${where} has a field the gateway never writes` : `${where} is missing or not as the gateway writes it` };
}
