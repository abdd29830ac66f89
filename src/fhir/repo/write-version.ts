import type { Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import { extractIndexRows } from '../search/index-values.ts';
import type { IndexRows } from '../search/index-values.ts';
import { resourceLabels } from '../../gate/labels/resource-labels.ts';

export type WriteMethod = 'create' | 'update' | 'delete';

export { INDEX_TEXT_MAX } from '../search/index-text.ts';

/**
 * Writes one version of a resource: the current row, the history row and the
 * search index rows, in ONE statement so that no reader (and no crash) can
 * ever see a resource without its indexes or history. Callers hold a
 * transaction when they also read-then-write.
 */
export async function writeVersion(
  sql: SqlClient,
  resource: Resource & { id: string },
  versionId: number,
  lastUpdated: string,
  method: WriteMethod,
  localBase?: string,
  /** ODS code of the organisation controlling the record (the gate's labels); kept as it was when undefined. */
  controller?: string
): Promise<void> {
  const deleted = method === 'delete';
  const content = deleted ? null : JSON.stringify(resource);
  const rows = deleted ? undefined : extractIndexRows(resource, localBase);
  const p: unknown[] = [resource.resourceType, resource.id, versionId, lastUpdated, deleted, content, method];
  const add = (v: unknown): string => {
    p.push(v);
    return `$${p.length}`;
  };
  const labels = deleted ? {} : resourceLabels(resource, localBase);
  // A Provenance belongs to the record it describes: it takes its target's labels, written earlier in the same transaction.
  const inherit = labels.inheritFrom
    ? (col: string): string => `(SELECT ${col} FROM resource WHERE resource_type = ${add(labels.inheritFrom?.type)} AND id = ${add(labels.inheritFrom?.id)})`
    : undefined;
  const patientId = inherit ? inherit('patient_id') : `${add(labels.patientId ?? null)}::text`;
  const dataClass = inherit ? inherit('data_class') : `${add(labels.dataClass ?? null)}::text`;
  const ctl = `${add(controller ?? null)}::text`;
  const ctes = [
    `cur AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content, patient_id, data_class, controller, third_party)
       VALUES ($1, $2, $3, $4, $5, $6, ${patientId}, ${dataClass}, ${ctl}, ${add(labels.thirdParty ?? null)}::text)
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id,
         last_updated = EXCLUDED.last_updated, deleted = EXCLUDED.deleted, content = EXCLUDED.content,
         patient_id = CASE WHEN EXCLUDED.deleted THEN resource.patient_id ELSE EXCLUDED.patient_id END,
         data_class = CASE WHEN EXCLUDED.deleted THEN resource.data_class ELSE EXCLUDED.data_class END,
         controller = COALESCE(EXCLUDED.controller, resource.controller),
         third_party = CASE WHEN EXCLUDED.deleted THEN resource.third_party ELSE EXCLUDED.third_party END)`,
    `ver AS (INSERT INTO resource_version (resource_type, id, version_id, last_updated, method, deleted, content)
       VALUES ($1, $2, $3, $4, $7, $5, $6))`,
  ];
  ctes.push(...indexCtes(rows, versionId > 1, add));
  await sql.query(`WITH ${ctes.join(',\n')} SELECT 1`, p);
}

/**
 * Data-modifying CTEs that replace a resource's search index rows, for a
 * statement whose $1 and $2 are its type and id. All sub-statements see the
 * same snapshot, so the deletes remove only the previous rows, never the ones
 * inserted beside them.
 */
export function indexCtes(rows: IndexRows | undefined, replace: boolean, add: (v: unknown) => string): string[] {
  const ctes: string[] = [];
  if (replace) {
    for (const t of ['sp_token', 'sp_string', 'sp_reference', 'sp_date']) {
      ctes.push(`del_${t} AS (DELETE FROM ${t} WHERE resource_type = $1 AND id = $2)`);
    }
  }
  if (!rows) return ctes;
  if (rows.token.code.length) {
    ctes.push(`ins_token AS (INSERT INTO sp_token (resource_type, id, code, system, value)
      SELECT $1, $2, * FROM unnest(${add(rows.token.code)}::text[], ${add(rows.token.system)}::text[], ${add(rows.token.value)}::text[]))`);
  }
  if (rows.string.code.length) {
    ctes.push(`ins_string AS (INSERT INTO sp_string (resource_type, id, code, value, exact)
      SELECT $1, $2, * FROM unnest(${add(rows.string.code)}::text[], ${add(rows.string.value)}::text[], ${add(rows.string.exact)}::text[]))`);
  }
  const r = rows.reference;
  if (r.code.length) {
    ctes.push(`ins_reference AS (INSERT INTO sp_reference (resource_type, id, code, target_type, target_id, reference, ident_system, ident_value)
      SELECT $1, $2, * FROM unnest(${add(r.code)}::text[], ${add(r.targetType)}::text[], ${add(r.targetId)}::text[],
        ${add(r.reference)}::text[], ${add(r.identSystem)}::text[], ${add(r.identValue)}::text[]))`);
  }
  if (rows.date.code.length) {
    ctes.push(`ins_date AS (INSERT INTO sp_date (resource_type, id, code, low, high)
      SELECT $1, $2, * FROM unnest(${add(rows.date.code)}::text[], ${add(rows.date.low)}::timestamptz[], ${add(rows.date.high)}::timestamptz[]))`);
  }
  return ctes;
}
