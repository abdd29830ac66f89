import { describe, expect, it } from 'vitest';
import {
  isValidNhsNumber,
  isValidOdsCode,
  makeTestNhsNumber,
  NHS_NUMBER_SYSTEM,
  ODS_ORGANIZATION_SYSTEM,
  TEST_NHS_NUMBER_CAPACITY,
} from './nhs-number.ts';

describe('isValidNhsNumber', () => {
  it.each(['9000000009', '9434765919', '9999999999'])('accepts %s', (value) => {
    expect(isValidNhsNumber(value)).toBe(true);
  });

  it.each([
    ['wrong check digit', '9434765918'],
    ['check digit would be 10', '9990000000'],
    ['too short', '943476591'],
    ['too long', '94347659190'],
    ['spaces', '943 476 5919'],
    ['letters', '94347659A9'],
    ['empty', ''],
    ['non-ASCII digits', '٩٤٣٤٧٦٥٩١٩'],
  ])('rejects %s', (_why, value) => {
    expect(isValidNhsNumber(value)).toBe(false);
  });

  it('uses check digit 0 when the weighted sum is a multiple of 11', () => {
    // 9*(10+9+8+7+6+5+4+3) + 8*2 = 484 = 11*44
    expect(isValidNhsNumber('9999999980')).toBe(true);
    expect(isValidNhsNumber('9999999981')).toBe(false);
  });

  it('has no valid number when the check digit would be 10', () => {
    // 9*10 + 9*9 + 9*8 = 243 = 11*22 + 1, so 11 - 1 = 10
    for (let last = 0; last <= 9; last++) {
      expect(isValidNhsNumber(`999000000${last}`)).toBe(false);
    }
  });

  it('rejects non-string input without throwing', () => {
    expect(isValidNhsNumber(9434765919 as unknown as string)).toBe(false);
  });
});

describe('makeTestNhsNumber', () => {
  it('makes valid numbers in the 999 test range', () => {
    for (const seed of [0, 1, 8, 9, 10, 12345, TEST_NHS_NUMBER_CAPACITY - 1]) {
      const value = makeTestNhsNumber(seed);
      expect(value).toMatch(/^999\d{7}$/);
      expect(isValidNhsNumber(value)).toBe(true);
    }
  });

  it('is deterministic and injective', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 20_000; seed++) {
      seen.add(makeTestNhsNumber(seed));
    }
    expect(seen.size).toBe(20_000);
    expect(makeTestNhsNumber(42)).toBe(makeTestNhsNumber(42));
  });

  it('rejects seeds outside its range', () => {
    expect(() => makeTestNhsNumber(-1)).toThrow(RangeError);
    expect(() => makeTestNhsNumber(TEST_NHS_NUMBER_CAPACITY)).toThrow(RangeError);
    expect(() => makeTestNhsNumber(1.5)).toThrow(RangeError);
  });
});

describe('ODS codes', () => {
  it.each(['X26', 'A81001', 'RR8', 'ZZ9Z9Z9Z9Z'])('accepts %s', (value) => {
    expect(isValidOdsCode(value)).toBe(true);
  });
  it.each(['AB', 'ABCDEFGHIJK', 'A8-001', 'A8 001', ''])('rejects %s', (value) => {
    expect(isValidOdsCode(value)).toBe(false);
  });
});

it('exports the NHS identifier systems', () => {
  expect(NHS_NUMBER_SYSTEM).toBe('https://fhir.nhs.uk/Id/nhs-number');
  expect(ODS_ORGANIZATION_SYSTEM).toBe('https://fhir.nhs.uk/Id/ods-organization-code');
});
