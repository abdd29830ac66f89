import { STATUS_CODES } from 'node:http';
import { OperationOutcomeError, badRequest, isOk, multipleMatches, parseSearchRequest } from '@medplum/core';
import type { SearchRequest } from '@medplum/core';
import type { FhirRouter } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, BundleEntryRequest, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { PgRepository } from '../fhir/repo/pg-repository.ts';
import type { BundlePlan, PlannedEntry } from './bundle-plan.ts';
import { publicOutcome } from './outcome.ts';
import { notesOutcome } from './write-notes.ts';

/**
 * Runs a planned batch or transaction and answers it entry for entry
 * (R4 http.html#transaction-response): status line, location with version,
 * etag and lastModified for each resource written or read.
 */
export async function runBundle(router: FhirRouter, repo: PgRepository, plan: BundlePlan): Promise<Bundle> {
  let results: BundleEntry[] = [];
  if (plan.type === 'transaction') {
    // One database transaction around everything, including the conditional
    // create look-ups, so that what they find still holds when we write.
    results = await repo.withTransaction(async (tx) => {
      await resolveConditionalCreates(tx, plan.forward);
      return routeBundle(router, tx, 'transaction', plan.forward);
    });
  } else if (plan.forward.length) {
    results = await routeBundle(router, repo, 'batch', plan.forward);
  }
  const entry: BundleEntry[] = new Array(plan.size);
  plan.forward.forEach((p, k) => {
    entry[p.index] = responseEntry(results[k] ?? {}, p);
    // Informational issues the write rules raised about this entry's resource (R4: entry.response.outcome).
    const notes = notesOutcome(entry[p.index]?.resource, repo.notes);
    const response = entry[p.index]?.response;
    if (notes && response) response.outcome = { ...(response.outcome ?? { resourceType: 'OperationOutcome' }), issue: [...((response.outcome as OperationOutcome | undefined)?.issue ?? []), ...notes.issue] } as OperationOutcome;
  });
  for (const [i, r] of plan.rejected) {
    entry[i] = { response: { status: statusLine(r.status), outcome: r.outcome } };
  }
  return { resourceType: 'Bundle', type: plan.type === 'batch' ? 'batch-response' : 'transaction-response', entry };
}

async function routeBundle(router: FhirRouter, repo: PgRepository, type: 'batch' | 'transaction', entries: PlannedEntry[]): Promise<BundleEntry[]> {
  const [outcome, result] = await router.handleRequest(
    {
      method: 'POST',
      url: '',
      pathname: '',
      body: { resourceType: 'Bundle', type, entry: entries.map((p) => p.entry) },
      params: {},
      query: {},
      headers: {},
      // Without this flag the router runs a transaction as a batch: no atomicity.
      config: { transactions: true },
    },
    repo
  );
  // The router reports a failed transaction as a return value; throwing is
  // what makes withTransaction roll back.
  if (!isOk(outcome) || !result) {
    throw new OperationOutcomeError(outcome);
  }
  return (result as Bundle).entry ?? [];
}

/**
 * Conditional creates in a transaction are settled here rather than by the
 * router, which refuses any transaction of more than 8 entries that holds
 * one (it wants SERIALIZABLE isolation; we lock on the condition instead).
 * A match becomes an update of the match to itself, guarded by its version:
 * nothing is written, the entry answers 200 with the existing resource, and
 * references to the entry's fullUrl point at it. No match: a plain create.
 */
async function resolveConditionalCreates(tx: PgRepository, entries: PlannedEntry[]): Promise<void> {
  const conditional = entries.filter((p) => p.route.kind === 'create' && p.entry.request?.ifNoneExist);
  if (!conditional.length) return;
  const searches = conditional.map((p) => ({ p, search: conditionSearch(p) }));
  await tx.lockConditions(searches.map((s) => s.search));
  for (const { p, search } of searches) {
    const matches = await tx.searchResources({ ...search, count: 2, sortRules: undefined }).catch((err: unknown) => {
      throw located(err, p, '.request.ifNoneExist');
    });
    if (matches.length > 1) {
      throw located(new OperationOutcomeError(multipleMatches), p, '.request.ifNoneExist');
    }
    const match = matches[0];
    if (match) {
      p.entry = {
        ...p.entry,
        resource: match,
        request: { method: 'PUT', url: `${match.resourceType}/${match.id}`, ifMatch: `W/"${match.meta?.versionId ?? ''}"` },
      };
      p.route = { kind: 'update', type: match.resourceType, id: match.id };
    } else {
      const { ifNoneExist: _settled, ...request } = p.entry.request as BundleEntryRequest;
      p.entry = { ...p.entry, request };
    }
  }
}

function conditionSearch(p: PlannedEntry): SearchRequest {
  const type = (p.entry.resource as Resource).resourceType;
  let search: SearchRequest;
  try {
    search = parseSearchRequest(`${type}?${p.entry.request?.ifNoneExist ?? ''}`);
  } catch (err) {
    throw located(err, p, '.request.ifNoneExist');
  }
  if (!search.filters?.length) {
    throw located(new OperationOutcomeError(badRequest('A conditional create needs at least one search criterion')), p, '.request.ifNoneExist');
  }
  return search;
}

/** Points an entry's error at the entry, keeping its status. */
function located(err: unknown, p: PlannedEntry, where: string): unknown {
  if (!(err instanceof OperationOutcomeError)) return err;
  const outcome: OperationOutcome = {
    ...err.outcome,
    issue: (err.outcome.issue ?? []).map((i) => ({ ...i, expression: [`Bundle.entry[${p.index}]${where}`] })),
  };
  return new OperationOutcomeError(outcome);
}

function responseEntry(result: BundleEntry, p: PlannedEntry): BundleEntry {
  const status = Number(result.response?.status ?? 500);
  const resource = result.resource;
  const response: NonNullable<BundleEntry['response']> = { status: statusLine(status) };
  const versionId = resource?.meta?.versionId;
  if (status < 300 && resource && resource.resourceType !== 'Bundle' && versionId) {
    response.etag = `W/"${versionId}"`;
    if (resource.meta?.lastUpdated) response.lastModified = resource.meta.lastUpdated;
    if (p.route.kind === 'create' || p.route.kind === 'update' || p.route.kind === 'patch') {
      response.location = `${resource.resourceType}/${resource.id}/_history/${versionId}`;
    }
  }
  const outcome = result.response?.outcome as OperationOutcome | undefined;
  if (outcome && (status >= 300 || outcome.issue?.some((i) => i.severity !== 'information'))) {
    response.outcome = publicOutcome(outcome);
  }
  return resource ? { resource, response } : { response };
}

function statusLine(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `${status} ${text}` : String(status);
}
