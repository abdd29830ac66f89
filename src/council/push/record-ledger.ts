import type { SqlClient } from '../../db/sql-client.ts';

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
  await sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`council_record|${key.councilOds}|${key.sourceSystem}|${key.recordId}`]);
  const r = await sql.query<{ record_type: string; deleted: boolean; resources: string[]; newer: boolean; same: boolean }>(
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

export interface LedgerWrite {
  recordType: string;
  lastUpdated: string;
  receivedAt: string;
  resources: string[];
  deleted: boolean;
}

/** Inserts or replaces the ledger row; the caller holds the lock from lockLedgerEntry. */
export async function writeLedgerEntry(sql: SqlClient, key: LedgerKey, w: LedgerWrite): Promise<void> {
  await sql.query(
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
