import { auditEventOf } from '../audit/stored-event.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { normalise, SELECT_COLUMNS } from './audit-query.ts';
import type { IgAuditRow } from './audit-query.ts';
import { csvLine } from './csv.ts';
import { entityReferences, gateParts, userRole } from './event-parts.ts';

/** One access to the person's record, as the subject access report states it. */
export interface AccessEntry {
  seq: number;
  recorded: string;
  organisation: string | null;
  user: string | null;
  role?: string;
  action: string;
  interaction: string;
  /** Resource types touched: types, not ids, so nothing about anyone else can slip in. */
  resourceTypes: string[];
  purpose: string | null;
  lawfulBasis: string[];
  rules: string[];
  outcome: string;
  override: string | null;
  justification?: string;
  review?: { recorded: string; outcome?: string; by: string | null };
}

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/** Our Patient ids carrying this NHS number (usually one; a merged duplicate makes two). */
export async function patientIdsByNhsNumber(sql: SqlClient, nhsNumber: string): Promise<string[]> {
  const r = await sql.query<{ id: string }>(
    `SELECT DISTINCT t.id FROM sp_token t JOIN resource r ON r.resource_type = t.resource_type AND r.id = t.id AND NOT r.deleted
      WHERE t.resource_type = 'Patient' AND t.code = 'identifier' AND t.system = $1 AND t.value = $2 ORDER BY t.id`,
    [NHS_NUMBER_SYSTEM, nhsNumber]
  );
  return r.rows.map((x) => x.id);
}

/**
 * Every record about these Patient ids, oldest first, as report entries;
 * override reviews (records pointing back at an override) are folded into
 * the override they review rather than listed as accesses. The review note
 * stays out: it is IG's working note, not part of the person's answer.
 */
export async function loadAccessReport(sql: SqlClient, patientIds: readonly string[]): Promise<AccessEntry[]> {
  if (!patientIds.length) return [];
  const r = await sql.query<IgAuditRow>(`SELECT ${SELECT_COLUMNS} FROM audit_event a WHERE a.patient_id = ANY($1::text[]) ORDER BY a.seq`, [[...patientIds]]);
  const entries: AccessEntry[] = [];
  const bySeq = new Map<number, AccessEntry>();
  for (const row of r.rows.map(normalise)) {
    const event = auditEventOf(row.content, row.seq);
    const parts = gateParts(event);
    if (row.reviews_seq !== null) {
      const target = bySeq.get(row.reviews_seq);
      if (target) target.review = { recorded: row.recorded, outcome: parts.reviewOutcome, by: row.org_ods };
      continue;
    }
    const entry: AccessEntry = {
      seq: row.seq,
      recorded: row.recorded,
      organisation: row.org_ods,
      user: row.user_id,
      role: userRole(event),
      action: row.action,
      interaction: row.subtype,
      resourceTypes: [...new Set(entityReferences(event).map((ref) => ref.split('/')[0] ?? ''))].filter(Boolean),
      purpose: row.purpose,
      lawfulBasis: parts.lawfulBasis.length ? parts.lawfulBasis : row.lawful_basis ? [row.lawful_basis] : [],
      rules: parts.rules,
      outcome: row.outcome,
      override: row.override,
      justification: parts.justification,
    };
    entries.push(entry);
    bySeq.set(row.seq, entry);
  }
  return entries;
}

export const ACCESS_CSV_HEADER = [
  'recorded',
  'organisation',
  'user',
  'user role',
  'action',
  'interaction',
  'resource types',
  'purpose',
  'lawful basis',
  'rules',
  'outcome',
  'override',
  'justification',
  'review state',
  'review outcome',
  'reviewed',
];

export function accessReportCsv(entries: readonly AccessEntry[]): string {
  return (
    csvLine(ACCESS_CSV_HEADER) +
    entries
      .map((e) =>
        csvLine([
          e.recorded,
          e.organisation,
          e.user,
          e.role,
          e.action,
          e.interaction,
          e.resourceTypes.join(' '),
          e.purpose,
          e.lawfulBasis.join(' '),
          e.rules.join(' '),
          e.outcome,
          e.override,
          e.justification,
          e.override ? (e.review ? 'reviewed' : 'pending') : '',
          e.review?.outcome,
          e.review?.recorded,
        ])
      )
      .join('')
  );
}
