import type { Coding } from '@medplum/fhirtypes';

/**
 * Code systems and codes the BALP shapes use (IHE ITI Basic Audit Log
 * Patterns 1.1, on FHIR R4 AuditEvent), and our own where none exists.
 * Objects are written with their keys in sorted order, so canonicalJson
 * checks them instead of copying (canonical.ts) when balp-render.ts turns
 * them into the fixed pieces of its event text.
 * Codings carry system and code only: every one is from a published code
 * system that defines its display, and an exchange's record is written for
 * every read, so its bytes are paid in hashing, WAL and storage each time
 * (docs/performance.md, audited reads, sixth pass).
 */
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
export const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
export const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
export const PARTICIPATION_TYPE = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const SECURITY_SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
export const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
export const BALP_PROFILE_BASE = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/';
export const SDS_JOB_ROLE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/UKCore-SDSJobRoleName';
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** Ours: no standard covers these (said so in ADR 0010). */
export const CLIENT_ID_SYSTEM = 'https://joinedup.org.uk/Id/client-id';
export const USER_ID_SYSTEM = 'https://joinedup.org.uk/Id/user-id';
export const GATE_DECISION_URL = 'https://joinedup.org.uk/fhir/StructureDefinition/gate-decision';
export const GATE_RULE_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/gate-rule';
export const GATEWAY_OBSERVER = { display: 'JoinedUp gateway', identifier: { system: 'https://joinedup.org.uk/Id/system', value: 'joinedup-gateway' } };

export const REST_TYPE: Coding = { code: 'rest', system: AUDIT_EVENT_TYPE };
export const APPLICATION_AGENT: Coding = { code: '110150', system: DCM };
export const SOURCE_APP_SERVER: Coding = { code: '4', system: SECURITY_SOURCE_TYPE };

export const ENTITY_PERSON: Coding = { code: '1', system: ENTITY_TYPE };
export const ENTITY_SYSTEM_OBJECT: Coding = { code: '2', system: ENTITY_TYPE };
export const ROLE_PATIENT: Coding = { code: '1', system: OBJECT_ROLE };
export const ROLE_DOMAIN_RESOURCE: Coding = { code: '4', system: OBJECT_ROLE };
export const ROLE_QUERY: Coding = { code: '24', system: OBJECT_ROLE };
export const X_REQUEST_ID: Coding = { code: 'XrequestId', system: BALP_ENTITY_TYPE };

/** FHIR R4 restful-interaction codes an exchange can be. */
export const REST_INTERACTIONS = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'history-system',
  'create',
  'search-type',
  'search-system',
  'capabilities',
  'transaction',
  'batch',
  'operation',
] as const;
export type RestInteraction = (typeof REST_INTERACTIONS)[number];

/**
 * BALP's action per interaction: a search or history is a Query (E), as is an
 * operation or a Bundle (it may do anything).
 */
export const ACTION_OF: Record<RestInteraction, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  read: 'R',
  vread: 'R',
  update: 'U',
  patch: 'U',
  delete: 'D',
  'history-instance': 'E',
  'history-type': 'E',
  'history-system': 'E',
  create: 'C',
  'search-type': 'E',
  'search-system': 'E',
  capabilities: 'E',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
};

/** The BALP profile an event conforms to; the Patient variant when it is about one person. */
export function balpProfile(action: 'C' | 'R' | 'U' | 'D' | 'E', aboutPatient: boolean): string {
  const name = { C: 'Create', R: 'Read', U: 'Update', D: 'Delete', E: 'Query' }[action];
  return `${BALP_PROFILE_BASE}IHE.BasicAudit.${aboutPatient ? 'Patient' : ''}${name}`;
}
