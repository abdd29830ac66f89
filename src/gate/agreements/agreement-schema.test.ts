import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGREEMENT_SCHEMA_ID, agreementJsonSchema, parseAgreementFile } from './agreement-schema.ts';
import { agreementStatus, dateInEngland } from './agreement-status.ts';
import { DEMO_AGREEMENTS } from './demo-agreements.ts';

const EXAMPLES = join(import.meta.dirname, '../../../docs/examples/agreements');

const valid = () => structuredClone(DEMO_AGREEMENTS[0]!) as unknown as Record<string, unknown>;

function issues(input: unknown): string[] {
  const r = parseAgreementFile(input);
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('agreement file schema', () => {
  it('accepts every demo agreement, and docs/examples/agreements holds exactly them', () => {
    for (const a of DEMO_AGREEMENTS) expect(issues(a), a.id).toEqual([]);
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(DEMO_AGREEMENTS.map((a) => `${a.id}.json`).sort());
    for (const a of DEMO_AGREEMENTS) {
      expect(JSON.parse(readFileSync(join(EXAMPLES, `${a.id}.json`), 'utf8')), a.id).toEqual(a);
    }
  });

  it('names every problem by its JSONPath', () => {
    const bad = {
      ...valid(),
      id: 'Not A Slug',
      parties: [{ ods: 'x9c01', name: '' }],
      purposes: ['TREAT', 'SNOOPING'],
      dataClasses: [],
      lawfulBasis: { art6: 'art6-1-z', art9: 'art9-2-h' },
      period: { start: '2026-13-01' },
      version: 2,
    };
    expect(issues(bad)).toEqual([
      expect.stringMatching(/^\$\.id: an id is lower-case/),
      expect.stringMatching(/^\$\.parties\[0\]\.ods: an ODS code is 3 to 10 capital letters and digits$/),
      '$.parties[0].name: must not be empty',
      '$.parties: an agreement has at least two parties',
      expect.stringMatching(/^\$\.purposes\[1\]: Invalid option: expected one of "TREAT"/),
      '$.dataClasses: at least one data class',
      expect.stringMatching(/^\$\.lawfulBasis\.art6: Invalid option/),
      '$.period.start: a date as YYYY-MM-DD',
      '$.version: unknown field "version"',
    ]);
  });

  it('says "required" for missing fields and refuses a non-object', () => {
    expect(issues({})).toEqual(['$.id: required', '$.title: required', '$.parties: required', '$.purposes: required', '$.dataClasses: required', '$.lawfulBasis: required', '$.period: required']);
    expect(issues([])).toEqual(['$: an agreement is a JSON object']);
    expect(issues(null)).toEqual(['$: an agreement is a JSON object']);
  });

  it('checks the rules that span fields: end not before start, no repeats, Schedule 1 with Art 9(2)(h)', () => {
    const a = valid();
    a.period = { start: '2026-04-01', end: '2026-03-31' };
    a.parties = [{ ods: 'X9C01', name: 'a' }, { ods: 'X9C01', name: 'b' }];
    a.dataClasses = ['person', 'contacts', 'person'];
    a.lawfulBasis = { art6: 'art6-1-e', art9: 'art9-2-h' };
    expect(issues(a)).toEqual([
      '$.parties[1]: repeats party "X9C01"',
      '$.dataClasses[2]: repeats data class "person"',
      '$.lawfulBasis.dpaSchedule1: required with art9-2-h: DPA 2018 s10 needs a Schedule 1 condition for it',
      '$.period.end: must not be before start',
    ]);
    // Art 9(2)(a) explicit consent and (c) vital interests need no Schedule 1 condition.
    a.parties = [{ ods: 'X9C01', name: 'a' }, { ods: 'X99001', name: 'b' }];
    a.dataClasses = ['person'];
    a.lawfulBasis = { art6: 'art6-1-a', art9: 'art9-2-a', commonLaw: 'explicit-consent' };
    a.period = { start: '2026-04-01', end: '2026-04-01' };
    expect(issues(a)).toEqual([]);
  });

  it('publishes a JSON Schema generated from the zod schema', () => {
    const schema = agreementJsonSchema() as { $id: string; $schema: string; required: string[]; additionalProperties: boolean; properties: Record<string, { items?: { enum?: string[] } }> };
    expect(schema.$id).toBe(AGREEMENT_SCHEMA_ID);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(['id', 'title', 'parties', 'purposes', 'dataClasses', 'lawfulBasis', 'period']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.purposes?.items?.enum).toContain('safeguarding-adults');
    expect(schema.properties.dataClasses?.items?.enum).toContain('carer-data');
    // A copy each time: callers cannot change the cached one.
    (schema as Record<string, unknown>).$id = 'x';
    expect(agreementJsonSchema().$id).toBe(AGREEMENT_SCHEMA_ID);
  });
});

describe('agreementStatus', () => {
  const a = { period: { start: '2026-04-01', end: '2027-03-31' } };
  it('treats period dates as whole days in England', () => {
    // 23:30 UTC on 31 March 2026 is already 1 April in London (BST).
    expect(dateInEngland(new Date('2026-03-31T23:30:00Z'))).toBe('2026-04-01');
    expect(agreementStatus(a, new Date('2026-03-31T22:59:59Z'))).toBe('not-yet');
    expect(agreementStatus(a, new Date('2026-03-31T23:00:00Z'))).toBe('in-force');
    // BST again by then (from 28 March 2027): the last day ends at 23:00 UTC.
    expect(agreementStatus(a, new Date('2027-03-31T22:59:59Z'))).toBe('in-force');
    expect(agreementStatus(a, new Date('2027-03-31T23:00:00Z'))).toBe('expired');
    expect(agreementStatus({ period: { start: '2026-04-01' } }, new Date('2099-01-01T00:00:00Z'))).toBe('in-force');
  });

  it('ends at endedAt, whatever the period says', () => {
    const ended = { ...a, endedAt: '2026-06-01T12:00:00.000Z' };
    expect(agreementStatus(ended, new Date('2026-06-01T11:59:59Z'))).toBe('in-force');
    expect(agreementStatus(ended, new Date('2026-06-01T12:00:00Z'))).toBe('ended');
    expect(agreementStatus(ended, new Date('2028-01-01T00:00:00Z'))).toBe('ended');
  });
});
