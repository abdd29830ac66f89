import type { SqlClient } from '../../db/sql-client.ts';
import { FactsCache } from '../facts/facts-cache.ts';
import type { Policy, SharingAgreement } from '../types.ts';

/**
 * What every request's gate shares: the facts cache and the policy (sharing
 * agreements, break-glass time box). Agreements change rarely and only
 * through the CLI or the demo seed, so they are reloaded at once on
 * invalidatePolicy() (which the cluster listener calls when the CLI or
 * another instance says they changed), else after a TTL.
 */
export interface GateServices {
  facts: FactsCache;
  /** Through the caller's client: inside a transaction on PGlite's single connection, the pool would wait for ever. */
  policy(sql: SqlClient): Promise<Policy>;
  invalidatePolicy(): void;
  now(): Date;
  /** Told of every decision a RequestGate records (metrics: outcome and the rule that settled it). */
  onDecision?: (outcome: 'permit' | 'deny', rule: string) => void;
  /**
   * Tells the other instances sharing the database that these people's facts
   * are changing (PostgreSQL only: src/ops/cluster-invalidation.ts). Called
   * with the writing transaction's client, so they hear of it on COMMIT and
   * never of a rollback.
   */
  notifyFactsChanged?: (sql: SqlClient, patientIds: readonly string[]) => Promise<void>;
}

export interface GateServiceOptions {
  factsTtlMs: number;
  policyTtlMs: number;
  breakGlassWindowMs: number;
  loadAgreements: (sql: SqlClient) => Promise<SharingAgreement[]>;
  now?: () => Date;
  onDecision?: (outcome: 'permit' | 'deny', rule: string) => void;
  notifyFactsChanged?: (sql: SqlClient, patientIds: readonly string[]) => Promise<void>;
}

export function createGateServices(options: GateServiceOptions): GateServices {
  let cached: { policy: Policy; at: number } | undefined;
  // Bumped by invalidatePolicy(): a load that started before it is answered but not kept.
  let generation = 0;
  const load = async (sql: SqlClient): Promise<Policy> => {
    const started = generation;
    const at = Date.now();
    const agreements = await options.loadAgreements(sql);
    const policy: Policy = { agreements, breakGlassWindowMs: options.breakGlassWindowMs };
    if (started === generation) cached = { policy, at };
    return policy;
  };
  return {
    facts: new FactsCache(options.factsTtlMs),
    async policy(sql) {
      if (cached && Date.now() - cached.at < options.policyTtlMs) return cached.policy;
      return load(sql);
    },
    invalidatePolicy() {
      generation++;
      cached = undefined;
    },
    now: options.now ?? (() => new Date()),
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
    ...(options.notifyFactsChanged ? { notifyFactsChanged: options.notifyFactsChanged } : {}),
  };
}
