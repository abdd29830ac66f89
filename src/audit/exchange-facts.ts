import type { PurposeOfUse } from '../auth/purposes.ts';
import type { Decision, LawfulBasis } from '../gate/types.ts';
import type { Actor } from '../request-context.ts';
import type { RestInteraction } from './balp-codes.ts';
import { jsonInteger as int, jsonString as q } from './canonical.ts';
import { redactQuery } from './query-redaction.ts';
import type { AuditOutcome, AuditOverride } from './types.ts';

/** One exchange, as the HTTP layer knows it after the gate has decided. */
export interface ExchangeAuditInput {
  recorded: Date;
  requestId: string;
  /** The verified actor; absent only in open-development mode. */
  actor?: Actor;
  interaction: RestInteraction;
  /** The patient the exchange is about (our Patient id), if any. */
  patientId?: string;
  /** References of the resources read or written ("Type/id" or "Type/id/_history/n"); references only, never content. */
  resources?: readonly string[];
  /** The search or operation query string as received; values that could identify someone are redacted. */
  query?: string;
  /** e.g. "$everything" for an operation. */
  operation?: string;
  outcome: AuditOutcome;
  decision?: Decision;
  /** Set when an override was relied on; otherwise derived from the deciding rule. */
  override?: AuditOverride;
  /** A deny the gate had no part in: the access token did not allow the request (its scopes, or its organisation's kind). */
  refusedBy?: 'token';
}

/** The form marker of ExchangeFacts, version 1: a renderer must keep rendering every form it ever wrote. */
export const EXCHANGE_FACTS_FORM = 'exchange-1';

/**
 * What an exchange's audit record stores: the facts its IHE BALP AuditEvent
 * is rendered from (balp-render.ts), and nothing of the event's fixed
 * structure (code systems, agent types, profile URLs), which is the same in
 * every record. A read's BALP event is ~3.5 kB of canonical JSON; these facts
 * are a fifth of that, so every audited exchange builds, sends, hashes and
 * stores a fifth of the bytes, and the row stays under PostgreSQL's TOAST
 * threshold without compression (docs/performance.md, audited reads, seventh
 * pass; ADR 0010).
 *
 * The record's hash covers this text, so the facts are what is
 * tamper-evident; the rendered event is a pure function of them. Identifiers
 * and codes only, as in the event: never a name, an NHS number or content
 * (the actor's user name is left out and the query is stored redacted).
 *
 * Keys are listed here in canonical (sorted) order, as exchangeFactsText
 * writes them.
 */
export interface ExchangeFacts {
  /** Absent in open-development mode only. */
  actor?: {
    client: string;
    ods: string;
    purpose: PurposeOfUse;
    /** SDS job role code. */
    role: string;
    /** The access token's jti (BALP agent.policy). */
    token: string;
    user: string;
  };
  decision?: DecisionFacts;
  form: typeof EXCHANGE_FACTS_FORM;
  interaction: RestInteraction;
  /** The override's justification as declared; only when an override was relied on. */
  justification?: string;
  operation?: string;
  outcome: AuditOutcome;
  override?: AuditOverride;
  patient?: string;
  /** The query string, already redacted (query-redaction.ts). */
  query?: string;
  recorded: string;
  /** Only on a deny the gate had no part in (since 2026-11-22; older denies without a decision were all refusals before the gate too, rendered as such). */
  refusedBy?: 'token';
  request: string;
  resources: string[];
}

/** The gate's decision as stored: what its AuditEvent extension shows (gate-extension.ts), nothing of the rules' reasons or sources. */
export interface DecisionFacts {
  agreement?: { id: string; version: number };
  consent?: string;
  explanation?: string;
  /** Every part of the lawful basis, Art 6 first (lawfulBasisCodes). */
  lawfulBasis: string[];
  obligations: string[];
  outcome: 'permit' | 'deny';
  /** [rule code, effect], the deciding rule first. */
  rules: [string, string][];
}

/** The facts of one exchange: the override derived from the deciding rule, the query redacted. */
export function exchangeFacts(input: ExchangeAuditInput): ExchangeFacts {
  const a = input.actor;
  const d = input.decision;
  const override = input.override ?? overrideOf(d, input.outcome);
  const facts: ExchangeFacts = {
    ...(a
      ? { actor: { client: a.clientId, ods: a.organisation.ods, purpose: a.purposeOfUse, role: a.user.role, token: a.tokenId, user: a.user.id } }
      : {}),
    ...(d ? { decision: decisionFacts(d) } : {}),
    form: EXCHANGE_FACTS_FORM,
    interaction: input.interaction,
    ...(override && a?.justification ? { justification: a.justification } : {}),
    ...(input.operation ? { operation: input.operation } : {}),
    outcome: input.outcome,
    ...(override ? { override } : {}),
    // As given, even empty: the event's profile asks whether there is one, its entity whether it is non-empty (balp-render.ts).
    ...(input.patientId !== undefined ? { patient: input.patientId } : {}),
    ...(input.query !== undefined ? { query: redactQuery(input.query) } : {}),
    recorded: input.recorded.toISOString(),
    ...(input.refusedBy && input.outcome === 'deny' && !d ? { refusedBy: input.refusedBy } : {}),
    request: input.requestId,
    resources: [...(input.resources ?? [])],
  };
  return facts;
}

export function decisionFacts(d: Decision): DecisionFacts {
  return {
    ...(d.reliedOn.agreement ? { agreement: { id: d.reliedOn.agreement.id, version: d.reliedOn.agreement.version } } : {}),
    ...(d.reliedOn.consent ? { consent: d.reliedOn.consent } : {}),
    // Kept even when empty: a refusal's outcomeDesc is its explanation as given (balp-render.ts).
    ...(d.explanation !== undefined ? { explanation: d.explanation } : {}),
    lawfulBasis: lawfulBasisCodes(d.lawfulBasis),
    obligations: [...d.obligations],
    outcome: d.outcome,
    rules: d.rules.map((r): [string, string] => [r.rule, r.effect]),
  };
}

/** Every part of a lawful basis, Art 6 first. */
export function lawfulBasisCodes(b: LawfulBasis | undefined): string[] {
  if (!b) return [];
  return [b.art6, b.art9, b.dpaSchedule1, b.commonLaw, b.statutoryGateway].filter((c): c is NonNullable<typeof c> => c !== undefined);
}

/** An override is what the deciding rule permitted on: break-glass (R9) or a safeguarding purpose (R5). */
function overrideOf(d: Decision | undefined, outcome: AuditOutcome): AuditOverride | undefined {
  if (!d || outcome === 'deny' || d.outcome !== 'permit') return undefined;
  const deciding = d.rules[0]?.rule;
  if (deciding === 'R9-break-glass') return 'break-glass';
  if (deciding === 'R5-safeguarding') return 'safeguarding';
  return undefined;
}

/**
 * The facts as canonical JSON (keys sorted at every depth, no whitespace;
 * canonical.ts), written directly as text: every audited exchange pays for
 * this. test/audit/balp.test.ts checks it against the canonical writer for
 * arbitrary inputs (fast-check).
 */
export function exchangeFactsText(f: ExchangeFacts): string {
  let t = '{';
  const a = f.actor;
  if (a) {
    t += `"actor":{"client":${q(a.client)},"ods":${q(a.ods)},"purpose":${q(a.purpose)},"role":${q(a.role)},"token":${q(a.token)},"user":${q(a.user)}},`;
  }
  const d = f.decision;
  if (d) {
    t += '"decision":{';
    if (d.agreement) t += `"agreement":{"id":${q(d.agreement.id)},"version":${int(d.agreement.version)}},`;
    if (d.consent !== undefined) t += `"consent":${q(d.consent)},`;
    if (d.explanation !== undefined) t += `"explanation":${q(d.explanation)},`;
    t += `"lawfulBasis":${strings(d.lawfulBasis)},"obligations":${strings(d.obligations)},"outcome":${q(d.outcome)},"rules":[`;
    t += d.rules.map(([rule, effect]) => `[${q(rule)},${q(effect)}]`).join(',');
    t += ']},';
  }
  t += `"form":${q(f.form)},"interaction":${q(f.interaction)},`;
  if (f.justification !== undefined) t += `"justification":${q(f.justification)},`;
  if (f.operation !== undefined) t += `"operation":${q(f.operation)},`;
  t += `"outcome":${q(f.outcome)},`;
  if (f.override !== undefined) t += `"override":${q(f.override)},`;
  if (f.patient !== undefined) t += `"patient":${q(f.patient)},`;
  if (f.query !== undefined) t += `"query":${q(f.query)},`;
  t += `"recorded":${q(f.recorded)},`;
  if (f.refusedBy !== undefined) t += `"refusedBy":${q(f.refusedBy)},`;
  return `${t}"request":${q(f.request)},"resources":${strings(f.resources)}}`;
}

function strings(list: readonly string[]): string {
  let t = '[';
  for (let i = 0; i < list.length; i++) t += (i ? ',' : '') + q(list[i]!);
  return `${t}]`;
}

/** True for parsed stored content in this form (stored-event.ts tells it from a stored AuditEvent). */
export function isExchangeFacts(value: unknown): value is ExchangeFacts {
  return typeof value === 'object' && value !== null && (value as { form?: unknown }).form === EXCHANGE_FACTS_FORM;
}
