import { auditEventOf } from '../audit/stored-event.ts';
import type { IgAuditRow } from './audit-query.ts';
import { gateParts } from './event-parts.ts';

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would run as a formula
 * (starting = + - @, or a tab or carriage return that some strip first) is
 * prefixed with ' so it shows as text: the values include what users typed
 * (justifications, notes) and come back to an IG lead's spreadsheet.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly (string | number | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export const AUDIT_CSV_HEADER = [
  'seq',
  'recorded',
  'patient',
  'organisation',
  'client',
  'user',
  'purpose',
  'outcome',
  'action',
  'interaction',
  'lawful basis',
  'override',
  'review state',
  'rules fired',
  'agreement',
  'consent',
] as const;

/** A record as one CSV row, in AUDIT_CSV_HEADER order; multi-valued cells are space-separated. */
export function auditCsvRow(row: IgAuditRow): string {
  const parts = gateParts(auditEventOf(row.content, row.seq));
  return csvLine([
    row.seq,
    row.recorded,
    row.patient_id,
    row.org_ods,
    row.client_id,
    row.user_id,
    row.purpose,
    row.outcome,
    row.action,
    row.subtype,
    parts.lawfulBasis.length ? parts.lawfulBasis.join(' ') : row.lawful_basis,
    row.override,
    row.review_state,
    parts.rules.join(' '),
    parts.agreement,
    parts.consent,
  ]);
}
