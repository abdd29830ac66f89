import type { OperationOutcome, Parameters, Resource } from '@medplum/fhirtypes';
import { httpError } from '../../http/outcome.ts';
import type { ResourceValidator } from '../repo/validator-port.ts';

/**
 * $validate (R4 resource-operation-validate): the same checks a write runs,
 * answered as an OperationOutcome without storing anything.
 */
export function validateOperation(validator: ResourceValidator, resourceType: string, body: unknown): OperationOutcome {
  const resource = unwrap(body);
  if (!resource || typeof resource !== 'object' || typeof (resource as Resource).resourceType !== 'string') {
    throw httpError(400, 'structure', 'Body must be a resource, or Parameters with a "resource" parameter');
  }
  if ((resource as Resource).resourceType !== resourceType) {
    throw httpError(400, 'invalid', `Resource type "${(resource as Resource).resourceType}" does not match the URL (${resourceType})`, ['resourceType']);
  }
  const issues = validator.validate(resource as Resource);
  return {
    resourceType: 'OperationOutcome',
    issue: issues.length ? issues : [{ severity: 'information', code: 'informational', details: { text: 'No problems found' } }],
  };
}

function unwrap(body: unknown): unknown {
  const p = body as Parameters;
  if (p?.resourceType === 'Parameters') {
    return p.parameter?.find((x) => x.name === 'resource')?.resource;
  }
  return body;
}
