import type { Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, LabelRow, WriteCheck } from '../../fhir/repo/gate-port.ts';
import { factsAfterCreate, loadPersonFacts, nhsNumbersOf, optedOutAmong } from '../../gate/facts/load-facts.ts';
import type { PersonFacts } from '../../gate/types.ts';

/** A gate that can decide a write on facts the caller already holds (RequestGate.checkWriteKnowing). */
interface KnowingGate extends AccessGate {
  checkWriteKnowing(sql: SqlClient, write: WriteCheck, known?: ReadonlyMap<string, PersonFacts>): Promise<ReadonlyMap<string, PersonFacts>>;
}

function isKnowing(gate: AccessGate): gate is KnowingGate {
  return typeof (gate as Partial<KnowingGate>).checkWriteKnowing === 'function';
}

/**
 * The resource types person facts are read from (src/gate/facts/load-facts.ts,
 * FACT_TYPES). Kept in step by test/council/batch.test.ts, which checks
 * that this list is the one in load-facts.ts.
 */
export const FACT_TYPES: ReadonlySet<string> = new Set(['Patient', 'Consent', 'CareTeam', 'ServiceRequest', 'EpisodeOfCare', 'CarePlan', 'Flag']);

/**
 * The request's gate as one import batch uses it. Every decision is still the
 * request gate's (filter and checkWrite are passed through, and so are the
 * decisions the audit records); what changes is only when cached person facts
 * are dropped.
 *
 * The repository calls changed() after every version it writes, dropping the
 * person's facts, so the next resource of the same person reloads them (four
 * queries). Facts are read from the fact-bearing types above plus the set of
 * organisations controlling any of the person's resources; a version of any
 * other type, controlled by the requester's own organisation, changes neither
 * once the requester is known to control something of that person. Those
 * invalidations are skipped; every other one is passed on at once.
 *
 * A version that CREATES a resource of one person (no row of it existed),
 * controlled by the requester, changes that person's facts in a way known
 * without the store: the facts its own write was decided on, plus its fact
 * (load-facts.ts, factsAfterCreate) and its controller as a holder. Those
 * facts are kept for this batch's transaction and the next write about the
 * person is decided on them instead of a reload (four queries, and a flush
 * of the buffered writes). The shared cache is still told, so every other
 * exchange, and this one after the commit, reads them from the store.
 *
 * A record rolled back to its savepoint may have loaded facts that saw its
 * writes: the facts of every person it touched are dropped, and what is known
 * about holders is forgotten.
 */
export class BatchGate implements AccessGate {
  private lastWrite: WriteCheck | undefined;
  /** The facts lastWrite was decided on. */
  private lastFacts: ReadonlyMap<string, PersonFacts> | undefined;
  /** Facts brought up to date in memory by this transaction's creates. */
  private readonly known = new Map<string, PersonFacts>();
  /** People of whom the requester's organisation is known to control a resource (committed or in this transaction). */
  private readonly holds = new Set<string>();
  /** People the current record's writes were decided for. */
  private readonly recordPeople = new Set<string>();
  /** People any record of the open transaction touched. */
  private readonly batchPeople = new Set<string>();
  /** NHS numbers whose opt-out status was read in this transaction (readOptOuts), and those opted out. */
  private readonly optOutChecked = new Set<string>();
  private readonly optedOut = new Set<string>();

  constructor(
    private readonly inner: AccessGate,
    private readonly requesterOds: string | undefined
  ) {}

  /**
   * Reads, before the batch's writes, which of these NHS numbers are opted
   * out, so creating a Patient with one of them updates its person's facts in
   * memory like any other create; a Patient with a number not read here still
   * drops them (reload from the store).
   */
  async readOptOuts(sql: SqlClient, nhsNumbers: readonly string[]): Promise<void> {
    // Only a gate that decides on facts handed to it uses facts worked out in memory.
    if (!isKnowing(this.inner)) return;
    const fresh = [...new Set(nhsNumbers)].filter((n) => !this.optOutChecked.has(n));
    if (!fresh.length) return;
    for (const n of await optedOutAmong(sql, fresh)) this.optedOut.add(n);
    for (const n of fresh) this.optOutChecked.add(n);
  }

  /**
   * Reads, before the batch's writes, the facts of the people its records are
   * about, in one query instead of one per person at their first write. They
   * are what that first write would have read (nothing of the batch is
   * written yet) and are kept up to date, or dropped, exactly as facts
   * brought up to date by a create are.
   */
  async readFacts(sql: SqlClient, patientIds: readonly string[]): Promise<void> {
    // As readOptOuts: facts kept here are only handed to a gate that decides on them.
    if (!isKnowing(this.inner)) return;
    const fresh = [...new Set(patientIds)].filter((id) => !this.known.has(id));
    if (!fresh.length) return;
    for (const [id, facts] of await loadPersonFacts(sql, fresh)) this.known.set(id, facts);
  }

  filter<T extends LabelRow>(sql: SqlClient, rows: readonly T[], operation: 'read' | 'search'): Promise<T[]> {
    return this.inner.filter(sql, rows, operation);
  }

  async checkWrite(sql: SqlClient, write: WriteCheck): Promise<void> {
    this.lastWrite = write;
    this.lastFacts = undefined;
    for (const id of [write.patientId, write.previousPatientId]) {
      if (id) {
        this.recordPeople.add(id);
        this.batchPeople.add(id);
      }
    }
    if (!isKnowing(this.inner)) return this.inner.checkWrite(sql, write);
    this.lastFacts = await this.inner.checkWriteKnowing(sql, write, this.known);
  }

  changed(patientIds: readonly string[], created?: Resource): void {
    const w = this.lastWrite;
    const used = this.lastFacts;
    this.lastWrite = undefined;
    this.lastFacts = undefined;
    // The version's controller: the stored one kept, else the writer's organisation (PgRepository.store).
    const mine = w !== undefined && this.requesterOds !== undefined && (w.controller === undefined || w.controller === this.requesterOds);
    const person = w?.patientId;
    const before = person ? used?.get(person) : undefined;
    const after =
      mine && created && before && w.previousPatientId === undefined && patientIds.length === 1 && patientIds[0] === person && w.resourceType === created.resourceType && w.id === created.id
        ? factsAfterCreate(before, created, this.requesterOds, this.optOutsFor(created))
        : undefined;
    const factFree = mine && !FACT_TYPES.has(w.resourceType) && w.previousPatientId === undefined;
    const pass = factFree ? patientIds.filter((id) => !this.holds.has(id)) : patientIds;
    if (after && person) this.known.set(person, after);
    else for (const id of pass) this.known.delete(id);
    if (pass.length) this.inner.changed(pass);
    for (const id of patientIds) {
      this.recordPeople.add(id);
      this.batchPeople.add(id);
    }
    if (mine) for (const id of patientIds) this.holds.add(id);
  }

  /** For a Patient whose every NHS number was read by readOptOuts: those opted out; otherwise undefined. */
  private optOutsFor(created: Resource): ReadonlySet<string> | undefined {
    if (created.resourceType !== 'Patient') return undefined;
    const numbers = nhsNumbersOf(created);
    return numbers.every((n) => this.optOutChecked.has(n)) ? new Set(numbers.filter((n) => this.optedOut.has(n))) : undefined;
  }

  committed(): void {
    this.known.clear();
    this.recordPeople.clear();
    this.batchPeople.clear();
    this.inner.committed();
  }

  /** A record starts (after its savepoint). */
  startRecord(): void {
    this.recordPeople.clear();
    this.lastWrite = undefined;
  }

  /** The record was rolled back to its savepoint. */
  recordRolledBack(): void {
    this.holds.clear();
    this.lastWrite = undefined;
    this.lastFacts = undefined;
    for (const id of this.recordPeople) this.known.delete(id);
    if (this.recordPeople.size) this.inner.changed([...this.recordPeople]);
    this.recordPeople.clear();
  }

  /** The whole transaction rolled back. */
  batchRolledBack(): void {
    this.holds.clear();
    this.lastWrite = undefined;
    this.lastFacts = undefined;
    this.known.clear();
    if (this.batchPeople.size) this.inner.changed([...this.batchPeople]);
    this.recordPeople.clear();
    this.batchPeople.clear();
  }
}
