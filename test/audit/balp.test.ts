import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AuditEvent, Extension } from '@medplum/fhirtypes';
import { buildExchangeAuditRecord } from '../../src/audit/balp.ts';
import { renderExchangeEventText } from '../../src/audit/balp-render.ts';
import { storedEventText } from '../../src/audit/event-text.ts';
import { GATE_DECISION_URL } from '../../src/audit/balp-codes.ts';
import { canonicalJson, canonicalJsonByParts } from '../../src/audit/canonical.ts';
import { REST_INTERACTIONS } from '../../src/audit/balp-codes.ts';
import { auditEventOf } from '../../src/audit/stored-event.ts';
import { buildOverrideReviewRecord } from '../../src/audit/review.ts';
import { buildTokenFailureRecord } from '../../src/audit/security-event.ts';
import type { Decision } from '../../src/gate/types.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { PERMIT, sampleActor } from './sample-records.ts';

// Synthetic personal data that may reach the builder's inputs and must never reach its output.
const NAME = 'Zebedee Quartermaine';
const NHS = '9434765919';
const POSTCODE = 'LS1 4AP';
const BIRTH = '1950-02-03';
const PATIENT = '3f1c2a9e-5b7d-4e21-9c3a-0a1b2c3d4e5f';

const decoded = (e: AuditEvent) => e.entity?.filter((x) => x.query).map((x) => Buffer.from(x.query!, 'base64').toString('utf8')) ?? [];
const gate = (e: AuditEvent) => e.extension?.find((x) => x.url === GATE_DECISION_URL)?.extension ?? [];
const parts = (ext: Extension[], url: string) => ext.filter((x) => x.url === url);

describe('BALP AuditEvent for an exchange', () => {
  const search = buildExchangeAuditRecord({
    recorded: new Date('2026-03-01T10:00:00.123Z'),
    requestId: 'req-1',
    actor: sampleActor({ user: { id: 'user-555', name: NAME, role: 'R1330' }, justification: `${NAME} collapsed` }),
    interaction: 'search-type',
    patientId: PATIENT,
    resources: ['CarePlan/cp1', 'Task/t9'],
    query: `identifier=https://fhir.nhs.uk/Id/nhs-number|${NHS}&name=${encodeURIComponent(NAME)}&address-postcode=${encodeURIComponent(POSTCODE)}&birthdate=${BIRTH}&patient.identifier=${NHS}&_has:Observation:patient:code=x&_id=${NHS}&_count=10&status=active&patient=Patient/${PATIENT}`,
    outcome: 'permit',
    decision: PERMIT,
  });

  test('has the BALP shape: rest type, interaction subtype, action, outcome, agents, source, entities, purpose', () => {
    const e = search.event;
    expect(e.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(e.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }]);
    expect(e.action).toBe('E');
    expect(e.outcome).toBe('0');
    expect(e.recorded).toBe('2026-03-01T10:00:00.123Z');
    expect(e.meta?.profile).toEqual(['https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery']);
    expect(e.purposeOfEvent?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' });
    const [client, user, org] = e.agent;
    expect(client).toMatchObject({ type: { coding: [{ code: '110150' }] }, who: { identifier: { value: 'gp-system-a' } } });
    expect(user).toMatchObject({ requestor: true, role: [{ coding: [{ code: 'R1330' }] }], who: { identifier: { value: 'user-555' } }, policy: ['jti-123'] });
    expect(org).toMatchObject({ who: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' } } });
    expect(e.source.observer.display).toBe('JoinedUp gateway');
    const roles = e.entity?.map((x) => `${x.role?.code ?? x.type?.code}:${x.what?.reference ?? ''}`);
    expect(roles).toEqual(['XrequestId:', `1:Patient/${PATIENT}`, '4:CarePlan/cp1', '4:Task/t9', '24:']);
    expect(search).toMatchObject({ action: 'E', subtype: 'search-type', outcome: 'permit', lawfulBasis: 'art6-1-e', purpose: 'TREAT', orgOds: 'A81001' });
  });

  test('carries the gate decision: outcome, rules, every lawful-basis part, agreement', () => {
    const g = gate(search.event);
    expect(parts(g, 'outcome')[0]?.valueCode).toBe('permit');
    // Codes of the gate-rule and lawful-basis CodeSystems, which the extension binds: no system repeated per record.
    expect(parts(g, 'rule')[0]?.extension?.[0]).toEqual({ url: 'code', valueCode: 'R3-implied-consent-direct-care' });
    expect(parts(g, 'lawfulBasis').map((x) => x.valueCode)).toEqual(['art6-1-e', 'art9-2-h', 'implied-consent', 'hsca-2012-s251b']);
    expect(parts(g, 'agreement')[0]?.extension?.map((x) => x.valueString ?? x.valueInteger)).toEqual(['isa-north', 2]);
    expect(parts(g, 'justification')).toEqual([]); // not an override: the declared justification is not kept
  });

  test('holds no name, NHS number, postcode or birth date anywhere, query included', () => {
    const text = canonicalJson(search.event) + decoded(search.event).join('\n') + JSON.stringify(search);
    for (const secret of [NAME, encodeURIComponent(NAME), NHS, POSTCODE, encodeURIComponent(POSTCODE), BIRTH, 'Zebedee']) {
      expect(text).not.toContain(secret);
    }
    expect(decoded(search.event)[0]).toBe(
      'identifier=https://fhir.nhs.uk/Id/nhs-number|[redacted]&name=[redacted]&address-postcode=[redacted]&birthdate=[redacted]' +
        '&patient.identifier=[redacted]&_has%3AObservation%3Apatient%3Acode=[redacted]&_id=[redacted]&_count=10&status=active&patient=Patient/' + PATIENT
    );
  });

  test('a break-glass permit is an override pending review, with the justification for IG', () => {
    const breakGlass: Decision = { ...PERMIT, rules: [{ rule: 'R9-break-glass', effect: 'permit', reason: 'emergency', sources: [] }], obligations: ['flag-for-review'] };
    const r = buildExchangeAuditRecord({
      recorded: new Date(),
      requestId: 'r2',
      actor: sampleActor({ purposeOfUse: 'BTG', justification: 'unconscious in A&E, no consent possible' }),
      interaction: 'read',
      patientId: 'p1',
      resources: ['Patient/p1'],
      outcome: 'permit',
      decision: breakGlass,
    });
    expect(r).toMatchObject({ override: 'break-glass', reviewState: 'pending', action: 'R' });
    const g = gate(r.event);
    expect(parts(g, 'override')[0]?.valueCode).toBe('break-glass');
    expect(parts(g, 'justification')[0]?.valueString).toBe('unconscious in A&E, no consent possible');
    expect(parts(g, 'obligation')[0]?.valueCode).toBe('flag-for-review');
  });

  test('a denial is outcome 4 with the explanation; an error is 8; writes are C/U/D', () => {
    const deny: Decision = { outcome: 'deny', rules: [{ rule: 'R12-default-deny', effect: 'deny', reason: 'no basis', sources: [] }], reliedOn: {}, obligations: [], explanation: 'No lawful basis found.' };
    const base = { recorded: new Date(), requestId: 'r', actor: sampleActor(), patientId: 'p1' };
    const d = buildExchangeAuditRecord({ ...base, interaction: 'read', outcome: 'deny', decision: deny });
    expect(d.event).toMatchObject({ outcome: '4', outcomeDesc: 'No lawful basis found.' });
    expect(d.lawfulBasis).toBeUndefined();
    expect(buildExchangeAuditRecord({ ...base, interaction: 'create', outcome: 'error' }).event).toMatchObject({ outcome: '8', action: 'C' });
    expect(buildExchangeAuditRecord({ ...base, interaction: 'update', outcome: 'permit' }).action).toBe('U');
    expect(buildExchangeAuditRecord({ ...base, interaction: 'delete', outcome: 'permit' }).action).toBe('D');
    const op = buildExchangeAuditRecord({ ...base, interaction: 'operation', operation: '$everything', query: `_count=5&identifier=${NHS}`, outcome: 'permit-withheld' });
    expect(decoded(op.event)).toEqual(['$everything?_count=5&identifier=[redacted]']);
    expect(op.event.outcome).toBe('0');
  });

  test('is a valid FHIR R4 AuditEvent', () => {
    const issues = createValidator().validate(search.event).filter((i) => i.severity === 'error');
    expect(issues).toEqual([]);
  });

  test('is stored as canonical JSON text (its facts), and renders canonical JSON, the same text the canonical writer gives their parsed values', () => {
    const deny: Decision = { outcome: 'deny', rules: [{ rule: 'R12-default-deny', effect: 'deny', reason: 'no basis', sources: [] }], reliedOn: {}, obligations: ['flag-for-review'], explanation: 'No lawful basis found.' };
    const base = { recorded: new Date(), requestId: 'r', patientId: 'p1', resources: ['Patient/p1'] };
    const records = [
      search,
      buildExchangeAuditRecord({ ...base, actor: sampleActor(), interaction: 'read', outcome: 'deny', decision: deny }),
      buildExchangeAuditRecord({ ...base, actor: sampleActor(), interaction: 'create', outcome: 'permit', decision: { ...PERMIT, reliedOn: { ...PERMIT.reliedOn, consent: 'Consent/c1' } } }),
      buildExchangeAuditRecord({ ...base, interaction: 'operation', operation: '$everything', query: '_count=5', outcome: 'error' }),
      buildExchangeAuditRecord({
        ...base,
        actor: sampleActor({ justification: 'collapsed in clinic' }),
        interaction: 'read',
        outcome: 'permit',
        decision: { ...PERMIT, rules: [{ rule: 'R9-break-glass', effect: 'permit', reason: 'emergency', sources: [] }] },
      }),
    ];
    for (const r of records) {
      const text = storedEventText(r);
      expect(text).toBe(canonicalJsonByParts(JSON.parse(text)));
      const rendered = renderExchangeEventText(JSON.parse(text));
      expect(rendered).toBe(canonicalJsonByParts(JSON.parse(rendered)));
      expect(rendered).toBe(canonicalJson(r.event));
    }
    // A copy with its own event is stored from that event, never from the original's text.
    const copy = { ...search, event: { ...search.event, outcomeDesc: 'changed' } };
    expect(storedEventText(copy)).toBe(canonicalJson(copy.event));
    expect(() => {
      (search.event as { outcome: string }).outcome = '8';
    }).toThrow(TypeError);
  });

  test('stays canonical JSON whatever text its inputs hold (quotes, escapes, unicode, control characters)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const input = fc.record(
      {
        requestId: text,
        patientId: fc.option(text, { nil: undefined }),
        resources: fc.array(text, { maxLength: 3 }),
        query: fc.option(text, { nil: undefined }),
        operation: fc.option(fc.constantFrom('$everything', '$match'), { nil: undefined }),
        interaction: fc.constantFrom(...REST_INTERACTIONS),
        outcome: fc.constantFrom('permit', 'deny', 'permit-withheld', 'error' as const),
        actor: fc.option(fc.record({ clientId: text, ods: text, userId: text, role: text, tokenId: text, justification: fc.option(text, { nil: undefined }) }), { nil: undefined }),
        decision: fc.option(
          fc.record({
            outcome: fc.constantFrom('permit', 'deny' as const),
            rule: fc.constantFrom('R9-break-glass', 'R5-safeguarding', 'R3-implied-consent-direct-care' as const),
            consent: fc.option(text, { nil: undefined }),
            agreement: fc.option(fc.record({ id: text, version: fc.nat() }), { nil: undefined }),
            explanation: text,
          }),
          { nil: undefined }
        ),
        ms: fc.integer({ min: 0, max: 4102444800000 }),
        byToken: fc.boolean(),
      },
      { requiredKeys: ['requestId', 'resources', 'interaction', 'outcome', 'ms'] }
    );
    fc.assert(
      fc.property(input, (i) => {
        const record = buildExchangeAuditRecord({
          recorded: new Date(i.ms),
          requestId: i.requestId,
          ...(i.patientId !== undefined ? { patientId: i.patientId } : {}),
          resources: i.resources,
          ...(i.query !== undefined ? { query: i.query } : {}),
          ...(i.operation ? { operation: i.operation } : {}),
          interaction: i.interaction,
          outcome: i.outcome,
          ...(i.byToken ? { refusedBy: 'token' as const } : {}),
          ...(i.actor
            ? {
                actor: sampleActor({
                  clientId: i.actor.clientId,
                  organisation: { ods: i.actor.ods, name: 'x', kind: 'gp-practice' },
                  user: { id: i.actor.userId, role: i.actor.role },
                  tokenId: i.actor.tokenId,
                  ...(i.actor.justification !== undefined ? { justification: i.actor.justification } : {}),
                }),
              }
            : {}),
          ...(i.decision
            ? {
                decision: {
                  outcome: i.decision.outcome,
                  rules: [{ rule: i.decision.rule, effect: i.decision.outcome, reason: '', sources: [] }],
                  lawfulBasis: PERMIT.lawfulBasis,
                  reliedOn: { ...(i.decision.consent !== undefined ? { consent: i.decision.consent } : {}), ...(i.decision.agreement ? { agreement: i.decision.agreement } : {}) },
                  obligations: ['flag-for-review'],
                  explanation: i.decision.explanation,
                },
              }
            : {}),
        });
        const stored = storedEventText(record);
        expect(stored).toBe(canonicalJsonByParts(JSON.parse(stored)));
        const rendered = renderExchangeEventText(JSON.parse(stored));
        expect(rendered).toBe(canonicalJsonByParts(JSON.parse(rendered)));
        // What is stored is what the stored-facts check accepts.
        expect(() => auditEventOf(stored)).not.toThrow();
      }),
      { numRuns: 300 }
    );
  });
});

describe('security event for a failed token request', () => {
  test('client_id and error code only; a malformed client_id is dropped', () => {
    const r = buildTokenFailureRecord({ recorded: new Date('2026-03-01T00:00:00Z'), clientId: 'gp-system-a', error: 'invalid_client' });
    expect(r).toMatchObject({ clientId: 'gp-system-a', outcome: 'deny', action: 'E', subtype: 'token' });
    expect(r.event).toMatchObject({ type: { code: '110114' }, subtype: [{ code: '110122' }], outcome: '4', outcomeDesc: 'token request refused: invalid_client' });
    expect(r.event.entity).toBeUndefined();
    const odd = buildTokenFailureRecord({ recorded: new Date(), clientId: `${NAME} ${NHS}`, error: 'invalid_grant' });
    expect(odd.clientId).toBeUndefined();
    expect(JSON.stringify(odd)).not.toContain(NHS);
  });
});

describe('override review record', () => {
  test('a new record pointing at the override, valid FHIR, reviewer identified by ids only', () => {
    const r = buildOverrideReviewRecord({ recorded: new Date(), reviewedSeq: 42, patientId: 'p1', reviewer: sampleActor({ user: { id: 'ig-1', name: NAME, role: 'R8000' } }), outcome: 'inappropriate', note: 'no emergency recorded' });
    expect(r).toMatchObject({ reviewState: 'reviewed', reviewsSeq: 42, subtype: 'override-review', action: 'U', patientId: 'p1' });
    const g = gate(r.event);
    expect(parts(g, 'reviewOf')[0]?.valueReference?.reference).toBe('AuditEvent/42');
    expect(parts(g, 'reviewOutcome')[0]?.valueCode).toBe('inappropriate');
    expect(JSON.stringify(r)).not.toContain('Zebedee');
    expect(createValidator().validate(r.event).filter((i) => i.severity === 'error')).toEqual([]);
  });
});
