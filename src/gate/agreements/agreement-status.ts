import type { SharingAgreement } from '../types.ts';

export type AgreementStatus = 'in-force' | 'ended' | 'expired' | 'not-yet';

const UK_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' });

/**
 * Period dates are whole days in England (agreements are signed there), so
 * "in force on 31 March" holds until midnight London time, not UTC.
 */
export function dateInEngland(now: Date): string {
  return UK_DATE.format(now);
}

/**
 * Where an agreement stands at `now`. Ending wins over the period: an
 * operator who ends an agreement early means it, whatever its end date says.
 * `today` may be passed in by callers deciding many agreements at one instant.
 */
export function agreementStatus(a: Pick<SharingAgreement, 'period' | 'endedAt'>, now: Date, today: string = dateInEngland(now)): AgreementStatus {
  if (a.endedAt !== undefined && Date.parse(a.endedAt) <= now.getTime()) return 'ended';
  if (today < a.period.start) return 'not-yet';
  if (a.period.end !== undefined && today > a.period.end) return 'expired';
  return 'in-force';
}
