import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { AutoAnalyze } from './auto-analyze.ts';
import type { Database, QueryResult, SqlClient } from './sql-client.ts';

/**
 * Embedded PostgreSQL (PGlite) under dataDir, or in memory when dataDir is
 * 'memory://'. PGlite runs with fsync off and without autovacuum: fine for a
 * laptop or a pilot, not for production (see README).
 */
export async function openPglite(dataDir: string): Promise<Database> {
  if (!dataDir.startsWith('memory://')) {
    mkdirSync(dataDir, { recursive: true });
  }
  const db = await PGlite.create(dataDir, { extensions: { pg_trgm } });

  const wrap = (c: Pick<PGlite, 'query' | 'exec'>): SqlClient => ({
    // PGlite has no use for a statement name: there is no network round trip or per-connection plan to save.
    async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
      const r = await c.query<R>(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(text: string): Promise<void> {
      await c.exec(text);
    },
  });

  const autoAnalyze = new AutoAnalyze(() => db.exec('ANALYZE').then(() => undefined));
  return {
    kind: 'pglite',
    ...wrap(db),
    transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(wrap(tx)));
    },
    async analyze() {
      await db.exec('VACUUM ANALYZE');
    },
    noteWrites(count: number) {
      autoAnalyze.note(count);
    },
    async close() {
      await autoAnalyze.idle();
      await db.close();
    },
  };
}
