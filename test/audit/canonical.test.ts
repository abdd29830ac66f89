import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { canonicalJson } from '../../src/audit/canonical.ts';
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
