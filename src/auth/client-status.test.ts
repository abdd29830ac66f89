import { describe, expect, test } from 'vitest';
import { ClientStatusCache } from './client-status.ts';

describe('ClientStatusCache', () => {
  test('asks the registry once per ttl, and sees a suspension after it', async () => {
    let status: 'active' | 'suspended' = 'active';
    let lookups = 0;
    let t = 0;
    const cache = new ClientStatusCache(
      {
        get: async () => {
          lookups++;
          return { status } as never;
        },
      },
      1000,
      () => t
    );
    expect(await cache.isActive('c1')).toBe(true);
    status = 'suspended';
    t = 999;
    expect(await cache.isActive('c1')).toBe(true); // still cached
    expect(lookups).toBe(1);
    t = 1000;
    expect(await cache.isActive('c1')).toBe(false);
    expect(lookups).toBe(2);
  });

  test('an unknown client is not active', async () => {
    const cache = new ClientStatusCache({ get: async () => undefined });
    expect(await cache.isActive('nobody')).toBe(false);
  });
});
