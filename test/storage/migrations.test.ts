import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { MIGRATIONS, migrate, pendingMigrations } from '../../src/db/migrations.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { openPglite } from '../../src/db/pglite.ts';

describe('embedded database (PGlite) on disk', () => {
  test('migrations apply once, and data survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'joinedup-pglite-'));
    try {
      const first = await openDatabase({ dataDir: dir });
      expect(await pendingMigrations(first)).toBe(0);
      await first.query(`INSERT INTO resource (resource_type, id, version_id, last_updated, content) VALUES ('Patient', 'p1', 1, now(), '{}')`);
      await first.close();

      const again = await openPglite(dir);
      expect(await migrate(again)).toEqual([]); // nothing left to apply
      const r = await again.query<{ id: string }>("SELECT id FROM resource WHERE resource_type = 'Patient'");
      expect(r.rows.map((x) => x.id)).toEqual(['p1']);
      const applied = await again.query<{ version: number }>('SELECT version FROM schema_migration ORDER BY version');
      expect(applied.rows.map((x) => x.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failing migration leaves nothing half-applied', async () => {
    const db = await openPglite('memory://');
    MIGRATIONS_UNDER_TEST.push({ version: 9999, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT * FROM no_such_table;' });
    try {
      await expect(migrate(db)).rejects.toThrow();
      const t = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('half_done', 'resource')");
      expect(t.rows[0]?.n).toBe(0);
    } finally {
      MIGRATIONS_UNDER_TEST.pop();
      await db.close();
    }
  });
});

// The list is readonly to callers; the test appends a broken migration and removes it again.
const MIGRATIONS_UNDER_TEST = MIGRATIONS as unknown as { version: number; name: string; sql: string }[];

const url = process.env.TEST_DATABASE_URL;
describe.runIf(url)('PostgreSQL', () => {
  test('several instances starting at once migrate exactly once (advisory lock)', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const u = new URL(url as string);
      u.searchParams.set('options', `-c search_path=${schema},public`);
      const dbs = await Promise.all([1, 2, 3].map(() => openDatabase({ databaseUrl: u.toString(), dataDir: 'unused', poolSize: 2 })));
      const r = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.schema_migration`);
      expect(r.rows[0].n).toBe(MIGRATIONS.length);
      await Promise.all(dbs.map((d) => d.close()));
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
