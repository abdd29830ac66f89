/**
 * FHIR dates carry their precision: "2024" means the whole year. Searching
 * compares ranges, so every date becomes [low, high] in UTC.
 */
export interface DateRange {
  low: string;
  high: string;
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Shapes written as text without Date objects (every resource indexes a few
 * dates, and new Date().toISOString() was most of the cost): a year, a month,
 * a day, or a UTC time to the second or millisecond. Anything else (offsets,
 * other fractions, a day past its month's end, which Date rolls over) goes
 * through parseDateRangeWithDates, which gives the same answer for these too
 * (date-range.test.ts compares them).
 */
const PLAIN_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(\.\d{3})?Z)?)?)?$/;

export function parseDateRange(value: string): DateRange | undefined {
  const m = PLAIN_RE.exec(value);
  if (!m) {
    return parseDateRangeWithDates(value);
  }
  const [, y, mo, d, h, mi, s, frac] = m as unknown as [string, string, string?, string?, string?, string?, string?, string?];
  if (mo === undefined) {
    return { low: `${y}-01-01T00:00:00.000Z`, high: `${y}-12-31T23:59:59.999Z` };
  }
  const month = Number(mo);
  if (month < 1 || month > 12) {
    return undefined;
  }
  const last = daysInMonth(Number(y), month);
  if (d === undefined) {
    return { low: `${y}-${mo}-01T00:00:00.000Z`, high: `${y}-${mo}-${last}T23:59:59.999Z` };
  }
  const day = Number(d);
  if (day < 1 || day > last) {
    return parseDateRangeWithDates(value);
  }
  if (h === undefined) {
    return { low: `${y}-${mo}-${d}T00:00:00.000Z`, high: `${y}-${mo}-${d}T23:59:59.999Z` };
  }
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return parseDateRangeWithDates(value);
  }
  const at = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  return frac ? { low: `${at}${frac}Z`, high: `${at}${frac}Z` } : { low: `${at}.000Z`, high: `${at}.999Z` };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The general parser, through Date: every shape DATE_RE accepts. */
export function parseDateRangeWithDates(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  if (mo === undefined) {
    return { low: iso(utc(year, 0, 1)), high: iso(utc(year + 1, 0, 1) - 1) };
  }
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) {
    return undefined;
  }
  if (d === undefined) {
    return { low: iso(utc(year, month, 1)), high: iso(utc(year, month + 1, 1) - 1) };
  }
  const day = Number(d);
  if (day < 1 || day > 31) {
    return undefined;
  }
  if (h === undefined) {
    return { low: iso(utc(year, month, day)), high: iso(utc(year, month, day + 1) - 1) };
  }
  const offsetMs = tz && tz !== 'Z' ? offsetToMs(tz) : 0;
  const base = utc(year, month, day, Number(h), Number(mi), Number(s ?? 0)) - offsetMs;
  if (Number.isNaN(base)) {
    return undefined;
  }
  if (s === undefined) {
    return { low: iso(base), high: iso(base + 60_000 - 1) };
  }
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  const at = base + ms;
  return frac ? { low: iso(at), high: iso(at) } : { low: iso(at), high: iso(at + 999) };
}

function offsetToMs(tz: string): number {
  const sign = tz.startsWith('-') ? -1 : 1;
  const [hh, mm] = tz.slice(1).split(':');
  return sign * (Number(hh) * 60 + Number(mm)) * 60_000;
}

/** Date.UTC reads years 0-99 as 1900-1999; FHIR years are always four digits. */
function utc(year: number, month: number, day = 1, h = 0, mi = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, mi, s, 0);
  return d.getTime();
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export const OPEN_LOW = '-infinity';
export const OPEN_HIGH = 'infinity';
