import type { SqlClient } from '../db/sql-client.ts';
import { canonicalJson } from './canonical.ts';
import { chainHash, GENESIS_HASH, hashHeader } from './hash-chain.ts';
import type { AuditColumns, AuditRecordInput } from './types.ts';

/**
 * Key of the transaction-scoped advisory lock every append (and archive)
 * takes. Holding it from reading the chain head until COMMIT is what keeps
 * seq order equal to chain order when several transactions append at once.
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
 * The advisory lock is held until the caller's transaction ends, so callers
 * should append last, just before committing. The caller must run at READ
 * COMMITTED (the default): at REPEATABLE READ the head read below could come
 * from a snapshot older than the previous append and fork the chain.
 */
export async function appendAuditEvents(sql: SqlClient, records: readonly AuditRecordInput[]): Promise<number[]> {
  if (records.length === 0) return [];
  // Everything but the hashes is computed before the lock: the chain is held only for the head read, SHA-256 and the insert.
  const prepared = records.map((record) => {
    const c = columnsOf(record);
    return { c, header: hashHeader(c), content: canonicalJson(record.event) };
  });
  const lock = await sql.query<{ iso: string }>(
    `SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}), current_setting('transaction_isolation') AS iso`
  );
  if (lock.rows[0]?.iso !== 'read committed') {
    throw new AuditChainError(`audit appends need READ COMMITTED, not ${lock.rows[0]?.iso}`);
  }
  let prev = await chainHead(sql);
  const cols = HEADER_ARRAYS.map(() => [] as unknown[]);
  const contents: string[] = [];
  const prevs: string[] = [];
  const hashes: string[] = [];
  for (const { c, header, content } of prepared) {
    const hash = chainHash(prev, header, content);
    HEADER_ARRAYS.forEach(([name], i) => cols[i]!.push(c[name]));
    contents.push(content);
    prevs.push(prev);
    hashes.push(hash);
    prev = hash;
  }
  // One statement whatever the batch size: arrays, unnested WITH ORDINALITY
  // and ordered, so identity values are drawn in chain order.
  const arrays = HEADER_ARRAYS.map(([, type], i) => `$${i + 1}::${type}[]`);
  const n = HEADER_ARRAYS.length;
  const names = HEADER_ARRAYS.map(([name]) => name).join(', ');
  const r = await sql.query<{ seq: number }>(
    `INSERT INTO audit_event (${names}, content, prev_hash, hash)
     SELECT ${names}, content, prev_hash, hash
       FROM unnest(${arrays.join(', ')}, $${n + 1}::text[], $${n + 2}::text[], $${n + 3}::text[])
            WITH ORDINALITY AS u(${names}, content, prev_hash, hash, ord)
      ORDER BY ord
     RETURNING seq`,
    [...cols, contents, prevs, hashes]
  );
  return r.rows.map((x) => Number(x.seq)).sort((a, b) => a - b);
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
