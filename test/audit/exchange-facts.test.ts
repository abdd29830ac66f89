import { describe, expect, test } from 'vitest';
import { buildExchangeAuditRecord } from '../../src/audit/balp.ts';
import type { ExchangeAuditInput } from '../../src/audit/balp.ts';
import { renderExchangeEventText } from '../../src/audit/balp-render.ts';
import { canonicalJson } from '../../src/audit/canonical.ts';
import { storedEventText } from '../../src/audit/event-text.ts';
import { EXCHANGE_FACTS_FORM, exchangeFacts } from '../../src/audit/exchange-facts.ts';
import { auditEventOf, StoredAuditContentError } from '../../src/audit/stored-event.ts';
import { PERMIT, sampleActor } from './sample-records.ts';

const base = { recorded: new Date('2026-03-01T10:00:00.123Z'), requestId: 'req-1', patientId: 'p1', resources: ['CarePlan/cp1', 'Task/t9'] };
const INPUTS: Record<string, ExchangeAuditInput> = {
  read: { ...base, actor: sampleActor(), interaction: 'read', outcome: 'permit', decision: PERMIT },
  breakGlass: {
    ...base,
    actor: sampleActor({ justification: 'collapsed in clinic' }),
    interaction: 'read',
    outcome: 'permit',
    decision: { ...PERMIT, rules: [{ rule: 'R9-break-glass', effect: 'permit', reason: 'emergency', sources: [] }], reliedOn: { ...PERMIT.reliedOn, consent: 'Consent/c1' }, obligations: ['flag-for-review'] },
  },
  deny: {
    ...base,
    actor: sampleActor(),
    interaction: 'search-type',
    query: 'patient=Patient/p1&_count=5&name=Zebedee',
    outcome: 'deny',
    decision: { outcome: 'deny', rules: [{ rule: 'R12-default-deny', effect: 'deny', reason: 'no basis', sources: [] }], reliedOn: {}, obligations: [], explanation: 'No lawful basis found.' },
  },
  openDevError: { ...base, interaction: 'operation', operation: '$everything', query: '_count=5', outcome: 'error' },
  withheld: { ...base, actor: sampleActor({ purposeOfUse: 'CAREMGT' }), interaction: 'create', outcome: 'permit-withheld', decision: PERMIT },
};

/**
 * The canonical AuditEvent text the builder STORED for these inputs before
 * exchanges were stored as facts (commit a34dfb4, 2026-11-21): records
 * written then hold exactly this, and the event rendered from facts must be
 * the same, byte for byte, so an IG lead sees one shape whichever form a
 * record was written in.
 */
const STORED_BEFORE_FACTS: Record<string, string> = {
  read: "{\"action\":\"R\",\"agent\":[{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"110150\",\"system\":\"http://dicom.nema.org/resources/ontology/DCM\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/client-id\",\"value\":\"gp-system-a\"}}},{\"policy\":[\"jti-123\"],\"requestor\":true,\"role\":[{\"coding\":[{\"code\":\"R8000\",\"system\":\"https://fhir.nhs.uk/CodeSystem/UKCore-SDSJobRoleName\"}]}],\"type\":{\"coding\":[{\"code\":\"IRCP\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/user-id\",\"value\":\"user-555\"}}},{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"PRF\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}],\"text\":\"requesting organisation\"},\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"A81001\"}}}],\"entity\":[{\"type\":{\"code\":\"XrequestId\",\"system\":\"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType\"},\"what\":{\"identifier\":{\"value\":\"req-1\"}}},{\"role\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Patient/p1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"CarePlan/cp1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Task/t9\"}}],\"extension\":[{\"extension\":[{\"url\":\"outcome\",\"valueCode\":\"permit\"},{\"extension\":[{\"url\":\"code\",\"valueCode\":\"R3-implied-consent-direct-care\"},{\"url\":\"effect\",\"valueCode\":\"permit\"}],\"url\":\"rule\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art6-1-e\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art9-2-h\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"implied-consent\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"hsca-2012-s251b\"},{\"extension\":[{\"url\":\"id\",\"valueString\":\"isa-north\"},{\"url\":\"version\",\"valueInteger\":2}],\"url\":\"agreement\"},{\"url\":\"explanation\",\"valueString\":\"Permitted for direct care under the North ISA.\"}],\"url\":\"https://joinedup.org.uk/fhir/StructureDefinition/gate-decision\"}],\"meta\":{\"profile\":[\"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead\"]},\"outcome\":\"0\",\"purposeOfEvent\":[{\"coding\":[{\"code\":\"TREAT\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\"}]}],\"recorded\":\"2026-03-01T10:00:00.123Z\",\"resourceType\":\"AuditEvent\",\"source\":{\"observer\":{\"display\":\"JoinedUp gateway\",\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/system\",\"value\":\"joinedup-gateway\"}},\"type\":[{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/security-source-type\"}]},\"subtype\":[{\"code\":\"read\",\"system\":\"http://hl7.org/fhir/restful-interaction\"}],\"type\":{\"code\":\"rest\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-event-type\"}}",
  breakGlass: "{\"action\":\"R\",\"agent\":[{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"110150\",\"system\":\"http://dicom.nema.org/resources/ontology/DCM\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/client-id\",\"value\":\"gp-system-a\"}}},{\"policy\":[\"jti-123\"],\"requestor\":true,\"role\":[{\"coding\":[{\"code\":\"R8000\",\"system\":\"https://fhir.nhs.uk/CodeSystem/UKCore-SDSJobRoleName\"}]}],\"type\":{\"coding\":[{\"code\":\"IRCP\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/user-id\",\"value\":\"user-555\"}}},{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"PRF\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}],\"text\":\"requesting organisation\"},\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"A81001\"}}}],\"entity\":[{\"type\":{\"code\":\"XrequestId\",\"system\":\"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType\"},\"what\":{\"identifier\":{\"value\":\"req-1\"}}},{\"role\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Patient/p1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"CarePlan/cp1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Task/t9\"}}],\"extension\":[{\"extension\":[{\"url\":\"outcome\",\"valueCode\":\"permit\"},{\"extension\":[{\"url\":\"code\",\"valueCode\":\"R9-break-glass\"},{\"url\":\"effect\",\"valueCode\":\"permit\"}],\"url\":\"rule\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art6-1-e\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art9-2-h\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"implied-consent\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"hsca-2012-s251b\"},{\"extension\":[{\"url\":\"id\",\"valueString\":\"isa-north\"},{\"url\":\"version\",\"valueInteger\":2}],\"url\":\"agreement\"},{\"url\":\"consent\",\"valueReference\":{\"reference\":\"Consent/c1\"}},{\"url\":\"obligation\",\"valueCode\":\"flag-for-review\"},{\"url\":\"override\",\"valueCode\":\"break-glass\"},{\"url\":\"justification\",\"valueString\":\"collapsed in clinic\"},{\"url\":\"explanation\",\"valueString\":\"Permitted for direct care under the North ISA.\"}],\"url\":\"https://joinedup.org.uk/fhir/StructureDefinition/gate-decision\"}],\"meta\":{\"profile\":[\"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead\"]},\"outcome\":\"0\",\"purposeOfEvent\":[{\"coding\":[{\"code\":\"TREAT\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\"}]}],\"recorded\":\"2026-03-01T10:00:00.123Z\",\"resourceType\":\"AuditEvent\",\"source\":{\"observer\":{\"display\":\"JoinedUp gateway\",\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/system\",\"value\":\"joinedup-gateway\"}},\"type\":[{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/security-source-type\"}]},\"subtype\":[{\"code\":\"read\",\"system\":\"http://hl7.org/fhir/restful-interaction\"}],\"type\":{\"code\":\"rest\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-event-type\"}}",
  deny: "{\"action\":\"E\",\"agent\":[{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"110150\",\"system\":\"http://dicom.nema.org/resources/ontology/DCM\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/client-id\",\"value\":\"gp-system-a\"}}},{\"policy\":[\"jti-123\"],\"requestor\":true,\"role\":[{\"coding\":[{\"code\":\"R8000\",\"system\":\"https://fhir.nhs.uk/CodeSystem/UKCore-SDSJobRoleName\"}]}],\"type\":{\"coding\":[{\"code\":\"IRCP\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/user-id\",\"value\":\"user-555\"}}},{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"PRF\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}],\"text\":\"requesting organisation\"},\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"A81001\"}}}],\"entity\":[{\"type\":{\"code\":\"XrequestId\",\"system\":\"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType\"},\"what\":{\"identifier\":{\"value\":\"req-1\"}}},{\"role\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Patient/p1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"CarePlan/cp1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Task/t9\"}},{\"query\":\"cGF0aWVudD1bcmVkYWN0ZWRdJl9jb3VudD01Jm5hbWU9W3JlZGFjdGVkXQ==\",\"role\":{\"code\":\"24\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"}}],\"extension\":[{\"extension\":[{\"url\":\"outcome\",\"valueCode\":\"deny\"},{\"extension\":[{\"url\":\"code\",\"valueCode\":\"R12-default-deny\"},{\"url\":\"effect\",\"valueCode\":\"deny\"}],\"url\":\"rule\"},{\"url\":\"explanation\",\"valueString\":\"No lawful basis found.\"}],\"url\":\"https://joinedup.org.uk/fhir/StructureDefinition/gate-decision\"}],\"meta\":{\"profile\":[\"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery\"]},\"outcome\":\"4\",\"outcomeDesc\":\"No lawful basis found.\",\"purposeOfEvent\":[{\"coding\":[{\"code\":\"TREAT\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\"}]}],\"recorded\":\"2026-03-01T10:00:00.123Z\",\"resourceType\":\"AuditEvent\",\"source\":{\"observer\":{\"display\":\"JoinedUp gateway\",\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/system\",\"value\":\"joinedup-gateway\"}},\"type\":[{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/security-source-type\"}]},\"subtype\":[{\"code\":\"search-type\",\"system\":\"http://hl7.org/fhir/restful-interaction\"}],\"type\":{\"code\":\"rest\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-event-type\"}}",
  openDevError: "{\"action\":\"E\",\"agent\":[{\"requestor\":true,\"type\":{\"coding\":[{\"code\":\"110150\",\"system\":\"http://dicom.nema.org/resources/ontology/DCM\"}]},\"who\":{\"display\":\"unauthenticated (open-development mode)\"}}],\"entity\":[{\"type\":{\"code\":\"XrequestId\",\"system\":\"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType\"},\"what\":{\"identifier\":{\"value\":\"req-1\"}}},{\"role\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Patient/p1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"CarePlan/cp1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Task/t9\"}},{\"query\":\"JGV2ZXJ5dGhpbmc/X2NvdW50PTU=\",\"role\":{\"code\":\"24\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"}}],\"extension\":[{\"extension\":[{\"url\":\"outcome\",\"valueCode\":\"error\"}],\"url\":\"https://joinedup.org.uk/fhir/StructureDefinition/gate-decision\"}],\"meta\":{\"profile\":[\"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery\"]},\"outcome\":\"8\",\"outcomeDesc\":\"The request failed; nothing was returned or stored.\",\"recorded\":\"2026-03-01T10:00:00.123Z\",\"resourceType\":\"AuditEvent\",\"source\":{\"observer\":{\"display\":\"JoinedUp gateway\",\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/system\",\"value\":\"joinedup-gateway\"}},\"type\":[{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/security-source-type\"}]},\"subtype\":[{\"code\":\"operation\",\"system\":\"http://hl7.org/fhir/restful-interaction\"}],\"type\":{\"code\":\"rest\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-event-type\"}}",
  withheld: "{\"action\":\"C\",\"agent\":[{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"110150\",\"system\":\"http://dicom.nema.org/resources/ontology/DCM\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/client-id\",\"value\":\"gp-system-a\"}}},{\"policy\":[\"jti-123\"],\"requestor\":true,\"role\":[{\"coding\":[{\"code\":\"R8000\",\"system\":\"https://fhir.nhs.uk/CodeSystem/UKCore-SDSJobRoleName\"}]}],\"type\":{\"coding\":[{\"code\":\"AUT\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}]},\"who\":{\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/user-id\",\"value\":\"user-555\"}}},{\"requestor\":false,\"type\":{\"coding\":[{\"code\":\"PRF\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"}],\"text\":\"requesting organisation\"},\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"A81001\"}}}],\"entity\":[{\"type\":{\"code\":\"XrequestId\",\"system\":\"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType\"},\"what\":{\"identifier\":{\"value\":\"req-1\"}}},{\"role\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"1\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Patient/p1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"CarePlan/cp1\"}},{\"role\":{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\"},\"type\":{\"code\":\"2\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-entity-type\"},\"what\":{\"reference\":\"Task/t9\"}}],\"extension\":[{\"extension\":[{\"url\":\"outcome\",\"valueCode\":\"permit-withheld\"},{\"extension\":[{\"url\":\"code\",\"valueCode\":\"R3-implied-consent-direct-care\"},{\"url\":\"effect\",\"valueCode\":\"permit\"}],\"url\":\"rule\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art6-1-e\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"art9-2-h\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"implied-consent\"},{\"url\":\"lawfulBasis\",\"valueCode\":\"hsca-2012-s251b\"},{\"extension\":[{\"url\":\"id\",\"valueString\":\"isa-north\"},{\"url\":\"version\",\"valueInteger\":2}],\"url\":\"agreement\"},{\"url\":\"explanation\",\"valueString\":\"Permitted for direct care under the North ISA.\"}],\"url\":\"https://joinedup.org.uk/fhir/StructureDefinition/gate-decision\"}],\"meta\":{\"profile\":[\"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientCreate\"]},\"outcome\":\"0\",\"outcomeDesc\":\"Permitted; some results were withheld by the gate.\",\"purposeOfEvent\":[{\"coding\":[{\"code\":\"CAREMGT\",\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\"}]}],\"recorded\":\"2026-03-01T10:00:00.123Z\",\"resourceType\":\"AuditEvent\",\"source\":{\"observer\":{\"display\":\"JoinedUp gateway\",\"identifier\":{\"system\":\"https://joinedup.org.uk/Id/system\",\"value\":\"joinedup-gateway\"}},\"type\":[{\"code\":\"4\",\"system\":\"http://terminology.hl7.org/CodeSystem/security-source-type\"}]},\"subtype\":[{\"code\":\"create\",\"system\":\"http://hl7.org/fhir/restful-interaction\"}],\"type\":{\"code\":\"rest\",\"system\":\"http://terminology.hl7.org/CodeSystem/audit-event-type\"}}",
};

describe('an exchange stored as its facts', () => {
  test.each(Object.keys(INPUTS))('%s: the rendered event is byte for byte the event stored before facts', (name) => {
    const record = buildExchangeAuditRecord(INPUTS[name]!);
    expect(canonicalJson(record.event)).toBe(STORED_BEFORE_FACTS[name]);
    expect(renderExchangeEventText(JSON.parse(storedEventText(record)))).toBe(STORED_BEFORE_FACTS[name]);
  });

  test.each(Object.keys(INPUTS))('%s: a record stored before facts reads as itself', (name) => {
    expect(canonicalJson(auditEventOf(STORED_BEFORE_FACTS[name]!))).toBe(STORED_BEFORE_FACTS[name]);
  });

  test('stores the facts, a fraction of the event, with the query already redacted', () => {
    const record = buildExchangeAuditRecord(INPUTS.deny!);
    const stored = storedEventText(record);
    expect(JSON.parse(stored)).toEqual(exchangeFacts(INPUTS.deny!));
    expect(JSON.parse(stored)).toMatchObject({ form: EXCHANGE_FACTS_FORM, query: 'patient=[redacted]&_count=5&name=[redacted]', request: 'req-1' });
    expect(stored).not.toContain('Zebedee');
    const read = buildExchangeAuditRecord(INPUTS.read!);
    expect(storedEventText(read).length * 3).toBeLessThan(canonicalJson(read.event).length);
  });

  test('the actor\'s name is never stored, and a justification only with an override', () => {
    const stored = JSON.parse(storedEventText(buildExchangeAuditRecord({ ...INPUTS.read!, actor: sampleActor({ justification: 'not an override' }) })));
    expect(JSON.stringify(stored)).not.toContain(sampleActor().user.name!);
    expect(stored.justification).toBeUndefined();
    expect(JSON.parse(storedEventText(buildExchangeAuditRecord(INPUTS.breakGlass!)))).toMatchObject({ override: 'break-glass', justification: 'collapsed in clinic' });
  });

  test('a refusal with an empty explanation renders as before: an empty outcomeDesc, no explanation part', () => {
    const deny = buildExchangeAuditRecord({ ...INPUTS.deny!, decision: { ...INPUTS.deny!.decision!, explanation: '' } });
    expect(deny.event.outcomeDesc).toBe('');
    expect(JSON.stringify(deny.event.extension)).not.toContain('"explanation"');
  });

  test('an empty patient id renders as before: the patient profile, no patient entity', () => {
    const e = buildExchangeAuditRecord({ ...INPUTS.read!, patientId: '' }).event;
    expect(e.meta?.profile).toEqual(['https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead']);
    expect((e.entity ?? []).some((x) => x.what?.reference?.startsWith('Patient/'))).toBe(false);
  });

  test('content that is neither an AuditEvent nor facts is refused by name, without echoing it', () => {
    expect(() => auditEventOf('{"form":"exchange-0","patient":"p1"}')).toThrow(StoredAuditContentError);
    expect(() => auditEventOf('{"form":"exchange-0","patient":"p1"}')).not.toThrow(/p1/);
    expect(() => auditEventOf('{"form":', 7)).toThrow(/^Audit record 7 cannot be shown: its content is not JSON/);
  });

  test('a deny the gate had no part in says so; one stored before refusedBy existed renders as it always did', () => {
    const refusal = { ...base, actor: sampleActor(), interaction: 'read' as const, outcome: 'deny' as const };
    const byToken = buildExchangeAuditRecord({ ...refusal, refusedBy: 'token' });
    expect(JSON.parse(storedEventText(byToken)).refusedBy).toBe('token');
    expect(byToken.event.outcomeDesc).toBe('Refused: the access token does not allow this request.');
    const before = buildExchangeAuditRecord(refusal);
    expect(storedEventText(before)).not.toContain('refusedBy');
    expect(before.event.outcomeDesc).toBe('Refused by the gate.');
    // Only a deny without a gate decision can be the token's.
    expect(storedEventText(buildExchangeAuditRecord({ ...INPUTS.deny!, refusedBy: 'token' }))).not.toContain('refusedBy');
    expect(storedEventText(buildExchangeAuditRecord({ ...INPUTS.read!, refusedBy: 'token' }))).not.toContain('refusedBy');
  });

  test('every shape written passes the stored-facts check; a damaged one is named by record and field, never by value', () => {
    for (const input of Object.values(INPUTS)) {
      const text = storedEventText(buildExchangeAuditRecord(input));
      expect(() => auditEventOf(text, 1)).not.toThrow();
    }
    const good = JSON.parse(storedEventText(buildExchangeAuditRecord(INPUTS.breakGlass!))) as Record<string, any>;
    const damaged: [string, (f: Record<string, any>) => void, RegExp][] = [
      ['a missing field', (f) => delete f.request, /request is missing or not as the gateway writes it/],
      ['a purpose the gateway has no code for', (f) => (f.actor.purpose = 'Zebedee-Smith'), /actor\.purpose is missing/],
      ['an interaction BALP has no action for', (f) => (f.interaction = 'peek'), /interaction is missing/],
      ['a rule that is not a pair', (f) => (f.decision.rules = [['R9-break-glass']]), /decision\.rules\.0/],
      ['a number where text belongs', (f) => (f.patient = 9990001234), /patient is missing/],
      ['a stray key', (f) => (f.decision['Zebedee-Smith'] = 'x'), /decision has a field the gateway never writes/],
    ];
    for (const [what, damage, message] of damaged) {
      const f = structuredClone(good);
      damage(f);
      let err: unknown;
      try {
        auditEventOf(JSON.stringify(f), 42);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(StoredAuditContentError);
      expect((err as Error).message, what).toMatch(/^Audit record 42 cannot be shown: in its exchange facts, /);
      expect((err as Error).message, what).toMatch(message);
      expect((err as Error).message, what).not.toMatch(/Zebedee|9990001234|peek/);
    }
  });
});
