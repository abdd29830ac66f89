import type { PurposeOfUse } from '../auth/purposes.ts';
import { periodContains, startMs } from './time.ts';
import type { ConsentAuthority, ConsentFact, ConsentProvisionFact, DataClass } from './types.ts';

/**
 * Which recorded consent decides an exchange (legal-rules.md rule 4):
 * - a consent counts only while its own period, and the provision's period,
 *   contain `now`;
 * - it applies when any provision matches the exchange (empty actor, purpose
 *   or class lists mean "any");
 * - the most recent applicable consent (Consent.dateTime) wins;
 * - within it, a matching deny provision overrides a matching permit.
 * Policy reading: a consent recorded as refused or withdrawn is a refusal
 * whatever its provisions say, so its matching provisions count as deny
 * (a withdrawal loaded with the original permit provisions must not permit).
 * Ties on dateTime: deny wins (the cautious reading of two decisions made at
 * the same instant).
 */

export interface ConsentAsk {
  actor: string;
  purpose: PurposeOfUse;
  dataClass: DataClass;
  nowMs: number;
}

export interface ConsentVerdict {
  consent: ConsentFact;
  effect: 'permit' | 'deny';
  /** A matching provision of the deciding type names the asking organisation explicitly. */
  namesActor: boolean;
}

function matches(p: ConsentProvisionFact, ask: ConsentAsk): boolean {
  return (
    (p.actors.length === 0 || p.actors.includes(ask.actor)) &&
    (p.purposes.length === 0 || p.purposes.includes(ask.purpose)) &&
    (p.classes.length === 0 || p.classes.includes(ask.dataClass)) &&
    periodContains(p.period, ask.nowMs)
  );
}

/** This consent's answer to the exchange, or undefined when it does not apply. */
export function consentVerdict(c: ConsentFact, ask: ConsentAsk): ConsentVerdict | undefined {
  if (!periodContains(c.period, ask.nowMs)) return undefined;
  const refusal = c.decision !== 'given';
  let permit = false;
  let permitNames = false;
  let deny = false;
  let denyNames = false;
  for (const p of c.provisions) {
    if (!matches(p, ask)) continue;
    const names = p.actors.includes(ask.actor);
    if (refusal || p.type === 'deny') {
      deny = true;
      denyNames ||= names;
    } else {
      permit = true;
      permitNames ||= names;
    }
  }
  if (deny) return { consent: c, effect: 'deny', namesActor: denyNames };
  if (permit) return { consent: c, effect: 'permit', namesActor: permitNames };
  return undefined;
}

/** The winning applicable consent among those made under one of `authorities`. */
export function winningConsent(
  consents: readonly ConsentFact[],
  ask: ConsentAsk,
  authorities: readonly ConsentAuthority[],
): ConsentVerdict | undefined {
  let best: ConsentVerdict | undefined;
  let bestMs = -Infinity;
  for (const c of consents) {
    if (!authorities.includes(c.authority)) continue;
    const v = consentVerdict(c, ask);
    if (!v) continue;
    const ms = startMs(c.dateTime);
    if (Number.isNaN(ms)) continue;
    if (!best || ms > bestMs || (ms === bestMs && v.effect === 'deny' && best.effect === 'permit')) {
      best = v;
      bestMs = ms;
    }
  }
  return best;
}

/**
 * Mental Capacity Act 2005 s2-3: capacity is decision-specific and assessed;
 * we take the most recent assessment recorded with any consent (assessedOn,
 * else the consent's dateTime). Ties: "lacks capacity" wins, so a
 * representative's decision is not ignored.
 */
export function lacksCapacity(consents: readonly ConsentFact[]): boolean {
  let latest = -Infinity;
  let lacks = false;
  for (const c of consents) {
    if (!c.capacity) continue;
    const ms = startMs(c.capacity.assessedOn ?? c.dateTime);
    if (Number.isNaN(ms)) continue;
    if (ms > latest) {
      latest = ms;
      lacks = !c.capacity.hasCapacity;
    } else if (ms === latest && !c.capacity.hasCapacity) {
      lacks = true;
    }
  }
  return lacks;
}
