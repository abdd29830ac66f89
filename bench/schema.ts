import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchSchema {
  name: string;
  /** The database URL with search_path set to the schema (what the servers connect with). */
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty schema, like test/support/backends.ts makes for tests; the gateway migrates it at start. */
export async function createBenchSchema(baseUrl: string): Promise<BenchSchema> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  // Extensions are per database: made here, in the default schema, it is not dropped with a bench schema (as test/support/global-setup.ts does).
  await adminQuery(baseUrl, 'CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await adminQuery(baseUrl, `CREATE SCHEMA ${name}`);
  const u = new URL(baseUrl);
  u.searchParams.set('options', `-c search_path=${name},public`);
  return { name, url: u.toString(), drop: async () => void (await adminQuery(baseUrl, `DROP SCHEMA IF EXISTS ${name} CASCADE`)) };
}

export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
