/** Systems and citations the joint-work rules use (docs/joint-work.md). */
export const REQUEST_KIND_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-request-kind';
export const ROLE_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-role';
/** Codes of our notices (the informational issues the rules return). */
export const NOTICE_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-notice';
export const EXISTING_ASSESSMENT_EXT = 'https://joinedup.org.uk/fhir/StructureDefinition/joint-work-existing-assessment';
export const CONTACT_EXT = 'https://joinedup.org.uk/fhir/StructureDefinition/joint-work-contact';
export const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** FHIR's own Task codes (fulfill, approve, ...): generic, never "the same kind of assessment". */
export const HL7_TASK_CODE = 'http://hl7.org/fhir/CodeSystem/task-code';

/**
 * Care Act 2014 s7(3): "A person who decides not to comply with a request
 * under subsection (1) or (2) must give the person who made the request
 * written reasons for the decision." (Seed 001: "They must provide a written
 * explanation of their reasons for declining to the person making the request.")
 */
export const CARE_ACT_S7_3 = 'Care Act 2014 s7(3)';
