import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CODE_LISTS, ROUTE_OF_ACCESS, code, codesOf, isCodeIn, unknownCodeMessage } from './code-lists.ts';

describe('code lists', () => {
  it('every list has a unique name, a system and codes', () => {
    expect(new Set(CODE_LISTS.map((l) => l.name)).size).toBe(CODE_LISTS.length);
    for (const l of CODE_LISTS) {
      expect(l.system).toMatch(/^https?:\/\//);
      expect(codesOf(l).length).toBeGreaterThan(1);
      for (const [c, display] of Object.entries(l.codes)) {
        expect(c).toMatch(/^[A-Za-z0-9-]+$/);
        expect(String(display).length).toBeGreaterThan(0);
      }
    }
  });

  it('has the ten Care Act eligibility outcomes', () => {
    expect(codesOf(CODE_LISTS.find((l) => l.name === 'Care Act eligibility outcome')!)).toHaveLength(10);
  });

  it('checks membership', () => {
    expect(isCodeIn(ROUTE_OF_ACCESS, 'DH')).toBe(true);
    expect(isCodeIn(ROUTE_OF_ACCESS, 'toString')).toBe(false);
  });

  it('names the list and the code in the error, and leaves "required" to the caller', () => {
    const schema = code(ROUTE_OF_ACCESS);
    expect(schema.safeParse('ZZ').error?.issues[0]?.message).toBe('unknown code "ZZ" in code list "CLD route of access"');
    expect(schema.safeParse(7).error?.issues[0]?.message).toBe('unknown code of type number in code list "CLD route of access"');
    expect(unknownCodeMessage(ROUTE_OF_ACCESS, 'x'.repeat(100))).toContain('…');
    expect(z.toJSONSchema(schema)).toMatchObject({ type: 'string', enum: expect.arrayContaining(['DH', 'COMM']) });
  });
});
