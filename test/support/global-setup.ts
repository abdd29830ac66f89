import pg from 'pg';

/**
 * With TEST_DATABASE_URL set, the storage and API suites also run against that
 * PostgreSQL. It must be reachable: a silent fallback to PGlite would hide a
 * broken CI database.
 */
export default async function setup(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`TEST_DATABASE_URL is set but PostgreSQL cannot be reached: ${(err as Error).message}`);
  }
  // Extensions are per database: create once here so parallel test schemas do not race.
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await client.end();
}
