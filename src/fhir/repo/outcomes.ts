import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * A resource that breaks base R4 rules or its profile. 'business-rule' maps
 * to 422 Unprocessable Entity (R4 http.html#create: "violated applicable
 * FHIR profiles or server business rules").
 */
export function invalidResource(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: 'business-rule', issue: issues };
}
