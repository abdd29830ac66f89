import type { PurposeOfUse } from '../auth/purposes.ts';
import { endMs, startMs } from './time.ts';
import type { DataClass, Policy, SharingAgreement } from './types.ts';

/**
 * Rule 1: which sharing agreement (ISA) covers an exchange. In force when
 * `now` lies within period.start..period.end (inclusive) and it has not been
 * ended (endedAt ≤ now ends it). Covers an exchange when both the requesting
 * organisation and the controller are parties and it names the purpose and
 * the data class (NHS England IG framework for shared care records, 2021).
 *
 * The per-policy index (agreements by party ODS code) is a memo keyed on the
 * agreements array: the engine stays pure, the lookup stays O(agreements of
 * one organisation) on every decision.
 */

const index = new WeakMap<readonly SharingAgreement[], Map<string, SharingAgreement[]>>();

function byParty(agreements: readonly SharingAgreement[]): Map<string, SharingAgreement[]> {
  let map = index.get(agreements);
  if (!map) {
    map = new Map();
    // Deterministic order: id ascending, then the newest version first.
    const sorted = [...agreements].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : b.version - a.version));
    for (const a of sorted) {
      for (const ods of new Set(a.parties.map((p) => p.ods))) {
        const list = map.get(ods);
        if (list) list.push(a);
        else map.set(ods, [a]);
      }
    }
    index.set(agreements, map);
  }
  return map;
}

export function inForce(a: SharingAgreement, nowMs: number): boolean {
  if (!(startMs(a.period.start) <= nowMs)) return false;
  if (a.period.end !== undefined && !(nowMs <= endMs(a.period.end))) return false;
  if (a.endedAt !== undefined && !(startMs(a.endedAt) > nowMs)) return false;
  return true;
}

export interface AgreementAsk {
  requester: string;
  controller: string | undefined;
  purpose: PurposeOfUse;
  dataClass: DataClass;
  nowMs: number;
}

/** Every agreement in force covering the exchange, in deterministic order. */
export function coveringAgreements(policy: Policy, ask: AgreementAsk): SharingAgreement[] {
  const { controller } = ask;
  if (controller === undefined) return [];
  const candidates = byParty(policy.agreements).get(ask.requester);
  if (!candidates) return [];
  return candidates.filter(
    (a) =>
      a.parties.some((p) => p.ods === controller) &&
      a.purposes.includes(ask.purpose) &&
      a.dataClasses.includes(ask.dataClass) &&
      inForce(a, ask.nowMs),
  );
}
