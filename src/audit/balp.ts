import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';
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
import { gateDecisionExtension } from './gate-extension.ts';
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
 */
export function buildExchangeAuditRecord(input: ExchangeAuditInput): AuditRecordInput {
  const action = ACTION_OF[input.interaction];
  const override = input.override ?? overrideOf(input.decision, input.outcome);
  const a = input.actor;
  // Keys in sorted order at every depth, so canonicalJson only checks the
  // event instead of copying it (canonical.ts; test/audit/balp.test.ts).
  const event: AuditEvent = {
    action,
    agent: agents(a, action),
    entity: entities(input),
    extension: [gateDecisionExtension({ decision: input.decision, justification: override ? a?.justification : undefined, outcome: input.outcome, override })],
    meta: { profile: [balpProfile(action, input.patientId !== undefined)] },
    outcome: OUTCOME_CODE[input.outcome],
    outcomeDesc: outcomeDescription(input),
    purposeOfEvent: a ? [{ coding: [{ code: a.purposeOfUse, system: PURPOSES[a.purposeOfUse].system }] }] : undefined,
    recorded: input.recorded.toISOString(),
    resourceType: 'AuditEvent',
    source: { observer: GATEWAY_OBSERVER, type: [SOURCE_APP_SERVER] },
    subtype: [{ code: input.interaction, system: RESTFUL_INTERACTION }],
    type: REST_TYPE,
  };
  return {
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
    event,
  };
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

function agents(a: Actor | undefined, action: string): AuditEventAgent[] {
  if (!a) {
    // open-development mode: no verified caller to name.
    return [{ requestor: true, type: { coding: [APPLICATION_AGENT] }, who: { display: 'unauthenticated (open-development mode)' } }];
  }
  // IRCP information recipient, AUT author (originator).
  const userType = action === 'R' || action === 'E' ? 'IRCP' : 'AUT';
  return [
    { requestor: false, type: { coding: [APPLICATION_AGENT] }, who: { identifier: { system: CLIENT_ID_SYSTEM, value: a.clientId } } },
    {
      // BALP ties the event to the OAuth token that carried it through agent.policy.
      policy: [a.tokenId],
      requestor: true,
      role: [{ coding: [{ code: a.user.role, system: SDS_JOB_ROLE_SYSTEM }] }],
      type: { coding: [{ code: userType, system: PARTICIPATION_TYPE }] },
      who: { identifier: { system: USER_ID_SYSTEM, value: a.user.id } },
    },
    {
      requestor: false,
      type: { coding: [{ code: 'PRF', system: PARTICIPATION_TYPE }], text: 'requesting organisation' },
      who: { identifier: { system: ODS_SYSTEM, value: a.organisation.ods } },
    },
  ];
}

function entities(input: ExchangeAuditInput): AuditEventEntity[] {
  const out: AuditEventEntity[] = [{ type: X_REQUEST_ID, what: { identifier: { value: input.requestId } } }];
  if (input.patientId) {
    out.push({ role: ROLE_PATIENT, type: ENTITY_PERSON, what: { reference: `Patient/${input.patientId}` } });
  }
  for (const ref of input.resources ?? []) {
    out.push({ role: ROLE_DOMAIN_RESOURCE, type: ENTITY_SYSTEM_OBJECT, what: { reference: ref } });
  }
  if (input.query !== undefined || input.operation) {
    const q = redactQuery(input.query ?? '');
    const text = input.operation ? `${input.operation}${q ? `?${q}` : ''}` : q;
    out.push({ query: Buffer.from(text, 'utf8').toString('base64'), role: ROLE_QUERY, type: ENTITY_SYSTEM_OBJECT });
  }
  return out;
}
