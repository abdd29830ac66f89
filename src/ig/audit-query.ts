import type { SqlClient } from '../db/sql-client.ts';
import { dateRange } from './audit-filters.ts';
import type { AuditFilters } from './audit-filters.ts';
import type { AuditColumns } from '../audit/types.ts';

/** One stored record as the IG API reads it; review_state is the effective one (see below). */
export interface IgAuditRow extends AuditColumns {
  seq: number;
  content: string;
  hash: string;
}

/** A review is a later row pointing back (the table is append-only), found through audit_event_reviews_idx. */
export const IS_REVIEWED = (alias: string) => `EXISTS (SELECT 1 FROM audit_event r WHERE r.reviews_seq = ${alias}.seq)`;

/**
 * An override row keeps review_state 'pending' forever (no UPDATE), so the
 * state IG sees is derived: reviewed once a review row points at it.
 */
export const SELECT_COLUMNS = `a.seq, to_char(a.recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded,
  a.patient_id, a.client_id, a.org_ods, a.user_id, a.purpose, a.outcome, a.action, a.subtype, a.lawful_basis, a.override,
  CASE WHEN a.override IS NOT NULL THEN CASE WHEN ${IS_REVIEWED('a')} THEN 'reviewed' ELSE 'pending' END ELSE a.review_state END AS review_state,
  a.reviews_seq, a.content, a.hash`;

/** WHERE clauses and parameters for the filters; every value is a bind parameter. */
export function whereOf(f: AuditFilters, params: unknown[]): string[] {
  const where: string[] = [];
  const eq = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    params.push(value);
    where.push(`a.${column} = $${params.length}`);
  };
  eq('patient_id', f.patient);
  eq('org_ods', f.organisation);
  eq('user_id', f.user);
  eq('outcome', f.outcome);
  eq('purpose', f.purpose);
  eq('lawful_basis', f['lawful-basis']);
  eq('override', f.override);
  // Every override row is written 'pending' (balp.ts) and never updated, so this
  // changes no result; it lets the planner use the small partial pending index.
  if (f.override) where.push(`a.review_state = 'pending'`);
  const range = dateRange(f);
  if (range.from) {
    params.push(range.from);
    where.push(`a.recorded >= $${params.length}::timestamptz`);
  }
  if (range.to) {
    params.push(range.to);
    where.push(`a.recorded < $${params.length}::timestamptz`);
  }
  if (f.review === 'pending') where.push(`a.review_state = 'pending' AND a.override IS NOT NULL AND NOT ${IS_REVIEWED('a')}`);
  if (f.review === 'reviewed') where.push(`a.override IS NOT NULL AND ${IS_REVIEWED('a')}`);
  return where;
}

/**
 * One page, newest first (recorded, then seq), after the record `cursor`
 * (a seq from the previous page): keyset, so page 1,000 costs what page 1
 * does. The ordering matches the v5 indexes (patient_id, recorded),
 * (org_ods, recorded) and (recorded), scanned backwards; the extra
 * `recorded <=` bound lets the planner use them for the cursor too.
 * A cursor whose record has since been archived yields an empty page.
 */
export async function searchAuditRows(sql: SqlClient, f: AuditFilters, count: number, cursor?: number): Promise<IgAuditRow[]> {
  const params: unknown[] = [];
  const where = whereOf(f, params);
  if (cursor !== undefined) {
    params.push(cursor);
    const c = `$${params.length}`;
    where.push(`(a.recorded, a.seq) < (SELECT c.recorded, c.seq FROM audit_event c WHERE c.seq = ${c})`);
    where.push(`a.recorded <= (SELECT c.recorded FROM audit_event c WHERE c.seq = ${c})`);
  }
  params.push(count);
  const r = await sql.query<IgAuditRow>(
    `SELECT ${SELECT_COLUMNS} FROM audit_event a ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY a.recorded DESC, a.seq DESC LIMIT $${params.length}`,
    params
  );
  return r.rows.map(normalise);
}

/** One record by seq, or undefined. */
export async function auditRowBySeq(sql: SqlClient, seq: number): Promise<IgAuditRow | undefined> {
  const r = await sql.query<IgAuditRow>(`SELECT ${SELECT_COLUMNS} FROM audit_event a WHERE a.seq = $1`, [seq]);
  const row = r.rows[0];
  return row ? normalise(row) : undefined;
}

/** bigint columns arrive as string, number or BigInt depending on the driver. */
export function normalise(row: IgAuditRow): IgAuditRow {
  row.seq = Number(row.seq);
  if (row.reviews_seq !== null) row.reviews_seq = Number(row.reviews_seq);
  return row;
}
