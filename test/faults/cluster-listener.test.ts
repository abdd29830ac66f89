import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { ClientStatusCache } from '../../src/auth/client-status.ts';
import { CHANNEL_SQL, decodeInvalidation, encodeInvalidation, publishInvalidation } from '../../src/ops/cluster-invalidation.ts';
import { ClusterListener } from '../../src/ops/cluster-listener.ts';
import type { InvalidationTargets } from '../../src/ops/cluster-listener.ts';
import { freshSchemaUrl } from '../cli/run-cli.ts';

describe('invalidation messages', () => {
  it('round-trips every kind, and names its origin', () => {
    for (const inv of [
      { kind: 'facts', patientIds: ['p-1', 'p.2'] },
      { kind: 'clients', clientIds: ['client-X99001'] },
      { kind: 'agreements' },
      { kind: 'facts-all' },
      { kind: 'all' },
    ] as const) {
      const [payload, ...more] = encodeInvalidation(inv, 'abc12345');
      expect(more).toEqual([]);
      expect(decodeInvalidation(payload!)).toEqual({ origin: 'abc12345', invalidation: inv });
    }
  });

  it('splits many ids under the 8000-byte limit, and sends "all facts" for more than a few notifications', () => {
    const ids = Array.from({ length: 600 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const chunks = encodeInvalidation({ kind: 'facts', patientIds: ids }, 'o1');
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(Buffer.byteLength(c)).toBeLessThan(8000);
    const decoded = chunks.map((c) => decodeInvalidation(c)!.invalidation);
    expect(decoded.flatMap((inv) => (inv.kind === 'facts' ? inv.patientIds : []))).toEqual(ids);
    const huge = encodeInvalidation({ kind: 'facts', patientIds: [...ids, ...ids.map((i) => `${i}x`), ...ids.map((i) => `${i}y`), ...ids.map((i) => `${i}z`)] }, 'o1');
    expect(huge).toEqual(['v1|o1|f*']);
    expect(decodeInvalidation(huge[0]!)!.invalidation).toEqual({ kind: 'facts-all' });
    expect(encodeInvalidation({ kind: 'facts', patientIds: [] }, 'o1')).toEqual([]);
  });

  it('does not understand what it does not know', () => {
    for (const p of ['', 'v2|o|a', 'v1|o', 'v1|o|f', 'v1|o|x|1', 'v1|o|a|extra']) expect(decodeInvalidation(p)).toBeUndefined();
  });

  it('the client status cache forgets an invalidated client, and a lookup that raced with it is not kept', async () => {
    let status = 'active';
    let release: () => void = () => {};
    let gate: Promise<void> | undefined;
    const cache = new ClientStatusCache({ get: async () => (await gate, { status }) as never }, 60_000);
    expect(await cache.isActive('c1')).toBe(true);
    status = 'suspended';
    expect(await cache.isActive('c1')).toBe(true); // cached
    cache.invalidate(['c1']);
    expect(await cache.isActive('c1')).toBe(false);
    status = 'active';
    gate = new Promise<void>((r) => (release = r));
    cache.clear();
    const racing = cache.isActive('c1');
    cache.invalidate(['c1']);
    release();
    expect(await racing).toBe(true);
    status = 'suspended';
    gate = undefined;
    expect(await cache.isActive('c1')).toBe(false); // the raced answer was not kept
  });
});

const url = process.env.TEST_DATABASE_URL;
if (!url) {
  describe('cluster listener on PostgreSQL', () => {
    it.skip('needs TEST_DATABASE_URL (LISTEN/NOTIFY is PostgreSQL only; CI sets it)', () => {});
  });
} else {
  describe('cluster listener on PostgreSQL', () => {
    let schema: { url: string; drop(): Promise<void> };
    let listener: ClusterListener;
    let writer: pg.Client;
    const seen: string[] = [];
    const targets: InvalidationTargets = {
      facts: { invalidate: (ids) => seen.push(`facts:${ids.join(',')}`), clear: () => seen.push('facts:clear') },
      policy: { invalidatePolicy: () => seen.push('policy') },
      clients: { invalidate: (ids) => seen.push(`clients:${ids.join(',')}`), clear: () => seen.push('clients:clear') },
    };
    const RESET = ['facts:clear', 'policy', 'clients:clear'];

    /** Waits until `seen` holds `entry` (notifications arrive asynchronously). */
    async function until(entry: string, ms = 5_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!seen.includes(entry)) {
        if (Date.now() > deadline) throw new Error(`never saw ${entry}; saw ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    beforeAll(async () => {
      schema = await freshSchemaUrl(url);
      writer = new pg.Client({ connectionString: schema.url });
      await writer.connect();
      listener = new ClusterListener({ url: schema.url, origin: 'me000000', targets, logger: pino({ level: 'silent' }), retryMinMs: 20, retryMaxMs: 200 });
      await listener.start();
    });
    afterAll(async () => {
      await listener?.close();
      await writer?.end();
      await schema?.drop();
    });

    const sql = () => ({
      query: async (text: string, params?: unknown[]) => {
        const r = await writer.query(text, params);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      },
      exec: async (text: string) => void (await writer.query(text)),
    });

    it('drops every cache when it starts listening', () => {
      expect(listener.connected).toBe(true);
      expect(listener.resets).toBe(1);
      expect(seen).toEqual(RESET);
    });

    it('applies what commits, never what rolls back, and skips its own', async () => {
      seen.length = 0;
      await writer.query('BEGIN');
      await publishInvalidation(sql(), { kind: 'facts', patientIds: ['rolled-back'] }, 'other000');
      await writer.query('ROLLBACK');
      await publishInvalidation(sql(), { kind: 'facts', patientIds: ['mine'] }, 'me000000');
      await writer.query('BEGIN');
      await publishInvalidation(sql(), { kind: 'facts', patientIds: ['p1', 'p2'] }, 'other000');
      // Not before COMMIT: give a notification every chance to arrive early.
      await new Promise((r) => setTimeout(r, 150));
      expect(seen).toEqual([]);
      await writer.query('COMMIT');
      await publishInvalidation(sql(), { kind: 'agreements' }, 'other000');
      await publishInvalidation(sql(), { kind: 'clients', clientIds: ['client-a'] }, 'other000');
      await until('clients:client-a');
      // Delivered in commit order; the rolled-back and own ones never.
      expect(seen).toEqual(['facts:p1,p2', 'policy', 'clients:client-a']);
    });

    it('listens on its own schema only', async () => {
      const other = await freshSchemaUrl(url);
      const c = new pg.Client({ connectionString: other.url });
      await c.connect();
      try {
        seen.length = 0;
        await c.query(`SELECT pg_notify(${CHANNEL_SQL}, $1)`, [encodeInvalidation({ kind: 'all' }, 'other000')[0]]);
        await publishInvalidation(sql(), { kind: 'clients', clientIds: ['marker'] }, 'other000');
        await until('clients:marker');
        expect(seen).toEqual(['clients:marker']);
      } finally {
        await c.end();
        await other.drop();
      }
    });

    it('reconnects when its connection is killed, and drops every cache then (what was sent meanwhile is lost)', async () => {
      seen.length = 0;
      const channel = (await writer.query<{ c: string }>(`SELECT ${CHANNEL_SQL} AS c`)).rows[0]!.c;
      const killed = await writer.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'joinedup-invalidation-listener' AND query = $1`,
        [`LISTEN "${channel}"`]
      );
      expect(killed.rows).toEqual([{ ok: true }]);
      await until('clients:clear');
      expect(listener.resets).toBe(2);
      expect(seen).toEqual(RESET);
      // Listening again.
      await publishInvalidation(sql(), { kind: 'facts', patientIds: ['after'] }, 'other000');
      await until('facts:after');
      expect(listener.connected).toBe(true);
    });

    it('a message it does not understand drops everything', async () => {
      seen.length = 0;
      await writer.query(`SELECT pg_notify(${CHANNEL_SQL}, 'v9|someone|new-kind')`);
      await until('clients:clear');
      expect(seen).toEqual(RESET);
    });

    it('stops for good when closed', async () => {
      await listener.close();
      expect(listener.connected).toBe(false);
      const left = await writer.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'joinedup-invalidation-listener' AND query = $1`, [
        `LISTEN "${(await writer.query<{ c: string }>(`SELECT ${CHANNEL_SQL} AS c`)).rows[0]!.c}"`,
      ]);
      expect(left.rows[0]).toEqual({ n: 0 });
    });
  });
}
