import fc from 'fast-check';
import fhirpath from 'fhirpath';
import { describe, expect, it } from 'vitest';
import { mappingExpressions } from './expression-corpus.ts';
import { compileSimpleExpr } from './simple-expr.ts';
import { compileSimplePath } from './simple-path.ts';

type Full = (r: unknown, e?: unknown) => unknown[];

/** Forms the mappings do not use yet, where the two sides of and/or read different paths (so one can be empty, the other not). */
const SYNTHETIC = [
  "a = 'x' or b = 'y'",
  "a = 'x' and b != 'y'",
  "a.exists() and (b = 'y' or c.empty())",
  "iif(a = 'x' or b.empty(), a, 'lit')",
  "iif(a.b = 'x', iif(c = 'y', 'one', 'two'), a.b)",
  'a.where($this is Integer)',
  '%item.a.where($this is Boolean)',
];

/** The expressions the widened shortcut answers beyond plain paths: the mappings' own, then SYNTHETIC. */
function compoundExpressions(): { src: string; fast: NonNullable<ReturnType<typeof compileSimpleExpr>>; full: Full }[] {
  return [...mappingExpressions(), ...SYNTHETIC].flatMap((src) => {
    const fast = compileSimpleExpr(src);
    return fast && !compileSimplePath(src) ? [{ src, fast, full: fhirpath.compile(src, undefined, { async: false }) as Full }] : [];
  });
}

const WORDS = new Set(['and', 'or', 'iif', 'exists', 'empty', 'where', 'is', 'String', 'Boolean', 'Integer', 'Decimal', 'this']);

/** The member paths an expression reads, split into names (`%item.deliveredBy.kind` → ['%item', 'deliveredBy', 'kind']). */
function pathsOf(src: string): string[][] {
  const noStrings = src.replace(/'[^']*'/g, "''");
  return [...noStrings.matchAll(/%?[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*/g)]
    .map((m) => m[0].split('.').filter((s) => !WORDS.has(s)))
    .filter((p) => p.length > 0 && !WORDS.has(p[0]!));
}

function setPath(target: Record<string, unknown>, names: string[], value: unknown, asArray: boolean): void {
  let o = target;
  names.slice(0, -1).forEach((n) => {
    const next = o[n];
    if (next && typeof next === 'object' && !Array.isArray(next)) {
      o = next as Record<string, unknown>;
    } else {
      const fresh: Record<string, unknown> = {};
      o[n] = asArray ? [fresh] : fresh;
      o = fresh;
    }
  });
  o[names[names.length - 1]!] = structuredClone(value);
}

describe('compileSimpleExpr', () => {
  it('recognises the mappings’ comparisons, conditions, iif and type tests, and not what it has no rules for', () => {
    for (const src of [
      "%item.deliveredBy.kind = 'organisation'",
      "%item.status = 'achieved' or %item.status = 'not-achieved'",
      "iif(%item.status = 'achieved' or %item.status = 'not-achieved', 'completed', %item.status)",
      '%item.answer.where($this is String)',
      'iif(endDate.exists(), endDate, startDate)',
      "primarySupportReason.exists() and primarySupportReason != 'UNK'",
      'assessor.empty() or assessor.localId.exists()',
      "iif(assessor.exists(), 'Practitioner', 'Organization')",
    ]) {
      expect(compileSimpleExpr(src), src).toBeDefined();
    }
    for (const src of [
      "iif(assessor.exists(), 'https://x/' + %ctx.councilOds, 'y')",
      'contact.postcode.exists() and contact.postcode != postcode',
      "a = 'x' xor b = 'y'",
      "a = 'it\\'s'",
      'a = 1',
      "a.where(b = 'x')",
      "a implies b = 'x'",
      "iif(a, 'x')",
      "a = 'x' or",
      "(a = 'x'",
      'true or a.exists()',
    ]) {
      expect(compileSimpleExpr(src), src).toBeUndefined();
    }
  });

  it('covers the expressions the dense caseload used to send to fhirpath.js', () => {
    expect(compoundExpressions().length - SYNTHETIC.length).toBeGreaterThanOrEqual(15);
  });

  it('agrees with fhirpath.js on every compound mapping expression, over records and environments built from its own paths', () => {
    const exprs = compoundExpressions();
    let answered = 0;
    for (const x of exprs) {
      const literals = [...x.src.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
      const leaf = fc.oneof(
        fc.constantFrom(...literals, ''),
        fc.constantFrom<unknown>(null, 'other', 'X', 0, 1, 2.5, -3, true, false, {}, [], [null], { kind: 'person' }),
        fc.array(fc.constantFrom<unknown>(...literals, 'other', 1, 1.5, true, false, { a: 1 }), { minLength: 1, maxLength: 3 }),
      );
      const paths = pathsOf(x.src);
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(paths.length - 1), leaf, fc.boolean(), fc.boolean()), { maxLength: 5 }), fc.boolean(), (sets, extension) => {
          const record: Record<string, unknown> = {};
          const env: Record<string, unknown> = { ctx: { councilOds: 'X9C01' } };
          for (const [p, value, asArray, ext] of sets) {
            const names = paths[p]!;
            if (names[0]!.startsWith('%')) {
              const head = names[0]!.slice(1);
              if (names.length === 1) env[head] = structuredClone(value);
              else {
                const holder: Record<string, unknown> = (env[head] && typeof env[head] === 'object' && !Array.isArray(env[head]) ? env[head] : {}) as Record<string, unknown>;
                setPath(holder, names.slice(1), value, asArray);
                env[head] = holder;
              }
            } else {
              setPath(record, names, value, asArray);
              if (ext && extension) record[`_${names[0]}`] = { extension: [] };
            }
          }
          const fast = x.fast(record, env);
          if (fast === undefined) return;
          answered++;
          let full: unknown;
          try {
            full = x.full(record, env);
          } catch (err) {
            throw new Error(`shortcut answered ${JSON.stringify(fast)} where fhirpath.js throws (${String(err)}) for '${x.src}'`);
          }
          expect(fast, `'${x.src}' on ${JSON.stringify(record)} with ${JSON.stringify(env)}`).toEqual(full);
        }),
        { numRuns: 400 },
      );
    }
    expect(answered).toBeGreaterThan(exprs.length * 100);
  }, 60_000);
});
