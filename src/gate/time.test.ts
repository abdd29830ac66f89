import { describe, expect, it } from 'vitest';
import { endMs, isChild, periodContains } from './time.ts';

describe('gate time', () => {
  it('a child until the 18th birthday (UTC), adult without a birth date', () => {
    const at = (s: string) => Date.parse(s);
    expect(isChild('2008-06-02', at('2026-06-01T23:59:59Z'))).toBe(true);
    expect(isChild('2008-06-01', at('2026-06-01T00:00:00Z'))).toBe(false);
    expect(isChild('2008-02-29', at('2026-02-28T12:00:00Z'))).toBe(true);
    expect(isChild('2008-02-29', at('2026-03-01T00:00:00Z'))).toBe(false);
    expect(isChild(undefined, at('2026-01-01T00:00:00Z'))).toBe(false);
  });

  it('a date-only end covers its whole day; unparseable bounds fail closed', () => {
    expect(endMs('2026-06-01')).toBe(Date.parse('2026-06-01T23:59:59.999Z'));
    expect(periodContains({ end: '2026-06-01' }, Date.parse('2026-06-01T23:00:00Z'))).toBe(true);
    expect(periodContains({ start: 'not a date' }, Date.parse('2026-06-01T23:00:00Z'))).toBe(false);
    expect(periodContains(undefined, 0)).toBe(true);
  });
});
