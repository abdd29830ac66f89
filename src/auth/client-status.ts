import type { ClientRegistry } from './client-registry.ts';

/**
 * Whether a client is still active, remembered for a short while. Access
 * tokens live 5 minutes and are verified from a cache, so without this a
 * suspended client would keep reading until its token ran out; with it,
 * suspension bites at once on every instance that hears of it (the CLI
 * notifies them, src/ops/cluster-listener.ts) and within `ttlMs` on any that
 * did not, at the cost of one primary-key lookup per client per `ttlMs`.
 */
export class ClientStatusCache {
  private readonly entries = new Map<string, { active: boolean; until: number }>();
  /** Bumped by invalidate() and clear(), so a lookup that raced with one is answered but not kept. */
  private generation = 0;

  constructor(
    private readonly clients: Pick<ClientRegistry, 'get'>,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now
  ) {}

  async isActive(clientId: string): Promise<boolean> {
    const hit = this.entries.get(clientId);
    if (hit && hit.until > this.now()) return hit.active;
    const generation = this.generation;
    const client = await this.clients.get(clientId);
    const active = client?.status === 'active';
    if (generation !== this.generation) return active;
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(clientId, { active, until: this.now() + this.ttlMs });
    return active;
  }

  /** These clients' status changed (suspended or activated elsewhere). */
  invalidate(clientIds: readonly string[]): void {
    this.generation++;
    for (const id of clientIds) this.entries.delete(id);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
