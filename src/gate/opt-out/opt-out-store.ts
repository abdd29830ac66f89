import type { Database, SqlClient } from '../../db/sql-client.ts';
import { isValidNhsNumber } from '../../fhir/validation/nhs-number.ts';
import { publishInvalidation } from '../../ops/cluster-invalidation.ts';

/**
 * National Data Opt-out status, as the operator loads it (rule 11; the
 * national service itself is out of reach). The file is the simplest thing an
 * IG team can produce from the NHS's MESH/"Check for National Data Opt-outs"
 * output: one line per person, `nhsNumber,opted-out` or
 * `nhsNumber,not-opted-out`, an optional header, blank lines ignored.
 *
 * A file is all or nothing: one bad line refuses the whole file, because a
 * half-loaded opt-out list would silently share data of people who opted out.
 * Error messages name lines, never NHS numbers: the file is personal data and
 * messages end up in terminals, tickets and logs.
 */

export type OptOutStatus = 'opted-out' | 'not-opted-out';

export interface OptOutEntry {
  nhsNumber: string;
  optedOut: boolean;
}

export interface OptOutLineError {
  line: number;
  message: string;
}

export class OptOutFileError extends Error {
  override name = 'OptOutFileError';
  constructor(readonly errors: OptOutLineError[]) {
    const shown = errors.slice(0, MAX_ERRORS_SHOWN).map((e) => `line ${e.line}: ${e.message}`);
    if (errors.length > MAX_ERRORS_SHOWN) shown.push(`... and ${errors.length - MAX_ERRORS_SHOWN} more bad line(s)`);
    super(`the file was not loaded (nothing changed); ${errors.length} bad line(s):\n${shown.join('\n')}`);
  }
}

const MAX_ERRORS_SHOWN = 20;
const STATUSES: Record<string, boolean> = { 'opted-out': true, 'not-opted-out': false };
const HEADER = /^nhs[ _-]?number\s*,\s*(status|opt[ _-]?out(?:[ _-]?status)?)$/i;
// Values are bound as arrays, so a batch is one statement however large; the cap keeps each bind small.
const BATCH = 5000;

/**
 * Parses a whole opt-out file. Every line is checked (so the operator sees
 * all problems in one run); on any problem it throws OptOutFileError.
 * Spaces inside the NHS number ("943 476 5919", as printed on letters) are
 * accepted and removed; a number repeated with a different status is refused
 * as ambiguous.
 */
export function parseOptOutFile(text: string): OptOutEntry[] {
  const errors: OptOutLineError[] = [];
  const byNumber = new Map<string, { optedOut: boolean; line: number }>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  // A header may only be the first non-blank line.
  const headerLine = lines.findIndex((l) => l.trim() !== '') + 1;
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '') return;
    if (line === headerLine && HEADER.test(trimmed)) return;
    const parts = trimmed.split(',');
    if (parts.length !== 2) {
      errors.push({ line, message: 'expected two fields: NHS number, then opted-out or not-opted-out' });
      return;
    }
    const nhs = parts[0]!.replace(/\s+/g, '');
    const status = parts[1]!.trim().toLowerCase();
    const lineErrors: string[] = [];
    if (!/^\d{10}$/.test(nhs)) lineErrors.push('the NHS number must be 10 digits');
    else if (!isValidNhsNumber(nhs)) lineErrors.push('the NHS number fails the modulus 11 check digit');
    if (!Object.hasOwn(STATUSES, status)) lineErrors.push('the status must be opted-out or not-opted-out');
    if (lineErrors.length) {
      errors.push({ line, message: lineErrors.join('; ') });
      return;
    }
    const optedOut = STATUSES[status]!;
    const seen = byNumber.get(nhs);
    if (seen && seen.optedOut !== optedOut) {
      errors.push({ line, message: `the same NHS number as line ${seen.line} with a different status` });
      return;
    }
    if (!seen) byNumber.set(nhs, { optedOut, line });
  });
  if (errors.length) throw new OptOutFileError(errors);
  return [...byNumber].map(([nhsNumber, v]) => ({ nhsNumber, optedOut: v.optedOut }));
}

export interface LoadResult {
  optedOut: number;
  notOptedOut: number;
}

/** Validates the whole file, then upserts every entry in one transaction. */
export async function loadOptOutFile(db: Database, text: string, now: Date = new Date()): Promise<LoadResult> {
  const entries = parseOptOutFile(text);
  await upsertOptOuts(db, entries, now);
  const optedOut = entries.filter((e) => e.optedOut).length;
  return { optedOut, notOptedOut: entries.length - optedOut };
}

/** Upserts entries in one transaction: all or none. */
export async function upsertOptOuts(db: Database, entries: readonly OptOutEntry[], now: Date = new Date()): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      await tx.query(
        `INSERT INTO data_opt_out (nhs_number, opted_out, loaded_at)
         SELECT n, o, $3::timestamptz FROM unnest($1::text[], $2::boolean[]) AS t(n, o)
         ON CONFLICT (nhs_number) DO UPDATE SET opted_out = excluded.opted_out, loaded_at = excluded.loaded_at`,
        [batch.map((e) => e.nhsNumber), batch.map((e) => e.optedOut), now.toISOString()]
      );
    }
    // Opt-outs are keyed by NHS number, not person id: every running instance drops all its person facts on commit.
    await publishInvalidation(tx, { kind: 'facts-all' });
  });
}

/**
 * True when any of a person's NHS numbers (a person may have had more than
 * one) is recorded as opted out. No record means not opted out: the opt-out
 * is something a person does, and the operator loads it.
 */
export async function isOptedOut(db: SqlClient, nhsNumbers: readonly string[]): Promise<boolean> {
  if (nhsNumbers.length === 0) return false;
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM data_opt_out WHERE nhs_number = ANY($1::text[]) AND opted_out', [[...nhsNumbers]]);
  return (r.rows[0]?.n ?? 0) > 0;
}

/** One NHS number's status; undefined when none was ever loaded for it. */
export async function optOutStatus(db: SqlClient, nhsNumber: string): Promise<{ status: OptOutStatus; loadedAt: string } | undefined> {
  const r = await db.query<{ opted_out: boolean; loaded_at: Date | string }>('SELECT opted_out, loaded_at FROM data_opt_out WHERE nhs_number = $1', [nhsNumber]);
  const row = r.rows[0];
  if (!row) return undefined;
  return { status: row.opted_out ? 'opted-out' : 'not-opted-out', loadedAt: new Date(row.loaded_at).toISOString() };
}
