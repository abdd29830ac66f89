import pg from 'pg';
import type { Database, QueryResult, SqlClient } from './sql-client.ts';
import { DatabaseUnavailableError, isDatabaseUnavailable } from './unavailable.ts';

// int8 (bigint) columns come back as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface PostgresOptions {
  /**
   * Longest wait for a connection (a new one, or a free one from a full
   * pool) before the request fails as "database unavailable". Without it a
   * connect to a stopped or unreachable server can hang for minutes.
   */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Driver failures that mean "the database cannot be reached" become DatabaseUnavailableError; others pass through. */
function classify(err: unknown): unknown {
  return !(err instanceof DatabaseUnavailableError) && isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
}

export async function openPostgres(url: string, poolSize: number, options: PostgresOptions = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
  // An idle client losing its connection (the server stopped or restarted)
  // must not crash the process: pg-pool drops that client, and the next
  // checkout opens a fresh connection, so the pool recovers by itself.
  pool.on('error', () => undefined);
  const probe = await pool.connect();
  probe.release();

  const wrap = (c: pg.Pool | pg.PoolClient): SqlClient => ({
    async query<R>(text: string, params?: unknown[], name?: string): Promise<QueryResult<R>> {
      try {
        const r = name ? await c.query({ name, text, values: params as unknown[] }) : await c.query(text, params as unknown[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      } catch (err) {
        throw classify(err);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await c.query(text);
      } catch (err) {
        throw classify(err);
      }
    },
  });

  return {
    kind: 'postgres',
    ...wrap(pool),
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch((err: unknown) => {
        throw classify(err);
      });
      let broken: Error | undefined;
      // pg-pool listens for errors on idle clients only: a checked-out client
      // whose server goes away between two queries emits 'error' with nobody
      // listening, which would crash the process. Note it; the next query fails.
      const onError = (err: Error): void => {
        broken = err;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A lost connection: give the client back as broken so the pool closes it instead of reusing it.
        if (isDatabaseUnavailable(err)) broken ??= err instanceof Error ? err : new Error('database unavailable');
        else if (!broken) await client.query('ROLLBACK').catch(() => undefined);
        throw classify(err);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async analyze() {
      await pool.query('ANALYZE');
    },
    noteWrites() {
      // autovacuum keeps statistics fresh on PostgreSQL.
    },
    poolStats() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    },
    async close() {
      await pool.end();
    },
  };
}
