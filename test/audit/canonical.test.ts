import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, canonicalJsonByParts, inCanonicalOrder } from '../../src/audit/canonical.ts';
import { chainHash, GENESIS_HASH, hashHeader } from '../../src/audit/hash-chain.ts';
import { columnsOf } from '../../src/audit/audit-writer.ts';
import { sampleRecord } from './sample-records.ts';

describe('canonical JSON', () => {
  test('sorts keys at every depth, drops undefined, keeps array order, no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: true, y: null }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,1,{"y":null,"z":true}]},"b":1}');
  });

  test('the same value in any key order gives the same text, and parsing it back gives the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      })
    );
  });

  test('refuses what JSON cannot represent faithfully', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ f: () => 1 })).toThrow();
    expect(() => canonicalJson({ a: [{ b: 1n }] })).toThrow();
    expect(() => canonicalJson([Symbol('s')])).toThrow();
  });

  test('the fast path writes exactly what the reference writer writes', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      // integer-like keys (JSON.stringify would order them numerically), keys differing by case and
      // beyond the BMP, undefined members and array items, Dates, a "__proto__" key
      fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('10', '2', '0', '01', 'B', 'a', '\u{1F600}', '\uFF61', '__proto__', 'toJSON')), fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.date({ noInvalidDate: true }), fc.array(fc.oneof(fc.integer(), fc.constant(undefined)))))
    );
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(canonicalJsonByParts(v));
      }),
      { numRuns: 500 }
    );
    for (let i = 0; i < 20; i++) {
      const event = sampleRecord(i, { query: `patient=Patient/p${i}&_count=${i}`, resources: [`CarePlan/c${i}`, `Task/t${i}`] }).event;
      expect(canonicalJson(event)).toBe(canonicalJsonByParts(event));
    }
    expect(canonicalJson({ 10: 'a', 2: 'b', x: { 1: true } })).toBe('{"10":"a","2":"b","x":{"1":true}}');
    // Already in canonical order: written without a copy, and still exactly as the reference writer.
    // (Keys starting with a digit or "__proto__" are left to the copying paths: JSON.stringify would reorder or drop them.)
    const awkward = (v: unknown): boolean =>
      typeof v === 'object' && v !== null && (Array.isArray(v) ? v.some(awkward) : Object.entries(v).some(([k, x]) => /^\d/.test(k) || k === '__proto__' || awkward(x)));
    const ordered = fc
      .jsonValue()
      .map((v) => JSON.parse(canonicalJsonByParts(v)) as unknown)
      .filter((v) => !awkward(v));
    fc.assert(
      fc.property(ordered, (v) => {
        expect(inCanonicalOrder(v)).toBe(true);
        expect(canonicalJson(v)).toBe(canonicalJsonByParts(v));
      }),
      { numRuns: 300 }
    );
    expect(inCanonicalOrder({ b: 1, a: 2 })).toBe(false);
    expect(inCanonicalOrder({ a: new Date(0) })).toBe(false);
    expect(inCanonicalOrder({ a: { toJSON: () => 1 } })).toBe(false);
    expect(inCanonicalOrder({ a: [1, undefined], b: undefined })).toBe(true);
    expect(canonicalJson({ a: [1, undefined], b: undefined })).toBe(canonicalJsonByParts({ a: [1, undefined], b: undefined }));
    expect(canonicalJson(JSON.parse('{"__proto__":{"b":1},"a":2}'))).toBe('{"__proto__":{"b":1},"a":2}');
  });
});

describe('hash chain', () => {
  test('sha256 over prev hash, column header and content; any change changes it', () => {
    const c = columnsOf(sampleRecord(1));
    const content = canonicalJson(sampleRecord(1).event);
    const h = chainHash(GENESIS_HASH, hashHeader(c), content);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, hashHeader({ ...c, patient_id: 'other' }), content)).not.toBe(h);
    expect(chainHash(h, hashHeader(c), content)).not.toBe(h);
    expect(chainHash(GENESIS_HASH, hashHeader(c), `${content} `)).not.toBe(h);
  });
});
