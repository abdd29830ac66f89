import type { Database } from '../../db/sql-client.ts';
import { extractIndexRows } from '../search/index-values.ts';
import { indexCtes } from './write-version.ts';
import type { Resource } from '@medplum/fhirtypes';

export interface ReindexProgress {
  done: number;
  total: number;
}

/**
 * Rebuilds the search index rows of every current resource (or of one type)
 * from the stored JSON. Needed when what a search parameter indexes changes
 * between releases; the resources and their versions are untouched. Works in
 * keyset-ordered batches, each its own transaction, so it can be stopped and
 * re-run at any time.
 */
export async function reindex(
  db: Database,
  options: { localBase?: string; resourceType?: string; batchSize?: number; onProgress?: (p: ReindexProgress) => void } = {}
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const typeFilter = options.resourceType ? 'AND resource_type = $1' : '';
  const typeParams = options.resourceType ? [options.resourceType] : [];
  const total = (
    await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE NOT deleted ${typeFilter}`, typeParams)
  ).rows[0]?.n ?? 0;
  let done = 0;
  let after: [string, string] = ['', ''];
  for (;;) {
    const n = typeParams.length;
    const page = await db.query<{ resource_type: string; id: string; content: string }>(
      `SELECT resource_type, id, content FROM resource
        WHERE NOT deleted ${typeFilter} AND (resource_type, id) > ($${n + 1}, $${n + 2})
        ORDER BY resource_type, id LIMIT ${batchSize}`,
      [...typeParams, after[0], after[1]]
    );
    if (!page.rows.length) break;
    await db.transaction(async (tx) => {
      for (const row of page.rows) {
        const p: unknown[] = [row.resource_type, row.id];
        const add = (v: unknown): string => {
          p.push(v);
          return `$${p.length}`;
        };
        const rows = extractIndexRows(JSON.parse(row.content) as Resource, options.localBase);
        await tx.query(`WITH ${indexCtes(rows, true, add).join(',\n')} SELECT 1`, p);
      }
    });
    done += page.rows.length;
    const last = page.rows[page.rows.length - 1] as { resource_type: string; id: string };
    after = [last.resource_type, last.id];
    options.onProgress?.({ done, total });
  }
  db.noteWrites(done);
  return done;
}
