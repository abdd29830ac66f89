import { createHash } from 'node:crypto';
import type { ConsentFact, GateQuery, Policy, RuleId } from '../../src/gate/types.ts';

/**
 * A brute-force oracle for the gate, written from the rules as stated in the
 * brief and docs/lawful-basis.md — deliberately not sharing code with
 * src/gate (no helpers, no memo, no index), so the property test compares two
 * independent readings of the same rules.
 */

const DAY = 24 * 3600 * 1000;

function lo(s: string | undefined): number {
  return s === undefined ? -Infinity : new Date(s).getTime();
}
function hi(s: string | undefined): number {
  if (s === undefined) return Infinity;
  // A date without a time covers the whole day.
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? new Date(s).getTime() + DAY - 1 : new Date(s).getTime();
}
function inside(p: { start?: string; end?: string } | undefined, t: number): boolean {
  return !p || (lo(p.start) <= t && t <= hi(p.end));
}

interface Pick {
  deny: boolean;
  names: boolean;
}

export function pickConsent(consents: ConsentFact[], authorities: string[], actor: string, purpose: string, cls: string, t: number): Pick | undefined {
  const found: { at: number; deny: boolean; names: boolean }[] = [];
  for (const c of consents) {
    if (!authorities.includes(c.authority) || !inside(c.period, t)) continue;
    const hits = c.provisions.filter(
      (p) =>
        (p.actors.length === 0 || p.actors.includes(actor)) &&
        (p.purposes.length === 0 || p.purposes.includes(purpose as never)) &&
        (p.classes.length === 0 || p.classes.includes(cls as never)) &&
        inside(p.period, t),
    );
    if (hits.length === 0) continue;
    const denies = hits.filter((p) => c.decision !== 'given' || p.type === 'deny');
    const deciding = denies.length > 0 ? denies : hits;
    found.push({ at: new Date(c.dateTime).getTime(), deny: denies.length > 0, names: deciding.some((p) => p.actors.includes(actor)) });
  }
  if (found.length === 0) return undefined;
  const latest = Math.max(...found.map((f) => f.at));
  const top = found.filter((f) => f.at === latest);
  return top.find((f) => f.deny) ?? top[0];
}

function lacksCapacity(consents: ConsentFact[]): boolean {
  const assessed = consents
    .filter((c) => c.capacity)
    .map((c) => ({ at: new Date(c.capacity?.assessedOn ?? c.dateTime).getTime(), has: c.capacity?.hasCapacity }));
  if (assessed.length === 0) return false;
  const latest = Math.max(...assessed.map((a) => a.at));
  return assessed.some((a) => a.at === latest && a.has === false);
}

function under18(birth: string | undefined, t: number): boolean {
  if (!birth) return false;
  const [y, m, d] = birth.split('-').map(Number) as [number, number, number];
  return t < Date.UTC(y + 18, m - 1, d);
}

export function oracle(q: GateQuery, policy: Policy): { outcome: 'permit' | 'deny'; rule: RuleId } {
  const t = q.now.getTime();
  const r = q.requester;
  const P = r.purpose;
  const cls = q.data.dataClass;
  const ctl = q.data.controller;
  const yes = (rule: RuleId) => ({ outcome: 'permit' as const, rule });
  const no = (rule: RuleId) => ({ outcome: 'deny' as const, rule });
  const covering = policy.agreements.filter(
    (a) =>
      ctl !== undefined &&
      a.parties.some((p) => p.ods === r.ods) &&
      a.parties.some((p) => p.ods === ctl) &&
      a.purposes.includes(P) &&
      a.dataClasses.includes(cls) &&
      lo(a.period.start) <= t &&
      t <= hi(a.period.end) &&
      !(a.endedAt !== undefined && lo(a.endedAt) <= t),
  );

  if (q.operation === 'write') {
    if (P === 'ETREAT' || P === 'BTG') return no('W-controller-write');
    if (ctl === undefined || ctl === r.ods) return yes('W-controller-write');
    // A party other than the controller writes only what it may read.
    if (covering.length > 0 && oracle({ ...q, operation: 'read' }, policy).outcome === 'permit') return yes('W-controller-write');
    return no('W-controller-write');
  }
  const same = ctl !== undefined && ctl === r.ods;
  const tp = q.data.thirdParty;
  if (tp && !same) {
    if (!tp.facts) return no('R7-carer-data');
    const w = pickConsent(tp.facts.consents, ['person'], r.ods, P, cls, t);
    if (!w || w.deny) return no('R7-carer-data');
  }
  const justified = (r.justification ?? '').trim() !== '';
  if (P === 'ETREAT' || P === 'BTG') {
    if (!justified) return no('R9-break-glass');
    const h = createHash('sha256').update(r.justification as string).digest('hex');
    const opened = q.person.breakGlass.filter((w) => w.clientId === r.clientId && w.userId === r.userId && w.justificationHash === h);
    if (opened.length === 0) return yes('R9-break-glass');
    const last = Math.max(...opened.map((w) => new Date(w.openedAt).getTime()));
    return t < last + policy.breakGlassWindowMs ? yes('R9-break-glass') : no('R9-break-glass');
  }
  const child = under18(q.person.birthDate, t);
  if (P === 'safeguarding-adults') {
    return justified && !child && q.person.openSafeguarding.some((s) => s.kind === 's42') ? yes('R5-safeguarding') : no('R5-safeguarding');
  }
  if (P === 'safeguarding-children') return justified && child ? yes('R5-safeguarding') : no('R5-safeguarding');

  const carerSubject = !tp && (cls === 'carer-data' || (q.person.isCarer && ['assessments', 'care-plan', 'services', 'reviews'].includes(cls)));
  const kind = child ? 'child' : lacksCapacity(q.person.consents) ? 'incapacity' : carerSubject ? 'carer' : 'adult';
  const authorities = { child: ['person', 'parental-responsibility'], incapacity: ['lpa-health-welfare', 'deputy', 'best-interests'], carer: ['person'], adult: ['person'] }[kind];
  const rule = ({ child: 'R10-children', incapacity: 'R6-capacity', carer: 'R7-carer-data', adult: 'R4-objection' } as const)[kind];
  const w = pickConsent(q.person.consents, authorities, r.ods, P, cls, t);
  const direct = P === 'TREAT' || P === 'CAREMGT';
  const secondary = P === 'HRESCH' || P === 'HOPERAT' || P === 'PUBHLTH';
  const optedOutBlocks = q.person.nationalDataOptOut && !(P === 'PUBHLTH' && covering.some((a) => a.lawfulBasis.legalDuty === true));

  if (same) {
    if (direct) {
      if (w?.deny && w.names) return no(rule);
      return q.person.recordHolders.includes(r.ods) || q.person.servicesArrangedBy.includes(r.ods) ? yes('R8-need-to-know') : no('R12-default-deny');
    }
    if (secondary) {
      if (optedOutBlocks) return no('R11-national-data-opt-out');
      if (w?.deny) return no(rule);
      if (q.person.nationalDataOptOut || P === 'HOPERAT' || covering.length > 0) return yes('R11-national-data-opt-out');
      return no('R12-default-deny');
    }
    if (w?.deny) return no(rule);
    if (w) return yes(rule);
    return no(kind === 'adult' ? 'R12-default-deny' : rule);
  }
  if (secondary && optedOutBlocks) return no('R11-national-data-opt-out');
  if (direct) {
    const p = q.person;
    if (![...p.registeredGp, ...p.careTeamOrgs, ...p.referralOrgs, ...p.recordHolders].includes(r.ods)) return no('R2-relationship');
  }
  if (w?.deny) return no(rule);
  if (!w) {
    if (kind !== 'adult') return no(rule);
    if (P === 'PATRQT' || P === 'PWATRNY') return no('R12-default-deny');
  }
  if (covering.length === 0 && !(direct && w && w.names)) return no('R1-agreement');
  if (secondary) return yes('R11-national-data-opt-out');
  return w ? yes(rule) : yes('R3-implied-consent-direct-care');
}
