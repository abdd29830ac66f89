import { statementName } from '../../db/sql-client.ts';
import type { SqlClient } from '../../db/sql-client.ts';

/** A query as a named prepared statement (sql-client.ts), its name derived from its text. */
function named<R>(sql: SqlClient, text: string, params: unknown[]) {
  return sql.query<R>(text, params, statementName('ledger', text));
}

/** A council source record, as the ledger keys it. The ODS code comes from the token, never the record. */
export interface LedgerKey {
  councilOds: string;
  sourceSystem: string;
  recordId: string;
}

export interface LedgerEntry {
  recordType: string;
  deleted: boolean;
  /** References ("Patient/<id>") the record's last applied version produced. */
  resources: string[];
  /** How the incoming last-updated time compares with the stored one. */
  incoming: 'newer' | 'same' | 'older';
}

/**
 * Locks the ledger row of one source record until the transaction ends and
 * reads it, comparing times in SQL so sub-millisecond precision and offsets
 * are compared exactly as stored. The advisory lock covers a record not yet in
 * the ledger, which FOR UPDATE alone cannot: two pushes of a new record at
 * once would otherwise both see nothing and both write.
 */
export async function lockLedgerEntry(sql: SqlClient, key: LedgerKey, lastUpdated: string): Promise<LedgerEntry | undefined> {
  await named(sql, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey(key)]);
  const r = await named<{ record_type: string; deleted: boolean; resources: string[]; newer: boolean; same: boolean }>(
    sql,
    `SELECT record_type, deleted, resources,
            $4::timestamptz > source_last_updated AS newer,
            $4::timestamptz = source_last_updated AS same
       FROM council_record
      WHERE council_ods = $1 AND source_system = $2 AND record_id = $3
      FOR UPDATE`,
    [key.councilOds, key.sourceSystem, key.recordId, lastUpdated]
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    recordType: row.record_type,
    deleted: row.deleted,
    resources: row.resources ?? [],
    incoming: row.newer ? 'newer' : row.same ? 'same' : 'older',
  };
}

/** The advisory lock key of one source record (lockLedgerEntry's and lockLedgerEntries'). */
function lockKey(key: LedgerKey): string {
  return `council_record|${key.councilOds}|${key.sourceSystem}|${key.recordId}`;
}

/**
 * lockLedgerEntry for several DIFFERENT source records in two statements:
 * every record's advisory lock (in key order, so two batches cannot
 * deadlock on them), then, in a statement of its own so its snapshot is
 * taken after the locks are held, every ledger row. Entries in input order.
 */
export async function lockLedgerEntries(sql: SqlClient, items: readonly { key: LedgerKey; lastUpdated: string }[]): Promise<(LedgerEntry | undefined)[]> {
  if (!items.length) return [];
  const locks = [...new Set(items.map((i) => lockKey(i.key)))].sort();
  await named(sql, 'SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) GROUP BY ()', [locks]);
  const r = await named<{ n: string | number; record_type: string; deleted: boolean; resources: string[]; newer: boolean; same: boolean }>(
    sql,
    `SELECT k.n, c.record_type, c.deleted, c.resources,
            k.lu > c.source_last_updated AS newer,
            k.lu = c.source_last_updated AS same
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS k(ods, sys, rid, lu, n)
       JOIN council_record c ON c.council_ods = k.ods AND c.source_system = k.sys AND c.record_id = k.rid
        FOR UPDATE OF c`,
    [items.map((i) => i.key.councilOds), items.map((i) => i.key.sourceSystem), items.map((i) => i.key.recordId), items.map((i) => i.lastUpdated)]
  );
  const out: (LedgerEntry | undefined)[] = new Array(items.length).fill(undefined);
  for (const row of r.rows) {
    out[Number(row.n) - 1] = {
      recordType: row.record_type,
      deleted: row.deleted,
      resources: row.resources ?? [],
      incoming: row.newer ? 'newer' : row.same ? 'same' : 'older',
    };
  }
  return out;
}

export interface LedgerWrite {
  recordType: string;
  lastUpdated: string;
  receivedAt: string;
  resources: string[];
  deleted: boolean;
}

/** Inserts or replaces the ledger row; the caller holds the lock from lockLedgerEntry. */
export async function writeLedgerEntry(sql: SqlClient, key: LedgerKey, w: LedgerWrite): Promise<void> {
  await named(
    sql,
    `INSERT INTO council_record (council_ods, source_system, record_id, record_type, source_last_updated, received_at, resources, deleted)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (council_ods, source_system, record_id) DO UPDATE SET
       record_type = EXCLUDED.record_type,
       source_last_updated = EXCLUDED.source_last_updated,
       received_at = EXCLUDED.received_at,
       resources = EXCLUDED.resources,
       deleted = EXCLUDED.deleted`,
    [key.councilOds, key.sourceSystem, key.recordId, w.recordType, w.lastUpdated, w.receivedAt, w.resources, w.deleted]
  );
}

/**
 * writeLedgerEntry for several DIFFERENT source records in one statement (an
 * import batch's, written after its records); the caller holds every lock.
 */
export async function writeLedgerEntries(sql: SqlClient, writes: readonly { key: LedgerKey; write: LedgerWrite }[]): Promise<void> {
  if (!writes.length) return;
  const rows = writes.map(({ key, write: w }) => ({
    o: key.councilOds,
    s: key.sourceSystem,
    r: key.recordId,
    t: w.recordType,
    lu: w.lastUpdated,
    ra: w.receivedAt,
    res: w.resources,
    d: w.deleted,
  }));
  await named(
    sql,
    `INSERT INTO council_record (council_ods, source_system, record_id, record_type, source_last_updated, received_at, resources, deleted)
     SELECT x.o, x.s, x.r, x.t, x.lu, x.ra, ARRAY(SELECT jsonb_array_elements_text(x.res)), x.d
       FROM jsonb_to_recordset($1::jsonb) AS x(o text, s text, r text, t text, lu timestamptz, ra timestamptz, res jsonb, d boolean)
     ON CONFLICT (council_ods, source_system, record_id) DO UPDATE SET
       record_type = EXCLUDED.record_type,
       source_last_updated = EXCLUDED.source_last_updated,
       received_at = EXCLUDED.received_at,
       resources = EXCLUDED.resources,
       deleted = EXCLUDED.deleted`,
    [JSON.stringify(rows)]
  );
}
