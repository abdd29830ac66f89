import { describe, expect, it } from 'vitest';
import { JOINEDUP_NAMESPACE, deterministicId, uuidV5 } from './ids.ts';

describe('uuidV5', () => {
  it('matches the RFC 4122 / Python uuid5 vector', () => {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com'))"
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
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

  it('cannot be confused by separators inside values', () => {
    expect(deterministicId({ ...base, sourceSystem: 'a', key: 'b|c' })).not.toBe(deterministicId({ ...base, sourceSystem: 'a|b', key: 'c' }));
  });
});
