import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JOINEDUP_NAMESPACE, deterministicId, uuidV5 } from './ids.ts';

/** RFC 4122 §4.3 spelled out byte by byte (the implementation before the one-shot hex one). */
function referenceUuidV5(name: string, namespace: string): string {
  const digest = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

describe('uuidV5', () => {
  it('matches the RFC 4122 / Python uuid5 vector', () => {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com'))"
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('agrees with the byte-by-byte construction on any name, ASCII or not', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.uuid(), (name, namespace) => {
        expect(uuidV5(name, namespace)).toBe(referenceUuidV5(name, namespace));
        expect(uuidV5(name, JOINEDUP_NAMESPACE)).toBe(referenceUuidV5(name, JOINEDUP_NAMESPACE));
      }),
      { numRuns: 2000 },
    );
  });

  it('derives the JoinedUp namespace from joinedup.org.uk', () => {
    expect(JOINEDUP_NAMESPACE).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('deterministicId', () => {
  const base = { councilOds: 'X9C01', sourceSystem: 'mosaic-midshire', key: 'MID-100234', resourceType: 'Patient' };

  it('is stable for the same inputs and ignores the case of the ODS code', () => {
    expect(deterministicId(base)).toBe(deterministicId({ ...base }));
    expect(deterministicId({ ...base, councilOds: 'x9c01' })).toBe(deterministicId(base));
  });

  it('differs when any input differs', () => {
    const ids = new Set([
      deterministicId(base),
      deterministicId({ ...base, councilOds: 'X9C02' }),
      deterministicId({ ...base, sourceSystem: 'liquidlogic' }),
      deterministicId({ ...base, key: 'MID-100235' }),
      deterministicId({ ...base, resourceType: 'Condition' }),
      deterministicId({ ...base, kind: 'primary-support-reason' }),
      deterministicId({ ...base, index: 0 }),
      deterministicId({ ...base, index: 1 }),
    ]);
    expect(ids.size).toBe(8);
  });

  it('gives the same ids through a cache, which then holds each name once', () => {
    const cache = new Map<string, string>();
    const inputs = [base, { ...base, kind: 'k' }, base, { ...base, index: 3 }, { ...base, kind: 'k' }];
    expect(inputs.map((i) => deterministicId(i, cache))).toEqual(inputs.map((i) => deterministicId(i)));
    expect(cache.size).toBe(3);
  });

  it('cannot be confused by separators inside values', () => {
    expect(deterministicId({ ...base, sourceSystem: 'a', key: 'b|c' })).not.toBe(deterministicId({ ...base, sourceSystem: 'a|b', key: 'c' }));
  });
});
