import type { SqlClient } from '../../db/sql-client.ts';
import { FactsCache } from '../facts/facts-cache.ts';
import type { Policy, SharingAgreement } from '../types.ts';

/**
 * What every request's gate shares: the facts cache and the policy (sharing
 * agreements, break-glass time box). Agreements change rarely and only
 * through the CLI or the demo seed, so they are reloaded after a short TTL
 * or at once on invalidatePolicy().
 */
export interface GateServices {
  facts: FactsCache;
  /** Through the caller's client: inside a transaction on PGlite's single connection, the pool would wait for ever. */
  policy(sql: SqlClient): Promise<Policy>;
  invalidatePolicy(): void;
  now(): Date;
  /** Told of every decision a RequestGate records (metrics: outcome and the rule that settled it). */
  onDecision?: (outcome: 'permit' | 'deny', rule: string) => void;
}

export interface GateServiceOptions {
  factsTtlMs: number;
  policyTtlMs: number;
  breakGlassWindowMs: number;
  loadAgreements: (sql: SqlClient) => Promise<SharingAgreement[]>;
  now?: () => Date;
  onDecision?: (outcome: 'permit' | 'deny', rule: string) => void;
}

export function createGateServices(options: GateServiceOptions): GateServices {
  let cached: { policy: Policy; at: number } | undefined;
  const load = async (sql: SqlClient): Promise<Policy> => {
    const agreements = await options.loadAgreements(sql);
    const policy: Policy = { agreements, breakGlassWindowMs: options.breakGlassWindowMs };
    cached = { policy, at: Date.now() };
    return policy;
  };
  return {
    facts: new FactsCache(options.factsTtlMs),
    async policy(sql) {
      if (cached && Date.now() - cached.at < options.policyTtlMs) return cached.policy;
      return load(sql);
    },
    invalidatePolicy() {
      cached = undefined;
    },
    now: options.now ?? (() => new Date()),
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
  };
}
