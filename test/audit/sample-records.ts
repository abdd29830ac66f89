import type { Actor } from '../../src/request-context.ts';
import { buildExchangeAuditRecord } from '../../src/audit/balp.ts';
import type { ExchangeAuditInput } from '../../src/audit/balp.ts';
import type { AuditRecordInput } from '../../src/audit/types.ts';
import type { Decision } from '../../src/gate/types.ts';

/** A verified actor as the auth layer would build it (synthetic). */
export function sampleActor(overrides: Partial<Actor> = {}): Actor {
  return {
    clientId: 'gp-system-a',
    organisation: { ods: 'A81001', name: 'Synthetic Surgery', kind: 'gp-practice' },
    user: { id: 'user-555', name: 'Dr Zebedee Quartermaine', role: 'R8000' },
    purposeOfUse: 'TREAT',
    scopes: [],
    tokenId: 'jti-123',
    ...overrides,
  };
}

export const PERMIT: Decision = {
  outcome: 'permit',
  rules: [{ rule: 'R3-implied-consent-direct-care', effect: 'permit', reason: 'direct care', sources: [] }],
  lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' },
  reliedOn: { agreement: { id: 'isa-north', version: 2 } },
  obligations: [],
  explanation: 'Permitted for direct care under the North ISA.',
};

/** An exchange's audit record; i varies the patient and time so rows differ. */
export function sampleRecord(i = 0, input: Partial<ExchangeAuditInput> = {}): AuditRecordInput {
  return buildExchangeAuditRecord({
    recorded: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    requestId: `req-${i}`,
    actor: sampleActor(),
    interaction: 'read',
    patientId: `pat-${i % 97}`,
    resources: [`CarePlan/cp-${i}`],
    outcome: 'permit',
    decision: PERMIT,
    ...input,
  });
}
