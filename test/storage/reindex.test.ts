import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { reindex } from '../../src/fhir/repo/reindex.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';

describe.each(backends())('reindex ($name)', (backend) => {
  let db: Database;
  let s: TestServer;
  beforeAll(async () => {
    db = await backend.open();
    s = await startTestServer(db);
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });

  test('rebuilds lost index rows from stored resources, leaving versions alone', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(701))).body;
    for (let i = 0; i < 7; i++) await s.request('POST', 'CarePlan', testCarePlan(p.id));
    const before = await s.request('GET', `CarePlan?subject=Patient/${p.id}`);
    expect(before.body.total).toBe(7);

    // As if an older release had indexed nothing for references.
    await db.query('DELETE FROM sp_reference');
    expect((await s.request('GET', `CarePlan?subject=Patient/${p.id}`)).body.total).toBe(0);
    const versions = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_version')).rows[0]?.n;

    const progress: number[] = [];
    const done = await reindex(db, { batchSize: 3, onProgress: (x) => progress.push(x.done) });
    expect(done).toBe(8);
    expect(progress).toEqual([3, 6, 8]);
    expect((await s.request('GET', `CarePlan?subject=Patient/${p.id}`)).body.total).toBe(7);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_version')).rows[0]?.n).toBe(versions);

    // Running it again changes nothing.
    const tokenRows = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sp_token')).rows[0]?.n;
    await reindex(db);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sp_token')).rows[0]?.n).toBe(tokenRows);
  });
});
