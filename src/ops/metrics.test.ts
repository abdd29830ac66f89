import { describe, expect, test } from 'vitest';
import { GatewayMetrics } from './metrics.ts';

describe('GatewayMetrics: the cross-instance listener', () => {
  test('absent until a listener is watched, then its state at each scrape', async () => {
    const m = new GatewayMetrics();
    expect(await m.registry.metrics()).not.toMatch(/^joinedup_cluster_listener_connected \d/m);
    const state = { connected: true, resets: 1 };
    m.watchClusterListener(() => state);
    let text = await m.registry.metrics();
    expect(text).toMatch(/^joinedup_cluster_listener_connected 1$/m);
    expect(text).toMatch(/^joinedup_cluster_listener_resets_total 1$/m);
    state.connected = false;
    state.resets = 3;
    text = await m.registry.metrics();
    expect(text).toMatch(/^joinedup_cluster_listener_connected 0$/m);
    expect(text).toMatch(/^joinedup_cluster_listener_resets_total 3$/m);
  });
});
