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

export function parseDateRange(value: string): DateRange | undefined {
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
