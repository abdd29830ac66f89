import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../../test/support/backends.ts';
import type { Database } from '../../db/sql-client.ts';
import { makeTestNhsNumber } from '../../fhir/validation/nhs-number.ts';
import { OptOutFileError, isOptedOut, loadOptOutFile, optOutStatus, parseOptOutFile } from './opt-out-store.ts';

const [A, B, C] = [makeTestNhsNumber(1), makeTestNhsNumber(2), makeTestNhsNumber(3)];
/** A ten-digit number whose check digit is wrong. */
const BAD_CHECK = `${A.slice(0, 9)}${(Number(A[9]) + 1) % 10}`;

function errorsOf(text: string): string[] {
  try {
    parseOptOutFile(text);
  } catch (err) {
    if (err instanceof OptOutFileError) return err.errors.map((e) => `line ${e.line}: ${e.message}`);
    throw err;
  }
  return [];
}

describe('parseOptOutFile', () => {
  it('reads lines with an optional header, blank lines, CRLF and spaced numbers', () => {
    const spaced = `${B.slice(0, 3)} ${B.slice(3, 6)} ${B.slice(6)}`;
    expect(parseOptOutFile(`nhs_number,status\r\n${A},opted-out\r\n\r\n${spaced}, Not-Opted-Out \r\n`)).toEqual([
      { nhsNumber: A, optedOut: true },
      { nhsNumber: B, optedOut: false },
    ]);
    expect(parseOptOutFile(`\uFEFF\n\nNHS Number,Opt-out status\n${C},opted-out`)).toEqual([{ nhsNumber: C, optedOut: true }]);
    expect(parseOptOutFile('')).toEqual([]);
    // A repeat with the same status is harmless.
    expect(parseOptOutFile(`${A},opted-out\n${A},opted-out`)).toEqual([{ nhsNumber: A, optedOut: true }]);
  });

  it('reports every bad line by number and never echoes an NHS number', () => {
    const text = [`${A},opted-out`, `${BAD_CHECK},opted-out`, '12345,opted-out', `${B},maybe`, `${C}`, `${A},not-opted-out`, 'nhs_number,status'].join('\n');
    const errors = errorsOf(text);
    expect(errors).toEqual([
      'line 2: the NHS number fails the modulus 11 check digit',
      'line 3: the NHS number must be 10 digits',
      'line 4: the status must be opted-out or not-opted-out',
      'line 5: expected two fields: NHS number, then opted-out or not-opted-out',
      'line 6: the same NHS number as line 1 with a different status',
      // A header is only accepted as the first line.
      'line 7: the NHS number must be 10 digits; the status must be opted-out or not-opted-out',
    ]);
    let message = '';
    try {
      parseOptOutFile(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^the file was not loaded \(nothing changed\); 6 bad line\(s\):\nline 2: /);
    for (const n of [A, B, C, BAD_CHECK, '12345']) expect(message).not.toContain(n);
  });

  it('shows at most 20 errors and says how many more', () => {
    const text = Array.from({ length: 25 }, () => 'x,y').join('\n');
    expect(() => parseOptOutFile(text)).toThrow(/line 20: [^\n]*\n\.\.\. and 5 more bad line\(s\)$/);
  });
});

describe.each(backends())('opt-out store on $name', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => db?.close());

  it('upserts a file and answers per person', async () => {
    expect(await loadOptOutFile(db, `${A},opted-out\n${B},not-opted-out\n`)).toEqual({ optedOut: 1, notOptedOut: 1 });
    expect(await isOptedOut(db, [A])).toBe(true);
    expect(await isOptedOut(db, [B])).toBe(false);
    expect(await isOptedOut(db, [C])).toBe(false); // nothing loaded: not opted out
    expect(await isOptedOut(db, [B, C, A])).toBe(true); // any of a person's numbers
    expect(await isOptedOut(db, [])).toBe(false);
    expect(await optOutStatus(db, A)).toMatchObject({ status: 'opted-out' });
    expect(await optOutStatus(db, C)).toBeUndefined();

    // A later file changes a person's status (they opted back in) and leaves others alone.
    const later = new Date('2026-12-01T00:00:00Z');
    await loadOptOutFile(db, `${A},not-opted-out\n${C},opted-out\n`, later);
    expect(await isOptedOut(db, [A])).toBe(false);
    expect(await optOutStatus(db, C)).toEqual({ status: 'opted-out', loadedAt: later.toISOString() });
    expect(await optOutStatus(db, B)).toMatchObject({ status: 'not-opted-out' });
  });

  it('changes nothing when any line is bad', async () => {
    await expect(loadOptOutFile(db, `${A},opted-out\n${BAD_CHECK},opted-out\n`)).rejects.toBeInstanceOf(OptOutFileError);
    expect(await isOptedOut(db, [A])).toBe(false);
  });

  it('loads a large file in one transaction', async () => {
    const lines = Array.from({ length: 12_000 }, (_, i) => `${makeTestNhsNumber(1000 + i)},${i % 3 === 0 ? 'opted-out' : 'not-opted-out'}`);
    expect(await loadOptOutFile(db, lines.join('\n'))).toEqual({ optedOut: 4000, notOptedOut: 8000 });
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM data_opt_out WHERE opted_out');
    expect(n.rows[0]!.n).toBe(4000 + 1);
  });
});
