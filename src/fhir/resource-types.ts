/**
 * The resource types this server stores and serves. The CapabilityStatement,
 * routing and search indexing all read this one list.
 */
export const SUPPORTED_RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'RelatedPerson',
  'CarePlan',
  'Goal',
  'CareTeam',
  'Consent',
  'ServiceRequest',
  'Task',
  'Questionnaire',
  'QuestionnaireResponse',
  'EpisodeOfCare',
  'Condition',
  'Flag',
  'Provenance',
  'AuditEvent',
  // Notifications (rest-hook) to the subscribing client: src/subscriptions/, docs/subscriptions.md.
  'Subscription',
] as const;

export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

const supported: ReadonlySet<string> = new Set(SUPPORTED_RESOURCE_TYPES);

export function isSupportedResourceType(t: string): t is SupportedResourceType {
  return supported.has(t);
}
