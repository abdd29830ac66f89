import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrations.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import type { Database } from '../../src/db/sql-client.ts';

export interface Backend {
  name: 'pglite' | 'postgres';
  /**
   * A fresh, migrated, empty database of this kind. waitForConnectionMs
   * (PostgreSQL) is how long a query may wait for one of the pool's 5
   * connections (default as in production, 5 s): for tests that queue many
   * transactions on purpose, where waiting is not the database being down.
   */
  open(options?: { waitForConnectionMs?: number }): Promise<Database>;
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  const list: Backend[] = [{ name: 'pglite', open: openFreshPglite }];
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    list.push({ name: 'postgres', open: (options) => openFreshPostgresSchema(url, options?.waitForConnectionMs) });
  }
  return list;
}

/** Runs fn on a fresh database of this backend, closed (and, on PostgreSQL, its schema dropped) afterwards. */
export async function withDatabase(backend: Backend, fn: (db: Database) => Promise<void>): Promise<void> {
  const db = await backend.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

async function openFreshPglite(): Promise<Database> {
  const db = await openPglite('memory://');
  await migrate(db);
  return db;
}

/**
 * Each suite gets its own schema in the test database, so test files can run
 * in parallel; the schema is dropped when the database is closed.
 */
async function openFreshPostgresSchema(url: string, waitForConnectionMs?: number): Promise<Database> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema},public`);
  const db = await openPostgres(u.toString(), 5, waitForConnectionMs === undefined ? {} : { connectTimeoutMs: waitForConnectionMs });
  await migrate(db);
  const close = db.close.bind(db);
  return {
    ...db,
    async close() {
      await close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}
