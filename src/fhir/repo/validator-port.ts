import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

/** What the store needs from validation: every problem found, never a throw. */
export interface ResourceValidator {
  validate(resource: Resource): OperationOutcomeIssue[];
}
