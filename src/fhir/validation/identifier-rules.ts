import type { CodeableConcept, Coding, Extension, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isValidNhsNumber, isValidOdsCode, NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM } from './nhs-number.ts';
import type { Terminology } from './terminology.ts';

export const NHS_NUMBER_VERIFICATION_STATUS_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';

/** Our restatement of the UK Core value set bound to the verification status extension (profiles/). */
export const NHS_NUMBER_VERIFICATION_STATUS_VALUE_SET =
  'https://joinedup.org.uk/fhir/ValueSet/JoinedUp-NHSNumberVerificationStatus';

/**
 * Checks every NHS number and ODS code identifier anywhere in the resource:
 * Patient.identifier, Reference.identifier (subject, author, generalPractitioner...),
 * contained resources and extensions alike. These rules are not expressible
 * (modulus 11) or not reliably enforced (nested slices) by the profiles, and
 * they must hold on every resource type, profiled or not.
 *
 * An object is treated as an Identifier when its `system` is one of ours and it
 * has no `code` (which would make it a Coding).
 */
export function checkIdentifiers(resource: Resource, terminology: Terminology): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const statuses = terminology.expand(NHS_NUMBER_VERIFICATION_STATUS_VALUE_SET);
  visit(resource, resource.resourceType, (node, path) => {
    if (node.system === NHS_NUMBER_SYSTEM && !('code' in node)) {
      checkNhsNumber(node, path, issues);
      checkVerificationStatus(node, path, issues, statuses);
    } else if (node.system === ODS_ORGANIZATION_SYSTEM && !('code' in node)) {
      checkOdsCode(node, path, issues);
    }
  });
  return issues;
}

type JsonObject = Record<string, unknown>;

function visit(value: unknown, path: string, onObject: (node: JsonObject, path: string) => void): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      visit(value[i], `${path}[${i}]`, onObject);
    }
  } else if (typeof value === 'object' && value !== null) {
    const node = value as JsonObject;
    onObject(node, path);
    for (const key of Object.keys(node)) {
      const child = node[key];
      if (typeof child === 'object' && child !== null) {
        visit(child, `${path}.${key}`, onObject);
      }
    }
  }
}

function checkNhsNumber(identifier: JsonObject, path: string, issues: OperationOutcomeIssue[]): void {
  // Whether a value must be present is the profiles' call (the Patient nhsNumber slice requires one).
  const value = identifier.value;
  if (value === undefined) {
    return;
  }
  if (typeof value !== 'string' || !/^\d{10}$/.test(value)) {
    // The value itself is left out of messages: NHS numbers are personal data and issues get logged.
    issues.push(error('value', 'NHS number must be exactly 10 digits', `${path}.value`));
  } else if (!isValidNhsNumber(value)) {
    issues.push(error('value', 'NHS number fails the modulus 11 check digit', `${path}.value`));
  }
}

function checkOdsCode(identifier: JsonObject, path: string, issues: OperationOutcomeIssue[]): void {
  const value = identifier.value;
  if (value !== undefined && (typeof value !== 'string' || !isValidOdsCode(value))) {
    issues.push(error('value', 'ODS organisation code must be 3 to 10 letters or digits', `${path}.value`));
  }
}

function checkVerificationStatus(
  identifier: JsonObject,
  path: string,
  issues: OperationOutcomeIssue[],
  statuses: ReturnType<Terminology['expand']>
): void {
  const extensions = identifier.extension;
  if (!Array.isArray(extensions)) {
    return;
  }
  let seen = 0;
  extensions.forEach((extension: Extension, i) => {
    if (extension?.url !== NHS_NUMBER_VERIFICATION_STATUS_URL) {
      return;
    }
    const extPath = `${path}.extension[${i}]`;
    if (++seen === 2) {
      issues.push(error('structure', 'At most one NHS number verification status is allowed', extPath));
    }
    const concept = extension.valueCodeableConcept as CodeableConcept | undefined;
    if (!concept || typeof concept !== 'object') {
      issues.push(
        error('required', 'NHS number verification status must have a valueCodeableConcept', `${extPath}.value[x]`)
      );
      return;
    }
    if (statuses && !(concept.coding ?? []).some((c: Coding) => isCoding(c) && statuses.hasCoding(c.system, c.code))) {
      issues.push(
        error(
          'code-invalid',
          `NHS number verification status is not in ${NHS_NUMBER_VERIFICATION_STATUS_VALUE_SET}`,
          `${extPath}.valueCodeableConcept`
        )
      );
    }
  });
}

function isCoding(c: Coding | undefined): c is Coding & { system: string; code: string } {
  return typeof c?.system === 'string' && typeof c.code === 'string';
}

function error(code: OperationOutcomeIssue['code'], text: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}
