import { createHash } from 'node:crypto';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** The one query interface both drivers (pg and PGlite) are adapted to. */
export interface SqlClient {
  /**
   * `name` makes it a named prepared statement on PostgreSQL (parsed and
   * planned once per connection; PGlite ignores it). One name must always
   * carry the same text: derive it with statementName.
   */
  query<R = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<QueryResult<R>>;
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

const names = new Map<string, string>();

/**
 * The prepared-statement name of a statement text: a prefix and a hash of
 * the text, so a name can never be reused for another text (pg refuses that
 * per connection). Remembered, as hashing a long text per call would cost.
 */
export function statementName(prefix: string, text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    // Bounded: callers build texts from a small set of shapes; this only guards against a caller that does not.
    if (names.size >= 1000) names.clear();
    names.set(text, name);
  }
  return name;
}
