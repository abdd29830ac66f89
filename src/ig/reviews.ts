import { z } from 'zod';
import { AUDIT_CHAIN_LOCK, appendAuditEvents } from '../audit/audit-writer.ts';
import { buildOverrideReviewRecord, REVIEW_OUTCOMES } from '../audit/review.ts';
import type { Database, SqlClient } from '../db/sql-client.ts';
import { httpError } from '../http/outcome.ts';
import type { Actor } from '../request-context.ts';
import { auditRowBySeq, IS_REVIEWED, normalise, SELECT_COLUMNS } from './audit-query.ts';
import type { IgAuditRow } from './audit-query.ts';
import { parseParams } from './audit-filters.ts';

export const reviewBodySchema = z.strictObject({
  outcome: z.enum(REVIEW_OUTCOMES),
  note: z.string().max(2000).optional(),
});
export type ReviewBody = z.output<typeof reviewBodySchema>;

const queueSchema = z.strictObject({
  state: z.enum(['pending', 'reviewed']).default('pending'),
  _count: z.coerce.number().int().min(1).max(1000).default(100),
  _cursor: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type QueueQuery = z.output<typeof queueSchema>;
export const parseQueueQuery = (q: unknown): QueueQuery => parseParams(queueSchema, q);

/**
 * Break-glass and safeguarding overrides, oldest first (the one waiting
 * longest is the one to do next), by keyset on seq. Pending means no review
 * row points at it yet: the override row itself is never updated.
 * Few rows are ever pending, and audit_event_pending_idx holds just those.
 */
export async function reviewQueue(sql: SqlClient, q: QueueQuery): Promise<IgAuditRow[]> {
  const reviewed = q.state === 'reviewed' ? IS_REVIEWED('a') : `NOT ${IS_REVIEWED('a')}`;
  const r = await sql.query<IgAuditRow>(
    `SELECT ${SELECT_COLUMNS} FROM audit_event a
      WHERE a.review_state = 'pending' AND a.override IS NOT NULL AND ${reviewed} AND a.seq > $1
      ORDER BY a.seq LIMIT $2`,
    [q._cursor ?? 0, q._count]
  );
  return r.rows.map(normalise);
}

/**
 * Appends the review of override `seq` as a new audit record, in one
 * transaction that first takes the chain lock: two IG leads reviewing the
 * same override at once serialise here, and the second gets 409.
 */
export async function reviewOverride(db: Database, reviewer: Actor, seq: number, body: unknown, requestId?: string): Promise<IgAuditRow> {
  const review = parseParams(reviewBodySchema, body ?? {});
  const newSeq = await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
    const target = await auditRowBySeq(tx, seq);
    if (!target) throw httpError(404, 'not-found', `No audit record ${seq}`);
    if (!target.override || target.reviews_seq !== null) {
      throw httpError(409, 'conflict', `Audit record ${seq} is not a break-glass or safeguarding override, so there is nothing to review`);
    }
    if (target.review_state === 'reviewed') throw httpError(409, 'conflict', `Override ${seq} has already been reviewed`);
    const record = buildOverrideReviewRecord({
      recorded: new Date(),
      reviewedSeq: seq,
      ...(target.patient_id ? { patientId: target.patient_id } : {}),
      reviewer,
      outcome: review.outcome,
      ...(review.note ? { note: review.note } : {}),
      ...(requestId ? { requestId } : {}),
    });
    const [s] = await appendAuditEvents(tx, [record]);
    return s!;
  });
  const row = await auditRowBySeq(db, newSeq);
  if (!row) throw new Error('review record vanished after commit');
  return row;
}

export function parseSeq(text: string | undefined, name = 'seq'): number {
  const n = /^\d{1,15}$/.test(text ?? '') ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw httpError(400, 'value', `"${name}" must be a positive integer`, [name]);
  return n;
}
