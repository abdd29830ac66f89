import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';

export interface HistoryQuery {
  resourceType: string;
  id?: string;
  since?: string;
  offset?: number;
  limit?: number;
}

interface VersionRow {
  id: string;
  version_id: number;
  last_updated: Date;
  method: string;
  deleted: boolean;
  content: string | null;
}

const STATUS = { create: '201 Created', update: '200 OK', delete: '204 No Content' } as Record<string, string>;

/** Instance or type history, newest first (R4 http.html#history). */
export async function readHistoryBundle(sql: SqlClient, baseUrl: string, q: HistoryQuery): Promise<Bundle> {
  const limit = Math.min(Math.max(q.limit ?? 100, 0), 1000);
  const offset = Math.max(q.offset ?? 0, 0);
  const params: unknown[] = [q.resourceType];
  let where = 'resource_type = $1';
  if (q.id) {
    params.push(q.id);
    where += ` AND id = $${params.length}`;
  }
  if (q.since) {
    params.push(q.since);
    where += ` AND last_updated >= $${params.length}::timestamptz`;
  }
  const [page, count] = await Promise.all([
    sql.query<VersionRow>(
      `SELECT id, version_id, last_updated, method, deleted, content FROM resource_version
       WHERE ${where} ORDER BY last_updated DESC, id, version_id DESC LIMIT ${limit + 1} OFFSET ${offset}`,
      params
    ),
    sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_version WHERE ${where}`, params),
  ]);
  const rows = page.rows.slice(0, limit);
  const entry: BundleEntry[] = rows.map((r) => {
    const url = `${q.resourceType}/${r.id}`;
    const e: BundleEntry = {
      fullUrl: `${baseUrl}/${url}`,
      request: { method: r.method === 'create' ? 'POST' : r.method === 'delete' ? 'DELETE' : 'PUT', url: r.method === 'create' ? q.resourceType : url },
      response: {
        status: STATUS[r.method] ?? '200 OK',
        etag: `W/"${r.version_id}"`,
        lastModified: new Date(r.last_updated).toISOString(),
      },
    };
    if (!r.deleted && r.content) {
      e.resource = JSON.parse(r.content) as Resource;
    }
    return e;
  });
  const self = historyUrl(baseUrl, q, offset, limit);
  const link = [{ relation: 'self', url: self }];
  if (page.rows.length > limit) {
    link.push({ relation: 'next', url: historyUrl(baseUrl, q, offset + limit, limit) });
  }
  if (offset > 0) {
    link.push({ relation: 'previous', url: historyUrl(baseUrl, q, Math.max(offset - limit, 0), limit) });
  }
  return { resourceType: 'Bundle', type: 'history', total: count.rows[0]?.n ?? 0, link, entry };
}

function historyUrl(baseUrl: string, q: HistoryQuery, offset: number, limit: number): string {
  const path = q.id ? `${q.resourceType}/${q.id}/_history` : `${q.resourceType}/_history`;
  const sp = new URLSearchParams();
  if (q.since) sp.set('_since', q.since);
  sp.set('_count', String(limit));
  if (offset) sp.set('_offset', String(offset));
  return `${baseUrl}/${path}?${sp.toString()}`;
}
