import { OperationOutcomeError } from '@medplum/core';
import type { SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, LabelRow } from './gate-port.ts';

/**
 * Gated paging: the matches' labels (never their content) are read in full,
 * the gate keeps what the requester may see, and only then are totals
 * counted and the page cut, so totals, paging links and page contents all
 * describe the permitted set alone and nothing reveals what was withheld.
 */
export const MAX_GATED_MATCHES = 100_000;

export interface GatedPage<T extends LabelRow> {
  page: T[];
  total: number;
  hasMore: boolean;
}

/**
 * The label columns, plus the content of the first `n` matches in the
 * query's own order: one round trip answers the usual search (one person's
 * record, a page of it), and a second (loadContents) is needed only when
 * withheld rows push the page past them.
 */
export function labelsWithLeadingContent(labelColumns: string, orderBy: string, n: number): string {
  return `${labelColumns}, CASE WHEN row_number() OVER (ORDER BY ${orderBy}) <= ${Math.max(0, Math.floor(n))} THEN r.content END AS content`;
}

export async function gatedPage<T extends LabelRow & { content?: string | null }>(
  sql: SqlClient,
  gate: AccessGate,
  labelQuery: { text: string; values: unknown[] },
  offset: number,
  count: number,
  operation: 'read' | 'search' = 'search'
): Promise<GatedPage<T>> {
  const r = await sql.query<T>(`${labelQuery.text} LIMIT ${MAX_GATED_MATCHES + 1}`, labelQuery.values);
  if (r.rows.length > MAX_GATED_MATCHES) {
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'too-costly', details: { text: `More than ${MAX_GATED_MATCHES} matches: narrow the search` } }],
    });
  }
  const permitted = await gate.filter(sql, r.rows, operation);
  return { page: permitted.slice(offset, offset + count), total: permitted.length, hasMore: permitted.length > offset + count };
}

/** Current content of these resources, in the given order (deleted ones are skipped). */
export async function loadContents(sql: SqlClient, rows: readonly (LabelRow & { content?: string | null })[]): Promise<{ row: LabelRow; content: string }[]> {
  if (!rows.length) return [];
  if (rows.every((x) => typeof x.content === 'string')) return rows.map((row) => ({ row, content: row.content as string }));
  const r = await sql.query<{ resource_type: string; id: string; content: string }>(
    `SELECT r.resource_type, r.id, r.content FROM resource r
       JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i
      WHERE NOT r.deleted`,
    [rows.map((x) => x.resource_type), rows.map((x) => x.id)]
  );
  const byKey = new Map(r.rows.map((x) => [`${x.resource_type}/${x.id}`, x.content]));
  return rows.flatMap((row) => {
    const content = byKey.get(`${row.resource_type}/${row.id}`);
    return content === undefined ? [] : [{ row, content }];
  });
}
