import type { PurposeOfUse } from '../../auth/purposes.ts';
import { coveringAgreements } from '../agreement-match.ts';
import { lacksCapacity, winningConsent, type ConsentVerdict } from '../consent-provisions.ts';
import { isChild } from '../time.ts';
import type { ConsentAuthority, GateQuery, PersonFacts, Policy, RuleId, SharingAgreement } from '../types.ts';

/**
 * What the rules derive from one query, computed once per decision. Lazy
 * parts (consent winner, agreements) are memoised on first use so a rule
 * that settles early pays for nothing else.
 */

export const DIRECT_CARE: readonly PurposeOfUse[] = ['TREAT', 'CAREMGT'];
export const EMERGENCY: readonly PurposeOfUse[] = ['ETREAT', 'BTG'];
export const SAFEGUARDING: readonly PurposeOfUse[] = ['safeguarding-adults', 'safeguarding-children'];
export const SECONDARY: readonly PurposeOfUse[] = ['HRESCH', 'HOPERAT', 'PUBHLTH'];
export const ON_REQUEST: readonly PurposeOfUse[] = ['PATRQT', 'PWATRNY'];

/** Classes that are a carer's own data when the data subject is a carer (rule 7). */
export const CARER_CLASSES = ['assessments', 'care-plan', 'services', 'reviews', 'carer-data'] as const;

/**
 * Who speaks for the data subject, which decides which consents count and
 * which rule answers for them. Order matters: child first (rule 10; the
 * Mental Capacity Act is not applied to children here), then an adult lacking
 * capacity (rule 6), then a carer's own data (rule 7), else an adult (rule 4).
 */
export type Category = 'child' | 'incapacity' | 'carer' | 'adult';

export const CATEGORY_AUTHORITIES: Readonly<Record<Category, readonly ConsentAuthority[]>> = {
  child: ['person', 'parental-responsibility'],
  incapacity: ['lpa-health-welfare', 'deputy', 'best-interests'],
  carer: ['person'],
  adult: ['person'],
};

export const CATEGORY_RULE: Readonly<Record<Category, RuleId>> = {
  child: 'R10-children',
  incapacity: 'R6-capacity',
  carer: 'R7-carer-data',
  adult: 'R4-objection',
};

export interface Ctx {
  readonly q: GateQuery;
  readonly policy: Policy;
  readonly nowMs: number;
  readonly purpose: PurposeOfUse;
  /** Requester and controller are the same organisation. */
  readonly same: boolean;
  readonly child: boolean;
  readonly category: Category;
  /** The winning applicable consent of the data subject, among those the category counts. */
  consent(): ConsentVerdict | undefined;
  /** Agreements in force covering requester + controller + purpose + class. */
  agreements(): SharingAgreement[];
}

export function isCarerSubject(q: GateQuery): boolean {
  if (q.data.thirdParty) return false;
  return q.data.dataClass === 'carer-data' || (q.person.isCarer && (CARER_CLASSES as readonly string[]).includes(q.data.dataClass));
}

function categoryOf(q: GateQuery, person: PersonFacts, child: boolean): Category {
  if (child) return 'child';
  if (lacksCapacity(person.consents)) return 'incapacity';
  if (isCarerSubject(q)) return 'carer';
  return 'adult';
}

export function makeContext(q: GateQuery, policy: Policy): Ctx {
  const nowMs = q.now.getTime();
  const child = isChild(q.person.birthDate, nowMs);
  const category = categoryOf(q, q.person, child);
  const ask = { actor: q.requester.ods, purpose: q.requester.purpose, dataClass: q.data.dataClass, nowMs };
  let consent: ConsentVerdict | undefined | null = null;
  let agreements: SharingAgreement[] | null = null;
  return {
    q,
    policy,
    nowMs,
    purpose: q.requester.purpose,
    same: q.data.controller !== undefined && q.data.controller === q.requester.ods,
    child,
    category,
    consent() {
      if (consent === null) consent = winningConsent(q.person.consents, ask, CATEGORY_AUTHORITIES[category]);
      return consent;
    },
    agreements() {
      agreements ??= coveringAgreements(policy, {
        requester: q.requester.ods,
        controller: q.data.controller,
        purpose: q.requester.purpose,
        dataClass: q.data.dataClass,
        nowMs,
      });
      return agreements;
    },
  };
}

export function hasJustification(q: GateQuery): boolean {
  return (q.requester.justification ?? '').trim().length > 0;
}
