import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/ig/access-report-html.ts';
import { csvCell, csvLine } from '../../src/ig/csv.ts';
import { parseAuditSearch } from '../../src/ig/audit-filters.ts';
import { dateRange } from '../../src/ig/audit-filters.ts';

describe('IG CSV and HTML escaping', () => {
  it('quotes what needs quoting and neutralises spreadsheet formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const f of ['=HYPERLINK("x")', '+1', '-1+2', '@SUM(A1)', '\tTAB']) expect(csvCell(f).replace(/^"/, '')).toMatch(/^'/);
    expect(csvCell('=1,2')).toBe(`"'=1,2"`);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
    expect(csvLine(['a', 1, undefined])).toBe('a,1,\r\n');
  });

  it('escapes every HTML-significant character', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'=\``)).toBe('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;&#61;&#96;');
  });

  it('reads dates as [from, to) with a bare "to" date covering its whole day', () => {
    expect(dateRange({ from: '2026-06-01', to: '2026-06-30' })).toEqual({ from: '2026-06-01T00:00:00Z', to: '2026-07-01T00:00:00.000Z' });
    expect(() => parseAuditSearch({ from: '2026-02-31T00:00:00Z' })).toThrow(/not a real date/);
    expect(() => parseAuditSearch({ to: '2026-06-01T25:00:00Z' })).toThrow(/not a real date/);
    expect(() => parseAuditSearch({ from: '2026-13-45' })).toThrow(/not a real date/);
    expect(parseAuditSearch({ to: '2028-02-29T23:59:59.999+01:00' }).to).toBe('2028-02-29T23:59:59.999+01:00');
    expect(parseAuditSearch({ organisation: 'x99001' }).organisation).toBe('X99001');
    expect(parseAuditSearch({})._count).toBe(50);
  });
});
