import type { Database, SqlClient } from '../db/sql-client.ts';
import { statementName } from '../db/sql-client.ts';
import { storedEventText } from './event-text.ts';
import { GENESIS_HASH, hashHeader } from './hash-chain.ts';
import type { AuditColumns, AuditRecordInput } from './types.ts';

/**
 * Key of the transaction-scoped advisory lock every append (and archive)
 * takes. Holding it from reading the chain head until COMMIT is what keeps
 * seq order equal to chain order when several transactions append at once.
 * The `audit_append` function (migration 9) takes the same key.
 */
export const AUDIT_CHAIN_LOCK = 7243006;

export class AuditChainError extends Error {
  override name = 'AuditChainError';
}

/** The searchable columns of a record, as stored and as hashed. */
export function columnsOf(r: AuditRecordInput): AuditColumns {
  return {
    recorded: r.recorded.toISOString(),
    patient_id: r.patientId ?? null,
    client_id: r.clientId ?? null,
    org_ods: r.orgOds ?? null,
    user_id: r.userId ?? null,
    purpose: r.purpose ?? null,
    outcome: r.outcome,
    action: r.action,
    subtype: r.subtype,
    lawful_basis: r.lawfulBasis ?? null,
    override: r.override ?? null,
    review_state: r.reviewState ?? null,
    reviews_seq: r.reviewsSeq ?? null,
  };
}

/** The hash the next record chains from: the newest record's, else the archive anchor's, else genesis. */
export async function chainHead(sql: SqlClient): Promise<string> {
  const r = await sql.query<{ hash: string }>(
    `SELECT hash FROM (
       (SELECT 0 AS src, hash FROM audit_event ORDER BY seq DESC LIMIT 1)
       UNION ALL (SELECT 1, hash FROM audit_chain_anchor ORDER BY through_seq DESC LIMIT 1)
     ) h ORDER BY src LIMIT 1`
  );
  return r.rows[0]?.hash ?? GENESIS_HASH;
}

/**
 * Appends records to the chain INSIDE the caller's transaction, so the audit
 * and the data it describes commit (or roll back) together, and an audit
 * failure fails the exchange. Returns the seqs assigned, in input order.
 *
 * One round trip (per 1,000 records; a bulk import's larger append holds the
 * lock across its chunks): the `audit_append` function (migration 9) takes the chain
 * lock, checks READ COMMITTED, reads the head (a fresh snapshot after the
 * lock, so it sees every append committed before), hashes each record
 * exactly as chainHash does and inserts the batch. Headers and canonical
 * content are built here, before any lock; the lock is then held for that
 * server-side work and until the caller's transaction ends, never across a
 * client round trip other than the COMMIT's. So callers should append last,
 * just before committing, and run at READ COMMITTED (the default): at
 * REPEATABLE READ the head read could come from a snapshot older than the
 * previous append and fork the chain, so the function refuses.
 */
export async function appendAuditEvents(sql: SqlClient, records: readonly AuditRecordInput[]): Promise<number[]> {
  const seqs: number[] = [];
  // Several calls in one transaction chain on from each other (the lock is the
  // transaction's, the head read sees its own inserts); chunks keep each
  // message a few megabytes at most.
  for (let start = 0; start < records.length; start += APPEND_CHUNK) {
    seqs.push(...(await appendChunk(sql, records.slice(start, start + APPEND_CHUNK))));
  }
  return seqs;
}

const APPEND_CHUNK = 1000;

/**
 * appendAuditEvents in a transaction of its own (group-committed reads),
 * resolving only after its COMMIT. Up to one call's worth of records it is
 * ONE statement outside any explicit transaction: PostgreSQL runs it as an
 * implicit transaction and reports completion only after committing it, so
 * the caller learns "committed" in one round trip instead of three (BEGIN,
 * append, COMMIT), each of which is a wait for a busy server to be
 * scheduled. The function still takes the chain lock and reads the head
 * under it at READ COMMITTED, exactly as inside BEGIN ... COMMIT.
 */
export async function appendAuditEventsCommitted(db: Database, records: readonly AuditRecordInput[]): Promise<number[]> {
  if (records.length > APPEND_CHUNK) return db.transaction((tx) => appendAuditEvents(tx, records));
  return appendAuditEvents(db, records);
}

async function appendChunk(sql: SqlClient, records: readonly AuditRecordInput[]): Promise<number[]> {
  const cols = HEADER_ARRAYS.map(() => [] as unknown[]);
  const headers: string[] = [];
  const contents: string[] = [];
  for (const record of records) {
    const c = columnsOf(record);
    HEADER_ARRAYS.forEach(([name], i) => cols[i]!.push(c[name]));
    headers.push(packable(hashHeader(c)));
    contents.push(packable(storedEventText(record)));
  }
  let r: { rows: { seqs: (number | string)[] | null }[] };
  try {
    r = await sql.query<{ seqs: (number | string)[] | null }>(APPEND_SQL, [...cols, headers.join(SEPARATOR), contents.join(SEPARATOR)], APPEND_STATEMENT);
  } catch (err) {
    if (err instanceof Error && /audit appends need READ COMMITTED/.test(err.message)) {
      throw new AuditChainError(err.message, { cause: err });
    }
    throw err;
  }
  const seqs = (r.rows[0]?.seqs ?? []).map(Number);
  if (seqs.length !== records.length) {
    throw new AuditChainError(`audit_append stored ${seqs.length} of ${records.length} records`);
  }
  return seqs;
}

/**
 * Headers and contents travel as ONE text each, joined by U+001E (record
 * separator) and split by PostgreSQL, so the statement text is the same for
 * every batch size: prepared once per connection (named), never parsed
 * again. As array literals the driver would escape every quote of the ~3 kB
 * JSON and PostgreSQL parse it back; as one parameter per record the text
 * (and its plan) changed with every batch size (docs/performance.md,
 * audited reads, fifth pass). Canonical JSON never holds a raw U+001E
 * (JSON.stringify escapes every control character), which packable checks.
 */
const SEPARATOR = '\u001e';

function packable(text: string): string {
  if (text.includes(SEPARATOR)) throw new AuditChainError('audit text holds a raw U+001E, which canonical JSON never does');
  return text;
}

const HEADER_ARRAYS: readonly (readonly [keyof AuditColumns, string])[] = [
  ['recorded', 'timestamptz'],
  ['patient_id', 'text'],
  ['client_id', 'text'],
  ['org_ods', 'text'],
  ['user_id', 'text'],
  ['purpose', 'text'],
  ['outcome', 'text'],
  ['action', 'text'],
  ['subtype', 'text'],
  ['lawful_basis', 'text'],
  ['override', 'text'],
  ['review_state', 'text'],
  ['reviews_seq', 'bigint'],
];

const APPEND_SQL = `SELECT audit_append(${HEADER_ARRAYS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}, string_to_array($${HEADER_ARRAYS.length + 1}::text, chr(30)), string_to_array($${HEADER_ARRAYS.length + 2}::text, chr(30))) AS seqs`;
const APPEND_STATEMENT = statementName('audit_append', APPEND_SQL);
