import { createHash } from 'node:crypto';
import { OperationOutcomeError, forbidden } from '@medplum/core';
import type { SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, LabelRow, WriteCheck } from '../../fhir/repo/gate-port.ts';
import type { RequestContext } from '../../request-context.ts';
import { decide } from '../decide.ts';
import { emptyFacts } from '../facts/load-facts.ts';
import { DIRECTORY_TYPES } from '../labels/resource-labels.ts';
import type { DataClass, Decision, GateQuery, Operation, PersonFacts, Policy, Requester } from '../types.ts';
import type { GateServices } from './gate-services.ts';
import { carerFacts } from './third-party.ts';

/** One gated exchange's decision about one resource, kept for the audit record. */
export interface RecordedDecision {
  ref: string;
  patientId?: string;
  operation: Operation;
  decision: Decision;
}

/**
 * The enforcement point of one request: turns stored labels and loaded facts
 * into GateQueries, asks the pure engine, applies its obligations (opening a
 * break-glass window) and remembers every decision for the audit record.
 * Decisions are memoised per (person, class, controller, third party): a
 * search over one person's 500 resources asks the engine a handful of times.
 */
export class RequestGate implements AccessGate {
  decisions: RecordedDecision[] = [];
  private readonly memo = new Map<string, Decision>();
  private readonly touched = new Set<string>();
  /** People other instances were already told about, per transaction client (one notification each is enough). */
  private readonly notified = new WeakMap<SqlClient, Set<string>>();
  private readonly requester: Requester | undefined;

  constructor(
    private readonly services: GateServices,
    context: RequestContext
  ) {
    const a = context.actor;
    this.requester = a && {
      clientId: a.clientId,
      ods: a.organisation.ods,
      kind: a.organisation.kind,
      userId: a.user.id,
      role: a.user.role,
      purpose: a.purposeOfUse,
      ...(a.justification ? { justification: a.justification } : {}),
    };
  }

  async filter<T extends LabelRow>(sql: SqlClient, rows: readonly T[], operation: 'read' | 'search'): Promise<T[]> {
    const requester = this.requester;
    // No actor: open-development mode (an operator's explicit opt-out) or the gateway's own internal writes.
    if (!requester) return [...rows];
    const people = rows.flatMap((r) => (r.patient_id ? [r.patient_id] : []));
    const facts = await this.services.facts.get(sql, people);
    const carers = await carerFacts(sql, this.services.facts, rows.flatMap((r) => (r.third_party ? [r.third_party] : [])));
    const policy = await this.services.policy(sql);
    const out: T[] = [];
    const opened = new Set<string>();
    for (const row of rows) {
      const decision = this.decideRow(requester, row, operation, facts, carers, policy);
      if (!decision) {
        if (this.unattributedAllowed(requester, row)) out.push(row);
        continue;
      }
      this.decisions.push({ ref: `${row.resource_type}/${row.id}`, ...(row.patient_id ? { patientId: row.patient_id } : {}), operation, decision });
      this.services.onDecision?.(decision.outcome, decision.rules[0]?.rule ?? 'none');
      if (decision.outcome !== 'permit') continue;
      if (decision.obligations.includes('open-break-glass-window') && row.patient_id) opened.add(row.patient_id);
      out.push(row);
    }
    for (const patientId of opened) await this.openBreakGlassWindow(sql, requester, patientId);
    return out;
  }

  async checkWrite(sql: SqlClient, write: WriteCheck): Promise<void> {
    await this.checkWriteKnowing(sql, write);
  }

  /**
   * checkWrite, taking the facts of the `known` people as given rather than
   * from the cache: an import batch's transaction has brought them up to
   * date in memory (src/council/push/batch-gate.ts). Returns the facts each
   * person's decision was made on.
   */
  async checkWriteKnowing(sql: SqlClient, write: WriteCheck, known?: ReadonlyMap<string, PersonFacts>): Promise<ReadonlyMap<string, PersonFacts>> {
    const requester = this.requester;
    const people = [write.patientId, write.previousPatientId].filter((x): x is string => !!x);
    if (!requester) {
      await this.notifyChanged(sql, people);
      return new Map();
    }
    if (!people.length) {
      if (DIRECTORY_TYPES.has(write.resourceType) || write.controller === undefined || write.controller === requester.ods) return new Map();
      throw new OperationOutcomeError(refusal(`${write.resourceType} is controlled by another organisation`));
    }
    const missing = known ? people.filter((p) => !known.has(p)) : people;
    const facts = new Map(missing.length ? await this.services.facts.get(sql, missing) : []);
    for (const p of people) {
      const k = known?.get(p);
      if (k) facts.set(p, k);
    }
    for (const patientId of new Set(people)) {
      const query: GateQuery = {
        requester,
        operation: 'write',
        person: facts.get(patientId) ?? emptyFacts(patientId),
        data: { resourceType: write.resourceType, dataClass: (write.dataClass ?? 'person') as DataClass, ...(write.controller ? { controller: write.controller } : {}) },
        now: this.services.now(),
      };
      const decision = decide(query, await this.services.policy(sql));
      this.decisions.push({ ref: `${write.resourceType}/${write.id}`, patientId, operation: 'write', decision });
      this.services.onDecision?.(decision.outcome, decision.rules[0]?.rule ?? 'none');
      if (decision.outcome !== 'permit') throw new OperationOutcomeError(refusal(decision.explanation));
    }
    await this.notifyChanged(sql, people);
    return facts;
  }

  /** Removes and returns the decisions about these resources (all of them without `refs`): their audit record is being written. */
  take(refs?: ReadonlySet<string>): RecordedDecision[] {
    if (!refs) {
      const all = this.decisions;
      this.decisions = [];
      return all;
    }
    const taken = this.decisions.filter((d) => refs.has(d.ref));
    if (taken.length) this.decisions = this.decisions.filter((d) => !refs.has(d.ref));
    return taken;
  }

  changed(patientIds: readonly string[]): void {
    for (const id of patientIds) this.touched.add(id);
    this.services.facts.invalidate(patientIds);
  }

  committed(): void {
    if (!this.touched.size) return;
    this.services.facts.invalidate([...this.touched]);
    this.touched.clear();
  }

  private decideRow(
    requester: Requester,
    row: LabelRow,
    operation: Operation,
    facts: Map<string, PersonFacts>,
    carers: Map<string, PersonFacts | undefined>,
    policy: Policy
  ): Decision | undefined {
    if (!row.patient_id) return undefined;
    const key = `${row.patient_id}\u001f${row.data_class}\u001f${row.controller}\u001f${row.third_party}\u001f${operation}`;
    const cached = this.memo.get(key);
    if (cached) return cached;
    const query: GateQuery = {
      requester,
      operation,
      person: facts.get(row.patient_id) ?? emptyFacts(row.patient_id),
      data: {
        resourceType: row.resource_type,
        dataClass: (row.data_class ?? 'person') as DataClass,
        ...(row.controller ? { controller: row.controller } : {}),
        ...(row.third_party ? { thirdParty: { kind: 'carer' as const, facts: carers.get(row.third_party) } } : {}),
      },
      now: this.services.now(),
    };
    const decision = decide(query, policy);
    this.memo.set(key, decision);
    return decision;
  }

  /**
   * Resources that name no person we can resolve: directory entries are open
   * to any authenticated client; anything else only to its controller, and
   * audit records only to information governance (issue #6).
   */
  private unattributedAllowed(requester: Requester, row: LabelRow): boolean {
    if (row.resource_type === 'AuditEvent') return requester.kind === 'information-governance';
    if (DIRECTORY_TYPES.has(row.resource_type)) return true;
    return row.controller !== null && row.controller === requester.ods;
  }

  private async openBreakGlassWindow(sql: SqlClient, requester: Requester, patientId: string): Promise<void> {
    const hash = createHash('sha256').update(requester.justification ?? '').digest('hex');
    await sql.query(
      `INSERT INTO break_glass_window (client_id, user_id, patient_id, justification_hash, opened_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [requester.clientId, requester.userId, patientId, hash, this.services.now().toISOString()]
    );
    this.services.facts.invalidate([patientId]);
    await this.notifyChanged(sql, [patientId]);
  }

  /**
   * Every write that may change a person's facts passes checkWrite with the
   * writing transaction's client: the notification rides that transaction,
   * so other instances drop the facts on COMMIT and never for a rollback.
   * Sent before the write itself, which is harmless: delivery waits for COMMIT.
   */
  private async notifyChanged(sql: SqlClient, people: readonly string[]): Promise<void> {
    const notify = this.services.notifyFactsChanged;
    if (!notify || !people.length) return;
    let sent = this.notified.get(sql);
    if (!sent) {
      sent = new Set();
      this.notified.set(sql, sent);
    }
    const fresh = people.filter((p) => !sent.has(p));
    if (!fresh.length) return;
    await notify(sql, fresh);
    for (const p of fresh) sent.add(p);
  }
}

function refusal(text: string) {
  return { ...forbidden, issue: [{ severity: 'error' as const, code: 'forbidden' as const, details: { text } }] };
}
