import type { AuditEvent } from '@medplum/fhirtypes';
import { APPLICATION_AGENT, CLIENT_ID_SYSTEM, DCM, GATEWAY_OBSERVER, SOURCE_APP_SERVER, X_REQUEST_ID } from './balp-codes.ts';
import { gateDecisionExtension } from './gate-extension.ts';
import type { AuditRecordInput } from './types.ts';

export interface TokenFailureInput {
  recorded: Date;
  /** The client_id the request claimed, if any: unverified, so only kept when it is shaped like one. */
  clientId?: string;
  /** The RFC 6749 error code answered (invalid_client, invalid_grant, invalid_scope, ...). */
  error: string;
  /** The request's id (X-Request-Id), so the event can be found beside the gateway's log line for it. */
  requestId?: string;
}

const CLIENT_ID_SHAPE = /^[A-Za-z0-9._-]{3,100}$/;
const ERROR_SHAPE = /^[a-z_]{1,40}$/;

/**
 * A failed token request as a security event (BALP's authentication
 * failure: DICOM "User Authentication" / "Login", outcome 4). It holds no
 * personal data: the claimed client_id (only if it looks like one; an
 * attacker controls it) and the OAuth error code. Not the assertion, not
 * the requested scopes or hl7-b2b claims, not an IP address.
 */
export function buildTokenFailureRecord(input: TokenFailureInput): AuditRecordInput {
  const clientId = input.clientId !== undefined && CLIENT_ID_SHAPE.test(input.clientId) ? input.clientId : undefined;
  const error = ERROR_SHAPE.test(input.error) ? input.error : 'invalid_request';
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { system: DCM, code: '110114', display: 'User Authentication' },
    subtype: [{ system: DCM, code: '110122', display: 'Login' }],
    action: 'E',
    recorded: input.recorded.toISOString(),
    outcome: '4',
    outcomeDesc: `token request refused: ${error}`,
    agent: [
      {
        type: { coding: [APPLICATION_AGENT] },
        who: clientId ? { identifier: { system: CLIENT_ID_SYSTEM, value: clientId } } : { display: 'unidentified client' },
        requestor: true,
      },
    ],
    source: { observer: GATEWAY_OBSERVER, type: [SOURCE_APP_SERVER] },
    ...(input.requestId ? { entity: [{ type: X_REQUEST_ID, what: { identifier: { value: input.requestId } } }] } : {}),
    extension: [gateDecisionExtension({ outcome: 'deny' })],
  };
  return { recorded: input.recorded, clientId, outcome: 'deny', action: 'E', subtype: 'token', event };
}
