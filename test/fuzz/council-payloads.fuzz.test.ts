import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { parseScopes } from '../../src/auth/scopes.ts';
import { exceedsDepth } from '../../src/http/json-body.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { anyJson, deepNesting, expectFhirAnswer, expectIssue, expectOperationOutcome, mutate, mutation, nastyString, fuzzParams, FUZZ_TEST_TIMEOUT_MS, printTally } from './fuzz-support.ts';
import type { Answer } from './fuzz-support.ts';

/*
 * Council push under fuzzing: whatever a council sends to POST
 * /council/v1/records or /council/v1/import, the gateway answers without a
 * 5xx, refuses a bad request with an OperationOutcome, refuses a bad record
 * with issues that say where it is wrong, and still stores the good records
 * sent alongside it. Synthetic data only: the examples' invented people and
 * NHS numbers from the 999 test range.
 */

const EXAMPLES = join(import.meta.dirname, '../../docs/examples/council');
const examples: any[] = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')));
const COUNCIL = { ods: 'X9C01', name: 'Fuzz Council', kind: 'local-authority' as const };

/** Seeds for good person records: unique per test file run, so every good record is new. */
let nextSeed = 50_000;
function goodPerson(): any {
  const seed = nextSeed++;
  const base = examples.find((e) => e.recordType === 'person');
  return {
    ...base,
    source: { ...base.source, recordId: `FUZZ-${seed}`, lastUpdated: '2026-01-10T10:00:00Z' },
    person: { localId: `LOC-F${seed}`, nhsNumber: makeTestNhsNumber(seed) },
    name: { ...base.name, family: `Fuzzperson${seed}` },
  };
}

/** Values a council system gets wrong: bad dates, bad NHS numbers, unknown codes, wrong types. */
const councilValue: fc.Arbitrary<unknown> = fc.oneof(
  anyJson,
  fc.constantFrom(
    '2026-02-30',
    '2026-13-01',
    '0000-00-00',
    '99999-01-01',
    '2026-01-01T25:61:00Z',
    '2026-01-01T10:00:00',
    '2026-01-01T10:00:00+99:00',
    '1899-12-31',
    '3026-01-01',
    'yesterday',
    '9990000019',
    '9999999999',
    '0000000000',
    '999 000 0018',
    '999000001',
    '99900000188',
    'abcdefghij',
    9990000018,
    'ZZZ-UNKNOWN',
    'X99001',
    'A',
    'person',
    'tombstone',
    '1',
    '2',
    'PER-\u0000',
    '\u0000',
    'X9C01\u0000',
    '\uD800'
  ),
  fc.constantFrom('formatVersion', 'recordType', 'source', 'person', 'deleted').map((k) => ({ [k]: null }))
);

/** An example record with 1..4 mutations. */
const nearValid: fc.Arbitrary<unknown> = fc
  .tuple(fc.nat({ max: examples.length - 1 }), fc.array(mutation(councilValue), { minLength: 1, maxLength: 4 }))
  .map(([i, ms]) => mutate(examples[i], ms));

const anyRecord: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: nearValid }, { weight: 1, arbitrary: anyJson });

describe.each(backends())('council push under fuzzing ($name)', (backend) => {
  const s = suiteServer(backend);
  afterAll(printTally);
  // Renewed every two minutes: tokens last five, and a soak (FUZZ_SCALE) runs longer.
  let token = '';
  let issuedAt = 0;
  const councilToken = async (): Promise<string> => {
    if (Date.now() - issuedAt > 120_000) {
      token = await s.issueToken({ organisation: COUNCIL, scopes: parseScopes('system/council.write system/*.rs') });
      issuedAt = Date.now();
    }
    return token;
  };

  async function post(path: string, body: string | Uint8Array, contentType: string | undefined): Promise<Answer> {
    const res = await fetch(`${s.baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await councilToken()}`, accept: 'application/json', ...(contentType === undefined ? {} : { 'content-type': contentType }) },
      body,
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }
  const pushRecords = (body: unknown) => post('/council/v1/records', JSON.stringify(body) ?? 'null', 'application/json');

  /** A rejected record result: below 500, every issue saying what is wrong, and (but for 409) some issue saying where. */
  function expectRejection(r: any, what: string): void {
    expect(r.httpStatus, what).toBeGreaterThanOrEqual(400);
    expect(r.httpStatus, what).toBeLessThan(500);
    expect(r.resources, what).toEqual([]);
    expectOperationOutcome(r.issues, what);
    // 409 (older than what is stored) is about the record as a whole; every other refusal says where.
    if (r.httpStatus !== 409) {
      const located = r.issues.issue.filter((i: any) => i.expression?.length || i.location?.length);
      expect(located.length, `${what}: some issue names a location: ${JSON.stringify(r.issues)}`).toBeGreaterThan(0);
    }
  }

  function expectRecordResult(r: any, index: number, what: string): void {
    expect(r.index, what).toBe(index);
    expect(['created', 'updated', 'unchanged', 'deleted', 'rejected'], what).toContain(r.status);
    if (r.status === 'rejected') expectRejection(r, what);
    else {
      expect(r.httpStatus, what).toBeLessThan(300);
      expect(r.issues, what).toBeUndefined();
    }
  }

  test('one record or an array: arbitrary JSON and mutated examples', async () => {
    const body = fc.oneof(anyRecord, fc.array(anyRecord, { maxLength: 4 }));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await pushRecords(b);
        const what = `POST /records ${JSON.stringify(b)?.slice(0, 300)}`;
        expectFhirAnswer(r, what);
        if (r.status !== 200) return;
        const sent = Array.isArray(b) ? b : [b];
        expect(r.body.results, what).toHaveLength(sent.length);
        for (const [i, result] of r.body.results.entries()) expectRecordResult(result, i, `${what} [${i}]`);
        expect(r.body.summary.received, what).toBe(sent.length);
      }),
      fuzzParams(60)
    );
  });

  test('an array with bad records among good ones stores every good one', async () => {
    // Nesting past MAX_JSON_DEPTH refuses the whole request (400 too-costly, a request limit like size): not a bad record among good ones.
    const bad = fc.oneof(nearValid, anyJson).filter((b) => !exceedsDepth(b, 60));
    const layout = fc.array(fc.oneof(fc.constant('good' as const), bad.map((b) => ({ bad: b }))), { minLength: 1, maxLength: 5 }).filter((l) => l.some((x) => x === 'good'));
    await fc.assert(
      fc.asyncProperty(layout, async (l) => {
        const records = l.map((x) => (x === 'good' ? goodPerson() : x.bad));
        const r = await pushRecords(records);
        const what = `POST /records mixed ${JSON.stringify(records).slice(0, 300)}`;
        expect(r.status, what).toBe(200);
        for (const [i, x] of l.entries()) {
          const result = r.body.results[i];
          expectRecordResult(result, i, `${what} [${i}]`);
          if (x !== 'good') continue;
          expect(result.status, `${what} [${i}] good record: ${JSON.stringify(result)}`).toBe('created');
          const [type, id] = String(result.resources.find((ref: string) => ref.startsWith('Patient/'))).split('/');
          const stored = await s.db.query<{ content: string }>('SELECT content FROM resource WHERE resource_type = $1 AND id = $2 AND NOT deleted', [type, id]);
          expect(stored.rows, `${what} [${i}] stored`).toHaveLength(1);
          expect(JSON.parse(stored.rows[0]!.content).name[0].family).toBe(records[i].name.family);
        }
      }),
      fuzzParams(25)
    );
  });

  test('raw bodies and content types on /records: never a 5xx, always an OperationOutcome when refused', async () => {
    const raw = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }),
      anyRecord.map((r) => JSON.stringify(r) ?? ''),
      anyRecord.map((r) => (JSON.stringify(r) ?? '').slice(0, -1)),
      deepNesting().map((d) => JSON.stringify(d))
    );
    const type = fc.constantFrom(
      undefined,
      'application/json',
      'application/fhir+json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=nonsense',
      'application/x-ndjson',
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/xml',
      '',
      ';;;',
      'application/'
    );
    await fc.assert(
      fc.asyncProperty(raw, type, async (body, contentType) => {
        const r = await post('/council/v1/records', body, contentType);
        expectFhirAnswer(r, `POST /records (${contentType}) ${String(body).slice(0, 200)}`);
      }),
      fuzzParams(60)
    );
  });

  test('NDJSON import: mutated records, garbage lines and good records; every line answered, good ones stored', async () => {
    const line = fc.oneof(
      { weight: 2, arbitrary: fc.constant({ good: true as const }) },
      { weight: 3, arbitrary: anyRecord.map((r) => ({ line: JSON.stringify(r) ?? 'undefined' })) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })).map((t) => ({ line: t.replace(/[\r\n]/g, ' ') })) },
      { weight: 1, arbitrary: fc.constantFrom('', '   ', '{', '}', '[', '"', 'null', '[]', '{}', '\u0000', '\uFEFF{}', '{"formatVersion":"1"').map((t) => ({ line: t })) }
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), async (ls, eol) => {
        const goods = ls.map((l) => ('good' in l ? goodPerson() : undefined));
        const texts = ls.map((l, i) => ('good' in l ? JSON.stringify(goods[i]) : l.line));
        const r = await post('/council/v1/import', texts.join(eol) + eol, 'application/x-ndjson');
        const what = `import ${JSON.stringify(texts).slice(0, 300)}`;
        expect(r.status, what).toBe(200);
        const messages = r.text
          .split('\n')
          .filter(Boolean)
          .map((t) => JSON.parse(t));
        expect(messages.at(-1)?.summary, `${what}: ends with a summary`).toBeDefined();
        expect(messages.filter((m) => m.error), what).toEqual([]);
        const results = messages.filter((m) => !m.summary);
        // Every line that is not blank is answered, by its line number.
        const answered = texts.map((t, i) => (t.trim() === '' ? undefined : i + 1)).filter((n) => n !== undefined);
        expect(results.map((x) => x.line), what).toEqual(answered);
        for (const result of results) {
          const w = `${what} line ${result.line}`;
          expect(['created', 'updated', 'unchanged', 'deleted', 'rejected'], w).toContain(result.status);
          if (result.status === 'rejected') {
            expect(result.httpStatus, w).toBeGreaterThanOrEqual(400);
            expect(result.httpStatus, w).toBeLessThan(500);
            expectOperationOutcome(result.issues, w);
            if (![409, 413].includes(result.httpStatus) && result.issues.issue[0].details?.text !== 'This line is not well-formed JSON') {
              expect(
                result.issues.issue.some((i: any) => i.expression?.length),
                `${w}: names a location: ${JSON.stringify(result.issues)}`
              ).toBe(true);
            }
          }
          if (goods[result.line - 1]) expect(result.status, `${w} good record: ${JSON.stringify(result)}`).toBe('created');
        }
        expect(messages.at(-1).summary.lines, what).toBe(answered.length);
      }),
      fuzzParams(25)
    );
  });

  test('NDJSON import: raw bytes and content types', async () => {
    const type = fc.constantFrom(
      undefined,
      'application/x-ndjson',
      'application/ndjson; charset=utf-8',
      'application/jsonl; charset=latin1',
      'application/json',
      'text/plain',
      'application/x-ndjson; charset="utf-16"',
      '',
      'application/x-ndjson;;'
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), type, async (bytes, contentType) => {
        const r = await post('/council/v1/import', bytes, contentType);
        const what = `import bytes (${contentType}) ${Buffer.from(bytes).toString('hex').slice(0, 200)}`;
        expect(r.status, what).toBeLessThan(500);
        if (r.status !== 200) {
          expectFhirAnswer(r, what);
          return;
        }
        const messages = r.text
          .split('\n')
          .filter(Boolean)
          .map((t) => JSON.parse(t));
        expect(messages.at(-1)?.summary, what).toBeDefined();
        for (const m of messages.slice(0, -1)) {
          expect(m.httpStatus, what).toBeLessThan(500);
          if (m.status === 'rejected') for (const i of m.issues.issue) expectIssue(i, what);
        }
      }),
      fuzzParams(40)
    );
  });
}, FUZZ_TEST_TIMEOUT_MS);
