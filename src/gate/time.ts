/**
 * Instants for the gate. Facts carry ISO 8601 strings; a date without a time
 * is a whole day (FHIR date precision), so as a period end it runs to the
 * last millisecond of that day. Parsing is memoised: the same few strings
 * (consent dates, agreement periods) are compared on every decision.
 */
const memo = new Map<string, number>();
const MEMO_LIMIT = 20_000;
const DAY_MS = 86_400_000;

function parse(s: string): number {
  let ms = memo.get(s);
  if (ms === undefined) {
    ms = Date.parse(s);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(s, ms);
  }
  return ms;
}

/** The first instant of a period start (or a dateTime). NaN when unparseable. */
export function startMs(s: string): number {
  return parse(s);
}

/** The last instant of a period end: a date-only value covers the whole day. */
export function endMs(s: string): number {
  const ms = parse(s);
  return s.length === 10 ? ms + DAY_MS - 1 : ms;
}

/** Inclusive containment; an absent bound is open. An unparseable bound never contains `now` (fail closed). */
export function periodContains(period: { start?: string; end?: string } | undefined, nowMs: number): boolean {
  if (!period) return true;
  if (period.start !== undefined && !(startMs(period.start) <= nowMs)) return false;
  if (period.end !== undefined && !(nowMs <= endMs(period.end))) return false;
  return true;
}

/** Under 18 at `now` (Children Act 1989 s105: a child is a person under eighteen). No birth date: adult. */
export function isChild(birthDate: string | undefined, nowMs: number): boolean {
  if (!birthDate) return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(birthDate);
  if (!m) return false;
  const eighteenth = Date.UTC(Number(m[1]) + 18, Number(m[2]) - 1, Number(m[3]));
  return nowMs < eighteenth;
}
