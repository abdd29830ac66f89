import { PURPOSES } from '../auth/purposes.ts';
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
import { canonicalJson, jsonString as q } from './canonical.ts';
import type { ExchangeFacts } from './exchange-facts.ts';
import { gateDecisionExtensionJson } from './gate-extension.ts';
import type { AuditOutcome } from './types.ts';

/** BALP outcome: 0 success (also when some results were withheld), 4 minor failure (denied), 8 serious failure (error). */
const OUTCOME_CODE: Record<AuditOutcome, '0' | '4' | '8'> = { permit: '0', 'permit-withheld': '0', deny: '4', error: '8' };

/**
 * The IHE BALP AuditEvent of one exchange, rendered from its stored facts
 * (exchange-facts.ts) as canonical JSON text: type rest, subtype the
 * interaction, action, outcome, agents (client system, user with role,
 * requesting organisation), source, entities (the request id, the patient,
 * the resources touched, the redacted query), purposeOfEvent, and the gate's
 * decision extension. A pure function of the facts, so the event an IG lead
 * sees is fixed by the hashed record: a change here must render every stored
 * form as before (test/audit/balp.test.ts holds the shapes, and checks them
 * against the canonical writer and the FHIR validator).
 */
export function renderExchangeEventText(f: ExchangeFacts): string {
  const action = ACTION_OF[f.interaction];
  const desc = outcomeDescription(f);
  const extension = gateDecisionExtensionJson({ decision: f.decision, justification: f.justification, outcome: f.outcome, override: f.override });
  let text =
    `{"action":${q(action)},"agent":${agents(f, action)},"entity":${entities(f)},"extension":[${extension}]` +
    `,"meta":{"profile":[${q(balpProfile(action, f.patient !== undefined))}]},"outcome":${q(OUTCOME_CODE[f.outcome])}`;
  if (desc !== undefined) text += `,"outcomeDesc":${q(desc)}`;
  if (f.actor) text += `,"purposeOfEvent":[{"coding":[{"code":${q(f.actor.purpose)},"system":${q(PURPOSES[f.actor.purpose].system)}}]}]`;
  return (
    text +
    `,"recorded":${q(f.recorded)},"resourceType":"AuditEvent","source":${SOURCE}` +
    `,"subtype":[{"code":${q(f.interaction)},"system":${RESTFUL_INTERACTION_JSON}}],"type":${REST_TYPE_JSON}}`
  );
}

function outcomeDescription(f: ExchangeFacts): string | undefined {
  if (f.outcome === 'error') return 'The request failed; nothing was returned or stored.';
  if (f.outcome === 'permit-withheld') return 'Permitted; some results were withheld by the gate.';
  if (f.outcome !== 'deny') return undefined;
  // Records stored before refusedBy existed keep the text they were shown with.
  return f.decision?.explanation ?? (f.refusedBy === 'token' ? 'Refused: the access token does not allow this request.' : 'Refused by the gate.');
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

function agents(f: ExchangeFacts, action: string): string {
  const a = f.actor;
  // open-development mode: no verified caller to name.
  if (!a) return UNAUTHENTICATED_AGENTS;
  // IRCP information recipient, AUT author (originator).
  const userType = action === 'R' || action === 'E' ? 'IRCP' : 'AUT';
  return (
    `[{"requestor":false,"type":${APPLICATION_TYPE},"who":{"identifier":{"system":${CLIENT_ID},"value":${q(a.client)}}}}` +
    // BALP ties the event to the OAuth token that carried it through agent.policy.
    `,{"policy":[${q(a.token)}],"requestor":true,"role":[{"coding":[{"code":${q(a.role)},"system":${SDS_ROLE}}]}]` +
    `,"type":{"coding":[{"code":"${userType}","system":${PARTICIPATION}}]},"who":{"identifier":{"system":${USER_ID},"value":${q(a.user)}}}}` +
    `,{"requestor":false,"type":{"coding":[{"code":"PRF","system":${PARTICIPATION}}],"text":"requesting organisation"}` +
    `,"who":{"identifier":{"system":${ODS},"value":${q(a.ods)}}}}]`
  );
}

function entities(f: ExchangeFacts): string {
  let out = `[{"type":${REQUEST_ID_TYPE},"what":{"identifier":{"value":${q(f.request)}}}}`;
  if (f.patient) out += `,{${PERSON_ENTITY},"what":{"reference":${q(`Patient/${f.patient}`)}}}`;
  for (const ref of f.resources) out += `,{${RESOURCE_ENTITY},"what":{"reference":${q(ref)}}}`;
  if (f.query !== undefined || f.operation) {
    // The query is stored redacted (exchange-facts.ts).
    const redacted = f.query ?? '';
    const text = f.operation ? `${f.operation}${redacted ? `?${redacted}` : ''}` : redacted;
    out += `,{"query":${q(Buffer.from(text, 'utf8').toString('base64'))},${QUERY_ENTITY}}`;
  }
  return `${out}]`;
}
