import { PURPOSES } from '../auth/purposes.ts';
import type { Decision } from '../gate/types.ts';
import type { Actor } from '../request-context.ts';
import {
  ACTION_OF,
  APPLICATION_AGENT,
  balpProfile,
  CLIENT_ID_SYSTEM,
  ENTITY_PERSON,
  ENTITY_SYSTEM_OBJECT,
  GATEWAY_OBSERVER,
  ODS_SYSTEM,
  PARTICIPATION_TYPE,
  REST_TYPE,
  RESTFUL_INTERACTION,
  ROLE_DOMAIN_RESOURCE,
  ROLE_PATIENT,
  ROLE_QUERY,
  SDS_JOB_ROLE_SYSTEM,
  SOURCE_APP_SERVER,
  USER_ID_SYSTEM,
  X_REQUEST_ID,
} from './balp-codes.ts';
import type { RestInteraction } from './balp-codes.ts';
import { canonicalJson, jsonString as q } from './canonical.ts';
import { withCanonicalEvent } from './event-text.ts';
import { gateDecisionExtensionJson } from './gate-extension.ts';
import { redactQuery } from './query-redaction.ts';
import type { AuditOutcome, AuditOverride, AuditRecordInput } from './types.ts';

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
}

/** BALP outcome: 0 success (also when some results were withheld), 4 minor failure (denied), 8 serious failure (error). */
const OUTCOME_CODE: Record<AuditOutcome, '0' | '4' | '8'> = { permit: '0', 'permit-withheld': '0', deny: '4', error: '8' };

/**
 * Builds the IHE BALP AuditEvent for one exchange and the searchable columns
 * stored beside it. The event carries identifiers of systems, organisations
 * and users, and references to resources: never a name, an NHS number, an
 * address or any resource content (the actor's user name is deliberately
 * left out, and the query is redacted).
 *
 * Every audited exchange pays for this, so the event is written directly as
 * canonical JSON text (keys sorted at every depth, no whitespace;
 * canonical.ts) from fixed pieces and JSON strings: no object is built,
 * checked for key order or stringified (docs/performance.md, audited reads,
 * sixth pass). The record's `event` parses that text when something asks
 * for the object (tests, tools); the writer stores the text as is
 * (storedEventText).
 * test/audit/balp.test.ts checks every shape against the canonical writer
 * and the FHIR validator.
 */
export function buildExchangeAuditRecord(input: ExchangeAuditInput): AuditRecordInput {
  const action = ACTION_OF[input.interaction];
  const override = input.override ?? overrideOf(input.decision, input.outcome);
  const a = input.actor;
  const desc = outcomeDescription(input);
  const extension = gateDecisionExtensionJson({ decision: input.decision, justification: override ? a?.justification : undefined, outcome: input.outcome, override });
  let text =
    `{"action":${q(action)},"agent":${agents(a, action)},"entity":${entities(input)},"extension":[${extension}]` +
    `,"meta":{"profile":[${q(balpProfile(action, input.patientId !== undefined))}]},"outcome":${q(OUTCOME_CODE[input.outcome])}`;
  if (desc !== undefined) text += `,"outcomeDesc":${q(desc)}`;
  if (a) text += `,"purposeOfEvent":[{"coding":[{"code":${q(a.purposeOfUse)},"system":${q(PURPOSES[a.purposeOfUse].system)}}]}]`;
  text +=
    `,"recorded":${q(input.recorded.toISOString())},"resourceType":"AuditEvent","source":${SOURCE}` +
    `,"subtype":[{"code":${q(input.interaction)},"system":${RESTFUL_INTERACTION_JSON}}],"type":${REST_TYPE_JSON}}`;
  return withCanonicalEvent(
    {
      recorded: input.recorded,
      patientId: input.patientId,
      clientId: a?.clientId,
      orgOds: a?.organisation.ods,
      userId: a?.user.id,
      purpose: a?.purposeOfUse,
      outcome: input.outcome,
      action,
      subtype: input.interaction,
      lawfulBasis: input.decision?.lawfulBasis?.art6,
      override,
      reviewState: override ? 'pending' : undefined,
    },
    text
  );
}

/** An override is what the deciding rule permitted on: break-glass (R9) or a safeguarding purpose (R5). */
function overrideOf(d: Decision | undefined, outcome: AuditOutcome): AuditOverride | undefined {
  if (!d || outcome === 'deny' || d.outcome !== 'permit') return undefined;
  const deciding = d.rules[0]?.rule;
  if (deciding === 'R9-break-glass') return 'break-glass';
  if (deciding === 'R5-safeguarding') return 'safeguarding';
  return undefined;
}

function outcomeDescription(input: ExchangeAuditInput): string | undefined {
  if (input.outcome === 'error') return 'The request failed; nothing was returned or stored.';
  if (input.outcome === 'permit-withheld') return 'Permitted; some results were withheld by the gate.';
  return input.outcome === 'deny' ? (input.decision?.explanation ?? 'Refused by the gate.') : undefined;
}

// The fixed pieces, written once by the canonical writer from the codes in balp-codes.ts.
const APPLICATION_TYPE = canonicalJson({ coding: [APPLICATION_AGENT] });
const SOURCE = canonicalJson({ observer: GATEWAY_OBSERVER, type: [SOURCE_APP_SERVER] });
const REST_TYPE_JSON = canonicalJson(REST_TYPE);
const RESTFUL_INTERACTION_JSON = q(RESTFUL_INTERACTION);
const UNAUTHENTICATED_AGENTS = canonicalJson([{ requestor: true, type: { coding: [APPLICATION_AGENT] }, who: { display: 'unauthenticated (open-development mode)' } }]);
const PERSON_ENTITY = `"role":${canonicalJson(ROLE_PATIENT)},"type":${canonicalJson(ENTITY_PERSON)}`;
const RESOURCE_ENTITY = `"role":${canonicalJson(ROLE_DOMAIN_RESOURCE)},"type":${canonicalJson(ENTITY_SYSTEM_OBJECT)}`;
const QUERY_ENTITY = `"role":${canonicalJson(ROLE_QUERY)},"type":${canonicalJson(ENTITY_SYSTEM_OBJECT)}`;
const REQUEST_ID_TYPE = canonicalJson(X_REQUEST_ID);
const CLIENT_ID = q(CLIENT_ID_SYSTEM);
const USER_ID = q(USER_ID_SYSTEM);
const ODS = q(ODS_SYSTEM);
const SDS_ROLE = q(SDS_JOB_ROLE_SYSTEM);
const PARTICIPATION = q(PARTICIPATION_TYPE);

function agents(a: Actor | undefined, action: string): string {
  // open-development mode: no verified caller to name.
  if (!a) return UNAUTHENTICATED_AGENTS;
  // IRCP information recipient, AUT author (originator).
  const userType = action === 'R' || action === 'E' ? 'IRCP' : 'AUT';
  return (
    `[{"requestor":false,"type":${APPLICATION_TYPE},"who":{"identifier":{"system":${CLIENT_ID},"value":${q(a.clientId)}}}}` +
    // BALP ties the event to the OAuth token that carried it through agent.policy.
    `,{"policy":[${q(a.tokenId)}],"requestor":true,"role":[{"coding":[{"code":${q(a.user.role)},"system":${SDS_ROLE}}]}]` +
    `,"type":{"coding":[{"code":"${userType}","system":${PARTICIPATION}}]},"who":{"identifier":{"system":${USER_ID},"value":${q(a.user.id)}}}}` +
    `,{"requestor":false,"type":{"coding":[{"code":"PRF","system":${PARTICIPATION}}],"text":"requesting organisation"}` +
    `,"who":{"identifier":{"system":${ODS},"value":${q(a.organisation.ods)}}}}]`
  );
}

function entities(input: ExchangeAuditInput): string {
  let out = `[{"type":${REQUEST_ID_TYPE},"what":{"identifier":{"value":${q(input.requestId)}}}}`;
  if (input.patientId) out += `,{${PERSON_ENTITY},"what":{"reference":${q(`Patient/${input.patientId}`)}}}`;
  for (const ref of input.resources ?? []) out += `,{${RESOURCE_ENTITY},"what":{"reference":${q(ref)}}}`;
  if (input.query !== undefined || input.operation) {
    const redacted = redactQuery(input.query ?? '');
    const text = input.operation ? `${input.operation}${redacted ? `?${redacted}` : ''}` : redacted;
    out += `,{"query":${q(Buffer.from(text, 'utf8').toString('base64'))},${QUERY_ENTITY}}`;
  }
  return `${out}]`;
}
