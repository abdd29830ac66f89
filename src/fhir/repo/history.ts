import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, LabelRow } from './gate-port.ts';

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
export async function readHistoryBundle(sql: SqlClient, baseUrl: string, q: HistoryQuery, gate?: AccessGate): Promise<Bundle> {
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
  if (gate && !q.id) return gatedTypeHistory(sql, baseUrl, q, gate, where, params, offset, limit);
  const [page, count] = await Promise.all([
    sql.query<VersionRow>(
      `SELECT id, version_id, last_updated, method, deleted, content FROM resource_version
       WHERE ${where} ORDER BY last_updated DESC, id, version_id DESC LIMIT ${limit + 1} OFFSET ${offset}`,
      params
    ),
    sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_version WHERE ${where}`, params),
  ]);
  return historyBundle(baseUrl, q, page.rows.slice(0, limit), page.rows.length > limit, count.rows[0]?.n ?? 0, offset, limit);
}

/**
 * Type history under the gate: which versions may be seen is decided on the
 * labels of the resource they are versions of; the page and total then count
 * only those, and content is read for the page alone.
 */
async function gatedTypeHistory(
  sql: SqlClient,
  baseUrl: string,
  q: HistoryQuery,
  gate: AccessGate,
  where: string,
  params: unknown[],
  offset: number,
  limit: number
): Promise<Bundle> {
  const all = await sql.query<LabelRow & { version_id: number }>(
    `SELECT v.resource_type, v.id, v.version_id, r.patient_id, r.data_class, r.controller, r.third_party
       FROM resource_version v JOIN resource r ON r.resource_type = v.resource_type AND r.id = v.id
      WHERE ${where.replace(/\b(resource_type|id|last_updated)\b/g, 'v.$1')}
      ORDER BY v.last_updated DESC, v.id, v.version_id DESC LIMIT 100001`,
    params
  );
  const permitted = await gate.filter(sql, all.rows, 'search');
  const pageKeys = permitted.slice(offset, offset + limit);
  const contents = pageKeys.length
    ? await sql.query<VersionRow>(
        `SELECT v.id, v.version_id, v.last_updated, v.method, v.deleted, v.content FROM resource_version v
           JOIN unnest($2::text[], $3::int[]) AS k(i, ver) ON v.id = k.i AND v.version_id = k.ver
          WHERE v.resource_type = $1`,
        [q.resourceType, pageKeys.map((k) => k.id), pageKeys.map((k) => k.version_id)]
      )
    : { rows: [] as VersionRow[] };
  const byKey = new Map(contents.rows.map((r) => [`${r.id}/${r.version_id}`, r]));
  const rows = pageKeys.flatMap((k) => byKey.get(`${k.id}/${k.version_id}`) ?? []);
  return historyBundle(baseUrl, q, rows, permitted.length > offset + limit, permitted.length, offset, limit);
}

function historyBundle(baseUrl: string, q: HistoryQuery, rows: VersionRow[], hasMore: boolean, total: number, offset: number, limit: number): Bundle {
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
  if (hasMore) {
    link.push({ relation: 'next', url: historyUrl(baseUrl, q, offset + limit, limit) });
  }
  if (offset > 0) {
    link.push({ relation: 'previous', url: historyUrl(baseUrl, q, Math.max(offset - limit, 0), limit) });
  }
  return { resourceType: 'Bundle', type: 'history', total, link, entry };
}

function historyUrl(baseUrl: string, q: HistoryQuery, offset: number, limit: number): string {
  const path = q.id ? `${q.resourceType}/${q.id}/_history` : `${q.resourceType}/_history`;
  const sp = new URLSearchParams();
  if (q.since) sp.set('_since', q.since);
  sp.set('_count', String(limit));
  if (offset) sp.set('_offset', String(offset));
  return `${baseUrl}/${path}?${sp.toString()}`;
}
