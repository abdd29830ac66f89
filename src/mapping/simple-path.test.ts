import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fhirpath from 'fhirpath';
import { describe, expect, it } from 'vitest';
import { mappingExpressions } from './expression-corpus.ts';
import { compileSimplePath } from './simple-path.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function records(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const f of readdirSync(`${root}docs/examples/council`)) out.push(JSON.parse(readFileSync(`${root}docs/examples/council/${f}`, 'utf8')));
  for (const f of readdirSync(`${root}test/mapping/golden`).filter((n) => n.endsWith('.input.json'))) {
    const input = JSON.parse(readFileSync(`${root}test/mapping/golden/${f}`, 'utf8')) as { record?: Record<string, unknown> };
    if (input.record) out.push(input.record);
  }
  return out;
}

/** Malformed variants of a record: every top-level member replaced by values the shortcut must not mishandle. */
function variants(record: Record<string, unknown>): { key?: string; record: Record<string, unknown> }[] {
  const odd: unknown[] = [null, 'text', 1.5, 0, -3, true, [], [null], [[1]], ['a', 'b'], {}, [{ localId: 'x' }, { localId: 'y' }], { localId: null }, { localId: ['a', 'b'] }];
  const out: { key?: string; record: Record<string, unknown> }[] = [{ record }];
  for (const key of Object.keys(record)) {
    for (const v of odd) out.push({ key, record: { ...record, [key]: v } });
    out.push({ key, record: { ...record, [`_${key}`]: { extension: [] } } });
    const inner = record[key];
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      for (const k of Object.keys(inner)) {
        for (const v of odd) out.push({ key, record: { ...record, [key]: { ...inner, [k]: v } } });
        out.push({ key, record: { ...record, [key]: { ...inner, [`_${k}`]: { id: 'x' } } } });
      }
    }
  }
  out.push({ record: Object.assign(Object.create({ status: 'inherited' }) as object, record) as Record<string, unknown> });
  return out;
}

/** Environments as the mapping engine builds them, plus broken ones. */
function environments(record: Record<string, unknown>): (Record<string, unknown> | undefined)[] {
  const base = { ctx: { councilOds: 'X9C01', receivedAt: '2026-01-01T00:00:00Z' }, source: record.source, key: 'K-1' };
  const envs: (Record<string, unknown> | undefined)[] = [undefined, base, { ...base, source: null }, { ...base, item: null }, { ...base, item: [1, 2] }, { ...base, item: 'text', index: 0 }];
  for (const v of Object.values(record)) {
    if (Array.isArray(v)) v.forEach((item, index) => envs.push({ ...base, item, index }));
  }
  return envs;
}

describe('compileSimplePath', () => {
  it('recognises plain member paths and nothing else', () => {
    for (const src of ['status', 'person.localId', '%item.description', '%source.lastUpdated', 'answers.exists()', '%item.deliveredBy.localId.exists()']) {
      expect(compileSimplePath(src), src).toBeDefined();
    }
    for (const src of ['Patient.name', 'true', 'a or b', 'status = 1', "iif(a, b, c)", 'a.first()', '%context.x', '$this', 'a.b.where(c)', 'a.exists().not()', 'name.given[0]', "'text'"]) {
      expect(compileSimplePath(src), src).toBeUndefined();
    }
  });

  it('agrees with fhirpath.js on every mapping expression over example, golden and malformed records', () => {
    const exprs = mappingExpressions().flatMap((src) => {
      const simple = compileSimplePath(src);
      return simple ? [{ src, simple, full: fhirpath.compile(src, undefined, { async: false }) as (r: unknown, e?: unknown) => unknown[] }] : [];
    });
    expect(exprs.length).toBeGreaterThan(100);
    let answered = 0;
    const check = (x: (typeof exprs)[number], record: unknown, env: Record<string, unknown> | undefined): void => {
      const fast = x.simple(record, env);
      if (fast === undefined) return;
      answered++;
      let full: unknown;
      try {
        full = x.full(record, env);
      } catch (err) {
        throw new Error(`shortcut answered ${JSON.stringify(fast)} where fhirpath.js throws (${String(err)}) for '${x.src}'`);
      }
      expect(fast, `'${x.src}' on ${JSON.stringify(record).slice(0, 200)} with ${JSON.stringify(env)?.slice(0, 200)}`).toEqual(full);
    };
    for (const record of records()) {
      const envs = environments(record);
      // Paths from the record: every malformed variant; paths from a variable: every environment.
      for (const x of exprs) {
        if (x.src.startsWith('%')) for (const env of envs) check(x, record, env);
        // A variant changes one top-level member: only paths starting there can see it.
        else for (const v of variants(record)) if (v.key === undefined || x.src === v.key || x.src.startsWith(`${v.key}.`)) check(x, v.record, envs[1]);
      }
    }
    expect(answered).toBeGreaterThan(5_000);
  }, 60_000);
});
