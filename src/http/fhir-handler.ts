import { allOk, getStatus, parseSearchRequest } from '@medplum/core';
import type { FhirRequest, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Database } from '../db/sql-client.ts';
import { patientEverything } from '../fhir/operations/everything.ts';
import { validateOperation } from '../fhir/operations/validate.ts';
import { PgRepository } from '../fhir/repo/pg-repository.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { isSupportedResourceType } from '../fhir/resource-types.ts';
import type { RequestContext } from '../request-context.ts';
import { sendJson, sendResource } from './fhir-response.ts';
import { httpError, publicOutcome } from './outcome.ts';
import { parsePrefer } from './prefer.ts';
import type { Preferences } from './prefer.ts';
import { partitionSearchQuery } from './search-query.ts';

export interface FhirHandlerDeps {
  db: Database;
  validator: ResourceValidator;
  router: FhirRouter;
  baseUrl: string;
  logger: Logger;
  capabilityStatement: () => Resource;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * Everything under /fhir. Our own operations ($everything, $validate,
 * metadata, type history) are handled here; the standard interactions and
 * batch/transaction go through @medplum/fhir-router over our repository.
 */
export function fhirHandler(deps: FhirHandlerDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      await handle(deps, req, res);
    } catch (err) {
      next(err);
    }
  };
}

async function handle(deps: FhirHandlerDeps, req: Request, res: Response): Promise<void> {
  const context = res.locals.context as RequestContext;
  const prefs = parsePrefer(req.headers.prefer);
  const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first = '', second, third] = segments;
  const query = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');

  if (!METHODS.has(req.method)) {
    throw httpError(405, 'not-supported', `Method ${req.method} is not supported here`);
  }
  if (first === 'metadata' && segments.length === 1) {
    if (req.method !== 'GET') throw httpError(405, 'not-supported', 'metadata supports GET only');
    sendJson(res, 200, deps.capabilityStatement());
    return;
  }
  if (first !== '' && !isSupportedResourceType(first)) {
    throw httpError(404, 'not-supported', `Resource type "${first}" is not supported by this server`);
  }
  if (first === '' && req.method !== 'POST') {
    throw httpError(405, 'not-supported', 'Only POST of a batch or transaction Bundle is supported at the base URL');
  }
  const repo = new PgRepository(
    {
      db: deps.db,
      validator: deps.validator,
      baseUrl: deps.baseUrl,
      onDbError: (err) => deps.logger.error({ requestId: context.requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'database error'),
    },
    context
  );

  if (second === '$validate' && segments.length === 2) {
    if (req.method !== 'POST') throw httpError(405, 'not-supported', '$validate supports POST only');
    sendJson(res, 200, validateOperation(deps.validator, first, req.body));
    return;
  }
  if (first === 'Patient' && third === '$everything' && segments.length === 3 && second) {
    if (req.method !== 'GET') throw httpError(405, 'not-supported', '$everything supports GET only');
    const bundle = await patientEverything(deps.db, deps.baseUrl, second, {
      since: query.get('_since') ?? undefined,
      types: query.get('_type')?.split(',').filter(Boolean),
      count: intParam(query, '_count'),
      offset: intParam(query, '_offset'),
    });
    sendJson(res, 200, bundle);
    return;
  }
  if (second === '_history' && segments.length === 2) {
    if (req.method !== 'GET') throw httpError(405, 'not-supported', 'History supports GET only');
    sendJson(res, 200, await repo.readTypeHistory(first, historyOptions(query)));
    return;
  }
  if (third === '_history' && segments.length === 3 && second) {
    if (req.method !== 'GET') throw httpError(405, 'not-supported', 'History supports GET only');
    sendJson(res, 200, await repo.readHistory(first, second, historyOptions(query)));
    return;
  }

  const isSearch = (req.method === 'GET' && segments.length === 1) || (req.method === 'POST' && second === '_search' && segments.length === 2);
  let unknown: string[] = [];
  let path = segments.map(encodeURIComponent).join('/');
  let queryString = query.toString();
  if (isSearch) {
    if (req.method === 'POST' && req.body && typeof req.body === 'object') {
      for (const [k, v] of Object.entries(req.body as Record<string, string>)) query.append(k, String(v));
    }
    const partitioned = partitionSearchQuery(first, query);
    unknown = partitioned.unknown;
    if (unknown.length && prefs.strict) {
      throw httpError(400, 'not-supported', `Unknown or unsupported search parameters: ${unknown.join(', ')}`, unknown);
    }
    // Parse here so malformed values are refused before the router sees them.
    parseSearchRequest(first, Object.fromEntries(groupParams(partitioned.kept)));
    path = first;
    queryString = partitioned.kept.toString();
  }
  const fhirReq: FhirRequest = {
    method: (isSearch ? 'GET' : req.method) as HttpMethod,
    url: queryString ? `${path}?${queryString}` : path,
    pathname: '',
    body: req.body,
    params: {},
    query: {},
    headers: normaliseIfMatch(req.headers),
  };
  const [outcome, resource] = await deps.router.handleRequest(fhirReq, repo);
  const status = getStatus(outcome);
  if (status >= 500) {
    deps.logger.error({ requestId: context.requestId, status, issueCode: outcome.issue?.[0]?.code }, 'FHIR router reported an internal error');
    throw httpError(500, 'exception', 'Internal error. The request was not completed; nothing was stored.');
  }
  if (status >= 300 || !resource) {
    sendJson(res, status, status < 300 ? deleteOutcome(outcome) : publicOutcome(outcome));
    return;
  }
  if (resource.resourceType === 'Bundle') {
    const bundle = stripOutcomeIds(resource as Bundle);
    sendJson(res, status, unknown.length ? withUnknownParams(bundle, unknown) : bundle);
    return;
  }
  // PUT that created the resource: R4 http.html#update says 201.
  const finalStatus = req.method === 'PUT' && repo.updateCreated ? 201 : status;
  sendResource(res, finalStatus, resource, publicOutcome(outcome), prefs as Preferences, deps.baseUrl);
}

function deleteOutcome(o: OperationOutcome): OperationOutcome {
  return o.id === allOk.id ? { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'Done' } }] } : publicOutcome(o);
}

/** Batch responses carry the router's internal outcome ids; clients need only the issues. */
function stripOutcomeIds(bundle: Bundle): Bundle {
  if (bundle.type !== 'batch-response' && bundle.type !== 'transaction-response') return bundle;
  return {
    ...bundle,
    entry: bundle.entry?.map((e) => (e.response?.outcome ? { ...e, response: { ...e.response, outcome: publicOutcome(e.response.outcome as OperationOutcome) } } : e)),
  };
}

function withUnknownParams(bundle: Bundle, unknown: string[]): Bundle {
  const oo: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: unknown.map((p) => ({
      severity: 'warning',
      code: 'not-supported',
      details: { text: `Search parameter "${p}" is not supported and was ignored` },
      expression: [p],
    })),
  };
  return { ...bundle, entry: [...(bundle.entry ?? []), { resource: oo, search: { mode: 'outcome' } }] };
}

function groupParams(sp: URLSearchParams): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of sp) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,7}$/.test(v)) throw httpError(400, 'invalid', `${name} must be a non-negative integer`, [name]);
  return Number(v);
}

function historyOptions(q: URLSearchParams): { since?: string; offset?: number; limit?: number } {
  const since = q.get('_since') ?? undefined;
  if (since !== undefined && Number.isNaN(Date.parse(since))) {
    throw httpError(400, 'invalid', '_since must be an instant', ['_since']);
  }
  return { since, offset: intParam(q, '_offset'), limit: intParam(q, '_count') };
}

/** The router reads only quoted ETags; accept a bare version number too. */
function normaliseIfMatch(headers: Request['headers']): Request['headers'] {
  const ifMatch = headers['if-match'];
  if (typeof ifMatch === 'string' && !ifMatch.includes('"')) {
    return { ...headers, 'if-match': `W/"${ifMatch.trim()}"` };
  }
  return headers;
}
