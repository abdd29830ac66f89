import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';

/** Issue #9 item 1: liveness and readiness, public and without data. */
describe.each(backends())('health endpoints ($name)', (backend) => {
  const s = suiteServer(backend);

  test('/healthz answers 200 without a token', async () => {
    const res = await fetch(`${s.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  test('/readyz is 200 with the database reachable and every migration applied', async () => {
    const res = await fetch(`${s.baseUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', database: 'ok', migrations: 'applied' });
  });

  test('/readyz is 503 with an OperationOutcome and Retry-After when migrations are missing', async () => {
    const newest = (await s.db.query<{ v: number }>('SELECT max(version) AS v FROM schema_migration')).rows[0]!.v;
    const row = (await s.db.query<{ name: string }>('SELECT name FROM schema_migration WHERE version = $1', [newest])).rows[0]!;
    await s.db.query('DELETE FROM schema_migration WHERE version = $1', [newest]);
    try {
      const res = await fetch(`${s.baseUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = (await res.json()) as { resourceType: string; issue: { details: { text: string } }[] };
      expect(body.resourceType).toBe('OperationOutcome');
      expect(body.issue[0]!.details.text).toMatch(/1 migration\(s\) not yet applied/);
    } finally {
      await s.db.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [newest, row.name]);
    }
  });
});
