import { migrate } from './migrations.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import type { Database } from './sql-client.ts';

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  poolSize?: number;
  /** PostgreSQL only: see PostgresOptions.connectTimeoutMs. */
  connectTimeoutMs?: number;
}

/** PostgreSQL when a URL is given, otherwise embedded PGlite; migrated either way. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const db = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10, options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {})
    : await openPglite(options.dataDir);
  await migrate(db);
  return db;
}
