import type { Task } from '@medplum/fhirtypes';
import type { JointWorkConfig } from './config.ts';

/**
 * Response deadlines in working days: Monday to Friday, not an England and
 * Wales bank holiday. Dates are calendar dates in Europe/London (YYYY-MM-DD).
 */

const LONDON = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar date in England at this instant. */
export function londonDate(at: Date): string {
  return LONDON.format(at);
}

export function isWorkingDay(date: string, holidays: ReadonlySet<string>): boolean {
  const dow = new Date(`${date}T12:00:00Z`).getUTCDay();
  return dow !== 0 && dow !== 6 && !holidays.has(date);
}

/** The n-th working day after `date` (the day itself does not count); n = 0 gives the date itself. */
export function addWorkingDays(date: string, n: number, holidays: ReadonlySet<string>): string {
  const d = new Date(`${date}T12:00:00Z`);
  let left = n;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    if (isWorkingDay(d.toISOString().slice(0, 10), holidays)) left--;
  }
  return d.toISOString().slice(0, 10);
}

export function responseWorkingDays(kind: string, config: JointWorkConfig): number {
  return config.responseWorkingDays[kind] ?? config.defaultResponseWorkingDays;
}

/** The last day (inclusive) to accept or decline a request of this kind made at `requestedAt`. */
export function responseDeadline(kind: string, requestedAt: Date, config: JointWorkConfig): string {
  return addWorkingDays(londonDate(requestedAt), responseWorkingDays(kind, config), config.bankHolidays);
}

/** Still waiting for an answer (requested or received) after its deadline day has ended. */
export function isOverdue(task: Pick<Task, 'status' | 'restriction'>, now: Date): boolean {
  const end = task.restriction?.period?.end;
  if (!end || (task.status !== 'requested' && task.status !== 'received')) return false;
  return end.slice(0, 10) < londonDate(now);
}
