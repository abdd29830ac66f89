import fc from 'fast-check';
import { expect } from 'vitest';

/*
 * What every fuzz suite checks of an answer, and the generators they share.
 * The properties are the issue's: never a 5xx, and every error a FHIR
 * OperationOutcome that says what was wrong (RFC 6749 JSON at the token
 * endpoint, checked in token-requests.fuzz.test.ts).
 */

/**
 * Runs per property. Chosen so each file stays under a minute on PGlite on a
 * loaded two-core machine. For a longer soak, FUZZ_SCALE=10 multiplies every
 * property's runs; FUZZ_RUNS=n sets them all to n.
 */
export const runs = (n: number): number => Number(process.env.FUZZ_RUNS) || Math.max(1, Math.round(n * Number(process.env.FUZZ_SCALE || 1)));

/**
 * Wall-clock budget per property (FUZZ_TIME_LIMIT_MS, default 40 s). On a
 * machine slow enough to reach it, the property stops early and passes with
 * the runs it made, rather than the test timing out while fast-check goes on
 * sending requests in the background into the next test. A soak raises it.
 */
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS) || 40_000;

/** fc.assert parameters for a property of n runs (see runs and TIME_LIMIT_MS). */
export function fuzzParams(n: number): { numRuns: number; interruptAfterTimeLimit: number; markInterruptAsFailure: false } {
  return { numRuns: runs(n), interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false };
}

/** Per-test timeout for the fuzz suites: the property's budget, plus shrinking and setup. */
export const FUZZ_TEST_TIMEOUT_MS = TIME_LIMIT_MS + 60_000;

/** Answers must never leak internals (stack frames, SQL, file paths). */
const INTERNALS = /\bat \S+ \(|node_modules|\.ts:\d|\bSELECT\b|\bINSERT\b|\bstack\b/i;

/** An issue that says what was wrong: severity, code and some text. */
export function expectIssue(issue: any, where = ''): void {
  expect(['fatal', 'error', 'warning', 'information'], `${where} severity`).toContain(issue?.severity);
  expect(issue?.code, `${where} code`).toEqual(expect.any(String));
  const text = issue?.diagnostics ?? issue?.details?.text;
  expect(text, `${where} diagnostics or details.text`).toEqual(expect.any(String));
  expect((text as string).length, `${where} text is not empty`).toBeGreaterThan(0);
}

/** A FHIR OperationOutcome with at least one well-formed error issue. */
export function expectOperationOutcome(body: any, where = ''): void {
  expect(body?.resourceType, `${where} resourceType`).toBe('OperationOutcome');
  expect(Array.isArray(body.issue) && body.issue.length > 0, `${where} has issues`).toBe(true);
  for (const [i, issue] of (body.issue as unknown[]).entries()) expectIssue(issue, `${where} issue[${i}]`);
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Never a 5xx; any non-2xx answer is an OperationOutcome; nothing internal leaks. */
export function expectFhirAnswer(r: Answer, what: string): void {
  tally(`${what.split(' ')[0]} ${r.status}`);
  expect(r.status, `${what}: ${r.text.slice(0, 400)}`).toBeLessThan(500);
  if (r.status >= 300) expectOperationOutcome(r.body, `${what} -> ${r.status}`);
  if (r.status >= 400) expect(r.text, what).not.toMatch(INTERNALS);
}

/** Strings that have broken parsers before: empty, huge, control and odd unicode, lone surrogates, SQL and path fragments. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uD800',
    '\uDFFF\uD800',
    '\u202E\u0301',
    '💩',
    'null',
    'undefined',
    'NaN',
    '-0',
    '1e309',
    "'; DROP TABLE resource; --",
    '%',
    '%zz',
    '%00',
    '%E0%A4%A',
    '\\',
    '\\,',
    '$',
    '|',
    '||',
    ',',
    ':',
    '..',
    '../../etc/passwd',
    '__proto__',
    'constructor',
    'urn:uuid:',
    'Patient/',
    'Patient/../..',
    'http://',
    'Patient?',
    '#',
    '{}',
    '[]'
  ),
  fc.integer({ min: 1, max: 40_000 }).map((n) => 'x'.repeat(n))
);

/** Arbitrary JSON of any shape, including the awkward corners. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, 1e300, -1e-300, [], {}, [null], { '': null }) },
  { weight: 1, arbitrary: deepNesting() }
);

/** Arrays or objects nested 1..200 levels (the server's limit is 64 by default). */
export function deepNesting(): fc.Arbitrary<unknown> {
  return fc.tuple(fc.integer({ min: 1, max: 200 }), fc.boolean()).map(([depth, arrays]) => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });
}

/** Every path (as keys) to a value inside `value`, the root excluded. */
export function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const key = Array.isArray(value) ? Number(k) : k;
      out.push([...prefix, key]);
      pathsOf(v, [...prefix, key], out);
    }
  }
  return out;
}

export type Mutation = { at: number; op: 'delete' } | { at: number; op: 'set'; value: unknown } | { at: number; op: 'wrap' } | { at: number; op: 'add'; key: string; value: unknown };

/** Own members only: a "__proto__" key from JSON is data, never the prototype. */
const own = (o: any, k: string | number): any => Object.getOwnPropertyDescriptor(o, k)?.value;
const put = (o: any, k: string | number, v: unknown): void => {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
};

/** Applies mutations to a deep copy of `value`; `at` picks a path (modulo the number of paths). */
export function mutate<T>(value: T, mutations: readonly Mutation[]): T {
  const copy = structuredClone(value) as any;
  for (const m of mutations) {
    const paths = pathsOf(copy);
    if (!paths.length) break;
    const path = paths[m.at % paths.length]!;
    const parent = path.slice(0, -1).reduce((o: any, k) => own(o, k), copy);
    const key = path[path.length - 1]!;
    const current = own(parent, key);
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (m.op === 'set') put(parent, key, m.value);
    else if (m.op === 'wrap') put(parent, key, [current]);
    else if (current && typeof current === 'object' && !Array.isArray(current)) put(current, m.key, m.value);
    else if (!Array.isArray(parent)) put(parent, m.key, m.value);
  }
  return copy;
}

/** A mutation; `values` are what a `set` or `add` puts in. */
export function mutation(values: fc.Arbitrary<unknown>): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 10_000 });
  return fc.oneof(
    fc.record({ at, op: fc.constant('delete' as const) }),
    fc.record({ at, op: fc.constant('set' as const), value: values }),
    fc.record({ at, op: fc.constant('wrap' as const) }),
    fc.record({ at, op: fc.constant('add' as const), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('resourceType', 'id', 'extension', '__proto__', 'meta')), value: values })
  );
}

/**
 * With FUZZ_STATS=1, counts what the answers were (e.g. "transaction 200")
 * and prints the tally after the suite: a fuzzer whose inputs are all
 * refused at the first check tests little, and this shows it.
 */
const tallies = new Map<string, number>();
export function tally(label: string): void {
  if (process.env.FUZZ_STATS) tallies.set(label, (tallies.get(label) ?? 0) + 1);
}
export function printTally(): void {
  if (process.env.FUZZ_STATS) console.log(JSON.stringify(Object.fromEntries([...tallies].sort()), null, 1));
  tallies.clear();
}
