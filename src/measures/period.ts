import { isWorkingDay, londonDate } from '../joint-work/deadlines.ts';

/**
 * A measurement period: whole English calendar days, periodStart to
 * periodEnd inclusive (Europe/London), as R4 $evaluate-measure's date
 * parameters say. Instants are compared against London midnights so a
 * request made at 00:30 BST on the 1st falls in that day, not the 31st.
 */
export interface Period {
  start: string;
  end: string;
  /** London midnight at the start of `start`. */
  from: Date;
  /** London midnight after `end` (exclusive). */
  to: Date;
}

const HOUR = 3_600_000;

/** The instant of midnight in London starting this date (GMT or BST; clocks change at 01:00 UTC, after midnight). */
export function londonMidnight(date: string): Date {
  const utcMidnight = new Date(`${date}T00:00:00Z`);
  const londonHour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', hourCycle: 'h23' }).format(utcMidnight));
  return new Date(utcMidnight.getTime() - (londonHour === 0 ? 0 : HOUR));
}

export function nextDate(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

export function periodOf(start: string, end: string): Period {
  return { start, end, from: londonMidnight(start), to: londonMidnight(nextDate(end)) };
}

/** The London date of a FHIR date or dateTime (a bare date is already one). */
export function dateOf(value: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : londonDate(new Date(value));
}

/** Working days after `from` up to and including `to` (0 when the same day or earlier). */
export function workingDaysBetween(from: string, to: string, holidays: ReadonlySet<string>): number {
  let n = 0;
  for (let d = nextDate(from); d <= to; d = nextDate(d)) if (isWorkingDay(d, holidays)) n++;
  return n;
}

/** Calendar days from one London date to another. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T12:00:00Z`) - Date.parse(`${from}T12:00:00Z`)) / 86_400_000);
}
