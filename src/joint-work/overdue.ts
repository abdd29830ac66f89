import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Task } from '@medplum/fhirtypes';
import type { PgRepository } from '../fhir/repo/pg-repository.ts';
import { isOverdue } from './deadlines.ts';
import { requestKindOf } from './request-kinds.ts';

/** Pages read for one answer: 100 pages of the search's maximum page size. */
const MAX_PAGES = 100;

/**
 * GET /fhir/Task?_query=overdue (R4 search.html#query, a named query): the
 * joint work requests still waiting for an answer (requested or received)
 * after their response deadline (Task.restriction.period.end), as a searchset.
 * Runs through the requester's repository, so it lists only the Tasks the
 * gate lets the requester see. Optional `owner` / `requester` (ODS codes)
 * narrow it to requests made of, or by, an organisation.
 */
export async function overdueRequests(repo: PgRepository, baseUrl: string, now: Date, filter: { owner?: string; requester?: string } = {}): Promise<Bundle<Task>> {
  const found: Task[] = [];
  for (const status of ['requested', 'received']) {
    for (let page = 0; page < MAX_PAGES; page++) {
      const count = 1000;
      const bundle = await repo.search<Task>(parseSearchRequest<Task>('Task', { status, _count: String(count), _offset: String(page * count) }));
      const tasks = (bundle.entry ?? []).map((e) => e.resource).filter((t): t is Task & { id: string } => !!t);
      for (const t of tasks) {
        if (requestKindOf(t.code) === undefined || !isOverdue(t, now)) continue;
        if (filter.owner && !JSON.stringify(t.owner ?? {}).includes(`"${filter.owner}"`) && !(t.contained ?? []).some((c) => JSON.stringify(c).includes(`"${filter.owner}"`))) continue;
        if (filter.requester && t.requester?.identifier?.value !== filter.requester) continue;
        found.push(t);
      }
      if (!bundle.link?.some((l) => l.relation === 'next')) break;
    }
  }
  found.sort((a, b) => (a.restriction?.period?.end ?? '').localeCompare(b.restriction?.period?.end ?? ''));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: found.length,
    link: [{ relation: 'self', url: `${baseUrl}/Task?_query=overdue` }],
    entry: found.map((t) => ({ fullUrl: `${baseUrl}/Task/${t.id}`, resource: t, search: { mode: 'match' } })),
  };
}
