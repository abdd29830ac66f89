import type { ClientRegistry } from './client-registry.ts';

/**
 * Whether a client is still active, remembered for a short while. Access
 * tokens live 5 minutes and are verified from a cache, so without this a
 * suspended client would keep reading until its token ran out; with it,
 * suspension bites within `ttlMs` on every instance, at the cost of one
 * primary-key lookup per client per `ttlMs`.
 */
export class ClientStatusCache {
  private readonly entries = new Map<string, { active: boolean; until: number }>();

  constructor(
    private readonly clients: Pick<ClientRegistry, 'get'>,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now
  ) {}

  async isActive(clientId: string): Promise<boolean> {
    const hit = this.entries.get(clientId);
    if (hit && hit.until > this.now()) return hit.active;
    const client = await this.clients.get(clientId);
    const active = client?.status === 'active';
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(clientId, { active, until: this.now() + this.ttlMs });
    return active;
  }
}
