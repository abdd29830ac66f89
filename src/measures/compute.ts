import type { Reference, Task } from '@medplum/fhirtypes';
import type { SqlClient } from '../db/sql-client.ts';
import { ODS } from '../joint-work/codes.ts';
import { isOverdue } from '../joint-work/deadlines.ts';
import { requestKindOf } from '../joint-work/request-kinds.ts';
import { ownerOf } from '../joint-work/workflow-rules.ts';
import type { MeasureId } from './definitions.ts';
import { dateOf, daysBetween, workingDaysBetween } from './period.ts';
import type { Period } from './period.ts';
import { duplicateCounts, referralCandidates, requestFacts, serviceStarts } from './queries.ts';
import type { RequestFacts } from './queries.ts';
import { median, percentileNearestRank } from './stats.ts';

/** One group of a report: population counts, the score and its unit, and strata (counts only). */
export interface GroupResult {
  code: string;
  populations: Partial<Record<'initial-population' | 'denominator' | 'numerator' | 'measure-population' | 'measure-observation', number>>;
  score?: { value: number; unit: string; code?: string };
  strata?: { stratifier: string; strata: { value: string; populations: GroupResult['populations'] }[] };
}

export interface EvaluationInput {
  sql: SqlClient;
  period: Period;
  /** The organisation measured (ODS); undefined: every organisation together. */
  ods: string | undefined;
  holidays: ReadonlySet<string>;
  now: Date;
}

const odsOf = (r: Reference | undefined) => (r?.identifier?.system === ODS ? r.identifier.value : undefined);
/** The organisation a request was made of: the first version's owner (the answer keeps it, naming a worker there). */
const askedOf = (f: RequestFacts) => ownerOf(f.first).orgOds;
const inPeriod = (date: string, p: Period) => date >= p.start && date <= p.end;

async function answeredInPeriod(x: EvaluationInput): Promise<(RequestFacts & { answeredAt: string; answer: 'accepted' | 'rejected' })[]> {
  const facts = await requestFacts(x.sql, x.period.to);
  return facts.filter(
    (f): f is RequestFacts & { answeredAt: string; answer: 'accepted' | 'rejected' } =>
      !!f.answeredAt && !!f.answer && requestKindOf(f.first.code) !== undefined && (!x.ods || askedOf(f) === x.ods) && inPeriod(dateOf(f.answeredAt), x.period)
  );
}

async function responseTime(x: EvaluationInput): Promise<GroupResult[]> {
  const answered = await answeredInPeriod(x);
  const days = answered.map((f) => workingDaysBetween(dateOf(f.first.authoredOn ?? f.firstStored), dateOf(f.answeredAt), x.holidays));
  const pops = { 'initial-population': days.length, 'measure-population': days.length, 'measure-observation': days.length };
  const unit = { unit: 'working days', code: 'd' };
  const med = median(days);
  const p90 = percentileNearestRank(days, 90);
  return [
    { code: 'median', populations: pops, ...(med !== undefined ? { score: { value: med, ...unit } } : {}) },
    { code: '90th-percentile', populations: pops, ...(p90 !== undefined ? { score: { value: p90, ...unit } } : {}) },
  ];
}

/** A decline's coded reason, as system|code; free text never leaves the record. */
const reasonKey = (f: RequestFacts) => (f.reason?.code ? `${f.reason.system ?? ''}|${f.reason.code}` : 'uncoded');

async function declines(x: EvaluationInput): Promise<GroupResult[]> {
  const answered = await answeredInPeriod(x);
  const declined = answered.filter((f) => f.answer === 'rejected');
  const byReason = new Map<string, number>();
  for (const f of declined) byReason.set(reasonKey(f), (byReason.get(reasonKey(f)) ?? 0) + 1);
  return [
    {
      code: 'declined',
      populations: { 'initial-population': answered.length, denominator: answered.length, numerator: declined.length },
      ...(answered.length ? { score: { value: declined.length / answered.length, unit: 'proportion', code: '1' } } : {}),
      strata: {
        stratifier: 'decline-reason',
        strata: [...byReason].sort(([a], [b]) => a.localeCompare(b)).map(([value, n]) => ({ value, populations: { numerator: n } })),
      },
    },
  ];
}

async function overdue(x: EvaluationInput): Promise<GroupResult[]> {
  // As the record stood at the end of the period (London midnight after its last day), or now if it has not ended.
  const cut = x.period.to < x.now ? x.period.to : x.now;
  const facts = await requestFacts(x.sql, cut);
  const n = facts.filter(
    (f) =>
      requestKindOf(f.first.code) !== undefined &&
      (!x.ods || askedOf(f) === x.ods) &&
      isOverdue({ status: (f.statusAtCut ?? 'draft') as Task['status'], restriction: { period: { ...(f.deadlineAtCut ? { end: f.deadlineAtCut } : {}) } } }, cut)
  ).length;
  return [{ code: 'overdue', populations: { 'initial-population': n }, score: { value: n, unit: 'requests', code: '{requests}' } }];
}

async function duplicates(x: EvaluationInput): Promise<GroupResult[]> {
  const c = await duplicateCounts(x.sql, x.period.from, x.period.to, x.ods);
  return [
    {
      code: 'avoided',
      populations: { 'initial-population': c.noticed, denominator: c.noticed, numerator: c.disclosed },
      score: { value: c.disclosed, unit: 'assessments', code: '{assessments}' },
    },
  ];
}

async function dischargeToService(x: EvaluationInput): Promise<GroupResult[]> {
  const [candidates, starts] = await Promise.all([referralCandidates(x.sql), serviceStarts(x.sql)]);
  const observations: number[] = [];
  let referrals = 0;
  for (const c of candidates) {
    const sr = c.request;
    if (sr.status === 'entered-in-error') continue;
    const isDischargeKind = requestKindOf(sr.code) === 'discharge-assessment';
    const isDhContact = (sr.category ?? []).some((cat) => cat.coding?.some((k) => k.system?.endsWith('/cld-route-of-access') && k.code === 'DH'));
    // Who received it: the organisation asked (our request), or the council holding the contact.
    const receivers = isDischargeKind ? (sr.performer ?? []).map(odsOf).filter((o): o is string => !!o) : isDhContact && c.controller ? [c.controller] : [];
    const when = sr.authoredOn ?? sr.occurrenceDateTime;
    if (!when) continue;
    const referred = dateOf(when);
    for (const receiver of receivers) {
      if ((x.ods && receiver !== x.ods) || !inPeriod(referred, x.period)) continue;
      referrals++;
      const first = starts
        .filter((s) => s.patientId === c.patientId && (s.controller === receiver || s.managing === receiver) && dateOf(s.start) >= referred)
        .map((s) => dateOf(s.start))
        .sort()[0];
      if (first) observations.push(daysBetween(referred, first));
    }
  }
  const med = median(observations);
  return [
    {
      code: 'median',
      populations: { 'initial-population': referrals, 'measure-population': observations.length, 'measure-observation': observations.length },
      ...(med !== undefined ? { score: { value: med, unit: 'days', code: 'd' } } : {}),
    },
  ];
}

export const EVALUATORS: Readonly<Record<MeasureId, (x: EvaluationInput) => Promise<GroupResult[]>>> = {
  'referral-response-time': responseTime,
  'referral-declines': declines,
  'overdue-requests': overdue,
  'duplicate-assessments-avoided': duplicates,
  'discharge-to-service-start': dischargeToService,
};
