import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

export type MappingErrorKind =
  /** The input lacks something the mapping requires (an identifier...), or a value has the wrong shape. */
  | 'input'
  /** A code is not in the ConceptMap that translates its code list. */
  | 'code'
  /** A mapped resource fails its profile. */
  | 'validation'
  /** The mapping itself is wrong (bad file, unknown ConceptMap...). */
  | 'mapping';

/**
 * A record could not be mapped. `issues` are OperationOutcome issues: for input
 * and code problems `expression` is the location in the input record (a FHIRPath
 * over the record JSON, e.g. `person.nhsNumber`); for validation problems it is
 * the FHIRPath location in the mapped resource (e.g. `Patient.birthDate`), and
 * `diagnostics` names the resource (`Patient/<id>`).
 */
export class MappingError extends Error {
  readonly kind: MappingErrorKind;
  readonly issues: OperationOutcomeIssue[];

  constructor(kind: MappingErrorKind, issues: OperationOutcomeIssue[]) {
    super(issues.map((i) => `${i.details?.text ?? 'error'}${i.expression ? ` (at ${i.expression.join(', ')})` : ''}`).join('; '));
    this.name = 'MappingError';
    this.kind = kind;
    this.issues = issues;
  }
}

export function issue(code: OperationOutcomeIssue['code'], text: string, expression?: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) };
}
