export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** The one query interface both drivers (pg and PGlite) are adapted to. */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface Database extends SqlClient {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Refreshes planner statistics; PGlite has no autovacuum, so bulk loads must call this. */
  analyze(): Promise<void>;
  /**
   * Tells the database how many resource versions were just written. PGlite
   * uses it to analyse after bulk loads (it has no autovacuum); PostgreSQL
   * ignores it.
   */
  noteWrites(count: number): void;
  /** Connection pool counts for metrics (PostgreSQL only; PGlite has no pool). */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}
