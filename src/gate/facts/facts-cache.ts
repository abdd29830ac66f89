import type { SqlClient } from '../../db/sql-client.ts';
import type { PersonFacts } from '../types.ts';
import { loadPersonFacts } from './load-facts.ts';

/**
 * Person facts cached per person. Every write that touches a person's record
 * calls invalidate() (inside and again after its transaction), so one
 * instance never decides on stale facts; the TTL bounds staleness between
 * several instances sharing one database. A load that raced with an
 * invalidation is returned to its caller but not kept.
 */
export class FactsCache {
  private readonly entries = new Map<string, { facts: PersonFacts; at: number }>();
  private readonly generation = new Map<string, number>();
  private epoch = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 20_000
  ) {}

  async get(sql: SqlClient, patientIds: readonly string[]): Promise<Map<string, PersonFacts>> {
    const now = Date.now();
    const out = new Map<string, PersonFacts>();
    const missing: string[] = [];
    for (const id of new Set(patientIds)) {
      const e = this.entries.get(id);
      if (e && now - e.at < this.ttlMs) out.set(id, e.facts);
      else missing.push(id);
    }
    if (!missing.length) return out;
    const epoch = this.epoch;
    const before = new Map(missing.map((id) => [id, this.generation.get(id) ?? 0]));
    const loaded = await loadPersonFacts(sql, missing);
    for (const [id, facts] of loaded) {
      out.set(id, facts);
      if (this.ttlMs > 0 && epoch === this.epoch && (this.generation.get(id) ?? 0) === before.get(id)) this.put(id, facts, now);
    }
    return out;
  }

  invalidate(patientIds: readonly string[]): void {
    for (const id of patientIds) {
      this.entries.delete(id);
      this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    }
    if (this.generation.size > this.maxEntries * 2) {
      // Forget old generations wholesale; bumping the epoch keeps in-flight loads from caching.
      this.generation.clear();
      this.epoch++;
    }
  }

  clear(): void {
    this.entries.clear();
    this.epoch++;
  }

  private put(id: string, facts: PersonFacts, at: number): void {
    if (this.entries.size >= this.maxEntries) {
      // Oldest first: Map iteration is insertion order.
      const first = this.entries.keys().next().value;
      if (first !== undefined) this.entries.delete(first);
    }
    this.entries.set(id, { facts, at });
  }
}
