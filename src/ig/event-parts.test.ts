import type { AuditEvent } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { decisionFacts } from '../audit/exchange-facts.ts';
import { gateDecisionExtension } from '../audit/gate-extension.ts';
import { GATE_DECISION_URL } from '../audit/balp-codes.ts';
import { gateParts } from './event-parts.ts';

const event = (extension: AuditEvent['extension']): AuditEvent =>
  ({ resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2026-11-21T10:00:00Z', agent: [], source: { observer: {} }, extension }) as AuditEvent;

describe('gateParts', () => {
  it('reads the rules and lawful basis of records as written now (valueCode)', () => {
    const ext = gateDecisionExtension({
      outcome: 'permit',
      decision: decisionFacts({
        outcome: 'permit',
        rules: [
          { rule: 'R3-implied-consent-direct-care', effect: 'permit', reason: '', sources: [] },
          { rule: 'R2-relationship', effect: 'permit', reason: '', sources: [] },
        ],
        lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' },
        reliedOn: { agreement: { id: 'isa-north', version: 2 } },
        obligations: [],
        explanation: 'Permitted.',
      }),
    });
    expect(gateParts(event([ext]))).toMatchObject({ rules: ['R3-implied-consent-direct-care', 'R2-relationship'], lawfulBasis: ['art6-1-e', 'art9-2-h'], agreement: 'isa-north v2', explanation: 'Permitted.' });
  });

  it('reads records written before 2026-11-21, which carried them as valueCoding', () => {
    const old = {
      url: GATE_DECISION_URL,
      extension: [
        { url: 'outcome', valueCode: 'permit' },
        { url: 'rule', extension: [{ url: 'code', valueCoding: { code: 'R3-implied-consent-direct-care', system: 'https://joinedup.org.uk/fhir/CodeSystem/gate-rule' } }, { url: 'effect', valueCode: 'permit' }] },
        { url: 'lawfulBasis', valueCoding: { code: 'art6-1-e', system: 'https://joinedup.org.uk/fhir/CodeSystem/lawful-basis' } },
      ],
    };
    expect(gateParts(event([old]))).toMatchObject({ rules: ['R3-implied-consent-direct-care'], lawfulBasis: ['art6-1-e'] });
  });
});
