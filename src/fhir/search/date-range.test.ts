import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseDateRange, parseDateRangeWithDates } from './date-range.ts';

describe('parseDateRange', () => {
  test.each([
    ['2024', '2024-01-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z'],
    ['2024-02', '2024-02-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z'],
    ['2023-02-28', '2023-02-28T00:00:00.000Z', '2023-02-28T23:59:59.999Z'],
    ['0045', '0045-01-01T00:00:00.000Z', '0045-12-31T23:59:59.999Z'],
    ['2024-06-01T10:30', '2024-06-01T10:30:00.000Z', '2024-06-01T10:30:59.999Z'],
    ['2024-06-01T10:30:15+01:00', '2024-06-01T09:30:15.000Z', '2024-06-01T09:30:15.999Z'],
    ['2024-06-01T10:30:15.250Z', '2024-06-01T10:30:15.250Z', '2024-06-01T10:30:15.250Z'],
  ])('%s', (value, low, high) => {
    expect(parseDateRange(value)).toEqual({ low, high });
  });

  test.each(['2024-13', '2024-00-10', 'tomorrow', '24-01-01'])('%s is refused', (value) => {
    expect(parseDateRange(value)).toBeUndefined();
  });
});

describe('parseDateRange without Date objects', () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  const dateLike = fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2023, 2024, 2100)).map((n) => String(n).padStart(4, '0')),
      fc.option(two(13), { nil: undefined }),
      fc.option(two(32), { nil: undefined }),
      fc.option(fc.tuple(two(25), two(61), fc.option(two(61), { nil: undefined })), { nil: undefined }),
      fc.constantFrom('', '.5', '.25', '.250', '.999', '.1234', '.000'),
      fc.constantFrom('Z', '', '+01:00', '-05:30', '+00:00'),
      fc.constantFrom('', ' '),
    )
    .map(([y, mo, d, time, frac, tz, pad]) => {
      let v = y;
      if (mo === undefined) return pad + v;
      v += `-${mo}`;
      if (d === undefined) return v + pad;
      v += `-${d}`;
      if (!time) return v;
      const [h, mi, s] = time;
      v += `T${h}:${mi}`;
      if (s !== undefined) v += `:${s}${frac}`;
      return v + tz;
    });

  test('gives what the Date-based parser gives, for every shape', () => {
    fc.assert(
      fc.property(dateLike, (value) => {
        expect(parseDateRange(value), value).toEqual(parseDateRangeWithDates(value));
      }),
      { numRuns: 20_000 },
    );
  });

  test.each(['2024-02-29', '2023-02-29', '2024-04-31', '2000-02', '1900-02', '2024-06-01T23:59:59Z', '2024-06-01T24:00:00Z', '2024-06-01T10:30:15.123Z'])(
    '%s',
    (value) => {
      expect(parseDateRange(value)).toEqual(parseDateRangeWithDates(value));
    },
  );
});
