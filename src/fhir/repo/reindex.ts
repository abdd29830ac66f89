import type { Database } from '../../db/sql-client.ts';
import { extractIndexRows } from '../search/index-values.ts';
import { indexCtes } from './write-version.ts';
import type { Resource } from '@medplum/fhirtypes';
import { resourceLabels } from '../../gate/labels/resource-labels.ts';

export interface ReindexProgress {
  done: number;
  total: number;
}

/**
 * Rebuilds the search index rows and the gate's labels of every current
 * resource (or of one type) from the stored JSON. Needed when what a search parameter indexes changes
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
        const resource = JSON.parse(row.content) as Resource;
        const rows = extractIndexRows(resource, options.localBase);
        const labels = resourceLabels(resource, options.localBase);
        const label = `upd_labels AS (UPDATE resource SET patient_id = ${add(labels.patientId ?? null)}::text,
          data_class = ${add(labels.dataClass ?? null)}::text, third_party = ${add(labels.thirdParty ?? null)}::text
          WHERE resource_type = $1 AND id = $2 AND ${add(labels.inheritFrom ? 'inherit' : 'own')} = 'own')`;
        await tx.query(`WITH ${[...indexCtes(rows, true, add), label].join(',\n')} SELECT 1`, p);
      }
    });
    done += page.rows.length;
    const last = page.rows[page.rows.length - 1] as { resource_type: string; id: string };
    after = [last.resource_type, last.id];
    options.onProgress?.({ done, total });
  }
  await fillInheritedLabels(db);
  db.noteWrites(done);
  return done;
}

/**
 * Labels that come from elsewhere: the controller of records pushed before
 * labels existed (from the council ledger), and a Provenance's patient, class
 * and controller (from the first resource it targets).
 */
async function fillInheritedLabels(db: Database): Promise<void> {
  await db.query(`UPDATE resource r SET controller = c.council_ods
      FROM council_record c, unnest(c.resources) AS ref
     WHERE r.controller IS NULL AND ref = r.resource_type || '/' || r.id`);
  await db.query(`UPDATE resource p SET patient_id = t.patient_id, data_class = t.data_class,
         controller = COALESCE(p.controller, t.controller)
      FROM resource t
     WHERE p.resource_type = 'Provenance' AND NOT p.deleted AND p.patient_id IS NULL
       AND t.resource_type || '/' || t.id = (p.content::jsonb -> 'target' -> 0 ->> 'reference')`);
}
