import type { SqlClient } from '../db/sql-client.ts';
import type { RecordedDecision } from '../gate/enforce/access-gate.ts';
import type { Decision } from '../gate/types.ts';
import type { RequestContext } from '../request-context.ts';
import type { AuditBatcher } from './audit-batcher.ts';
import { appendAuditEvents } from './audit-writer.ts';
import type { RestInteraction } from './balp-codes.ts';
import { buildExchangeAuditRecord } from './balp.ts';
import type { AuditOutcome, AuditRecordInput } from './types.ts';

/** What an exchange's audit reads from the gate: every decision made, in order. */
export interface DecisionSource {
  readonly decisions: readonly RecordedDecision[];
  /** Removes and returns the decisions about these resources (all without `refs`), so a long import does not hold them all. */
  take(refs?: ReadonlySet<string>): RecordedDecision[];
}

/**
 * The audit of one exchange (one HTTP request), per person it touched: a
 * search disclosing three people's records leaves three AuditEvents (one per
 * person, sharing the request id), so a person's access report is exact; an
 * exchange about nobody (a directory read, a miss) leaves one without a
 * patient.
 *
 * Writes are recorded inside their own transaction, just before it commits,
 * so the data and its audit commit or roll back together; everything else
 * (reads, searches, refusals, failures) is recorded through the group-commit
 * batcher before the response is sent. Either way an exchange is recorded
 * once: after a write transaction has recorded it, finish() adds nothing.
 */
export class ExchangeAudit {
  private recordedInTransaction = false;

  constructor(
    private readonly batcher: AuditBatcher,
    private readonly context: RequestContext,
    private readonly interaction: RestInteraction,
    private readonly gate: DecisionSource | undefined,
    private readonly extra: { query?: string; operation?: string } = {}
  ) {}

  /**
   * Called by a write transaction just before COMMIT, with the references it
   * wrote (and, for a council record, those it found unchanged). Their
   * decisions are taken from the gate: if the transaction then rolls back,
   * its audit rolls back with it and the refusal or failure that caused it
   * is what finish() records.
   */
  async inTransaction(tx: SqlClient, written: readonly string[]): Promise<void> {
    const refs = new Set(written);
    const decisions = this.gate ? this.gate.take(refs) : [];
    try {
      await appendAuditEvents(tx, this.records(decisions, 'permit', written));
    } catch (err) {
      this.putBack(decisions);
      throw err;
    }
    this.recordedInTransaction = true;
  }

  /**
   * inTransaction for several writes sharing one transaction (an import
   * batch, one group per council record), in ONE append: each group gets the
   * record(s) inTransaction would have given it, in order.
   */
  async inTransactionGroups(tx: SqlClient, groups: readonly (readonly string[])[]): Promise<void> {
    const taken: RecordedDecision[] = [];
    const records: AuditRecordInput[] = [];
    for (const written of groups) {
      const decisions = this.gate ? this.gate.take(new Set(written)) : [];
      taken.push(...decisions);
      records.push(...this.records(decisions, 'permit', written));
    }
    try {
      await appendAuditEvents(tx, records);
    } catch (err) {
      this.putBack(taken);
      throw err;
    }
    this.recordedInTransaction = true;
  }

  /** Decisions of a transaction that failed go back, for finish() to record with the failure. */
  private putBack(decisions: RecordedDecision[]): void {
    if (this.gate && decisions.length) (this.gate.decisions as RecordedDecision[]).push(...decisions);
  }

  /** Before the response goes out: records what no write transaction recorded. Rejects if the audit cannot be committed. */
  async finish(status: number): Promise<void> {
    const pending = this.gate ? this.gate.take() : [];
    if (this.recordedInTransaction && pending.length === 0 && status < 400) return;
    // A 403 the gate had no part in is the token's refusal (its scopes, a non-council pushing): a deny all the same.
    const byToken = status === 403 && pending.length === 0;
    const refused = byToken || pending.some((d) => d.decision.outcome === 'deny');
    const outcome: AuditOutcome = status >= 500 ? 'error' : status >= 400 ? (refused ? 'deny' : 'error') : 'permit';
    const records = this.records(pending, outcome, [], byToken);
    await Promise.all(records.map((r) => this.batcher.append(r)));
  }

  /** One record per person (decisions grouped by patient), or one about nobody. */
  private records(decisions: readonly RecordedDecision[], fallback: AuditOutcome, written: readonly string[], byToken = false): AuditRecordInput[] {
    const byPatient = new Map<string | undefined, RecordedDecision[]>();
    for (const d of decisions) byPatient.set(d.patientId, [...(byPatient.get(d.patientId) ?? []), d]);
    if (!byPatient.size) byPatient.set(undefined, []);
    const recorded = new Date();
    return [...byPatient].map(([patientId, ds]) => {
      const permitted = ds.filter((d) => d.decision.outcome === 'permit');
      const denied = ds.length - permitted.length;
      const outcome: AuditOutcome = fallback === 'error' || !ds.length ? fallback : !permitted.length ? 'deny' : denied ? 'permit-withheld' : 'permit';
      const decision: Decision | undefined = (outcome === 'deny' ? ds.find((d) => d.decision.outcome === 'deny') : permitted[0])?.decision;
      const refs = written.length ? written.filter((r) => !patientId || ds.some((d) => d.ref === r)) : permitted.map((d) => d.ref);
      return buildExchangeAuditRecord({
        recorded,
        requestId: this.context.requestId,
        ...(this.context.actor ? { actor: this.context.actor } : {}),
        interaction: this.interaction,
        ...(patientId ? { patientId } : {}),
        resources: [...new Set(refs)],
        ...(this.extra.query ? { query: this.extra.query } : {}),
        ...(this.extra.operation ? { operation: this.extra.operation } : {}),
        outcome,
        ...(decision ? { decision } : {}),
        ...(byToken ? { refusedBy: 'token' as const } : {}),
      });
    });
  }
}
