import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Response } from 'express';
import type { Preferences } from './prefer.ts';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

/**
 * A resource answer with its version headers (R4 http.html#versioning), and
 * the body the client asked for with Prefer: return=.
 */
export function sendResource(
  res: Response,
  status: number,
  resource: Resource,
  outcome: OperationOutcome,
  prefs: Preferences,
  baseUrl: string
): void {
  const versionId = resource.meta?.versionId;
  if (versionId) {
    res.setHeader('ETag', `W/"${versionId}"`);
  }
  if (resource.meta?.lastUpdated) {
    res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  }
  if (status === 201 && resource.id && versionId) {
    res.setHeader('Location', `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${versionId}`);
  }
  if (prefs.return === 'minimal') {
    res.status(status).end();
  } else if (prefs.return === 'OperationOutcome') {
    sendJson(res, status, outcome);
  } else {
    sendJson(res, status, resource);
  }
}
