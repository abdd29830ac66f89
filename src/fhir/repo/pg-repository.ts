import { randomUUID } from 'node:crypto';
import {
  OperationOutcomeError,
  allOk,
  badRequest,
  created,
  formatSearchQuery,
  gone,
  multipleMatches,
  notFound,
  preconditionFailed,
} from '@medplum/core';
import type { Operation, SearchRequest, WithId } from '@medplum/core';
import { FhirRepository } from '@medplum/fhir-router';
import type {
  CreateResourceOptions,
  ReadHistoryOptions,
  RepositoryMode,
  TransactionOptions,
  UpdateResourceOptions,
} from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Parameters, Reference, Resource } from '@medplum/fhirtypes';
import { guardSql, sanitizeDbError } from '../../db/guarded-sql.ts';
import type { DbErrorListener } from '../../db/guarded-sql.ts';
import { statementName } from '../../db/sql-client.ts';
import type { Database, SqlClient } from '../../db/sql-client.ts';
import type { RequestContext } from '../../request-context.ts';
import { isSupportedResourceType } from '../resource-types.ts';
import { splitReference } from '../search/index-values.ts';
import { patientEverything } from '../operations/everything.ts';
import type { EverythingOptions } from '../operations/everything.ts';
import { readHistoryBundle } from './history.ts';
import { applyJsonPatch } from './json-patch.ts';
import { runSearch } from './search.ts';
import { invalidResource } from './outcomes.ts';
import type { ResourceValidator } from './validator-port.ts';
import { writeVersion } from './write-version.ts';
import { writeVersions } from './write-versions.ts';
import type { VersionToWrite } from './write-versions.ts';
import type { AccessGate, LabelRow, TransactionAudit } from './gate-port.ts';
import type { WriteNote, WriteRules } from './write-rules-port.ts';
import { resourceLabels } from '../../gate/labels/resource-labels.ts';

export interface RepositoryDeps {
  db: Database;
  validator: ResourceValidator;
  baseUrl: string;
  onDbError: DbErrorListener;
  /**
   * After a write transaction commits, with the references it wrote (FHIR
   * Subscriptions notify from here). Never called for a rolled-back write;
   * must not throw (it runs after the answer is decided).
   */
  onCommitted?: (context: RequestContext, written: readonly string[]) => void;
  /** Business rules on every version written (joint work, issue #7; write-rules-port.ts). */
  writeRules?: WriteRules;
}

interface CurrentRow extends LabelRow {
  version_id: number;
  deleted: boolean;
  content: string | null;
}

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

/** The savepoint a record's work gets once part of it has been sent (beginRecord). */
const RECORD_SAVEPOINT = 'council_record';

const PREFETCH_SQL = `SELECT resource_type, id, version_id, deleted, content, patient_id, data_class, controller, third_party
   FROM resource WHERE resource_type = ANY($1::text[]) AND id = ANY($2::text[]) AND resource_type || '/' || id = ANY($3::text[])
  ORDER BY resource_type, id FOR UPDATE`;

/** What undoRecord needs to put this repository back as it was when the record began. */
interface RecordMark {
  /** Buffered versions before the record's (0 once they were sent). */
  pending: number;
  written: number;
  notes: number;
  /** `known` entries as they were before the record first changed each (undefined: absent). */
  undo: Map<string, CurrentRow | null | undefined>;
  /** Part of the record was sent, after SAVEPOINT council_record. */
  savepoint: boolean;
}

/**
 * The one place every FHIR read and write passes (the router and our own
 * operations both call it). One instance per request, carrying that request's
 * context and its lawful-basis gate: every row it returns has passed the
 * gate's filter, every version it writes the gate's write check. Without a
 * gate (CLI maintenance, the gateway's own seeding) nothing is filtered.
 */
export class PgRepository extends FhirRepository {
  private sql: SqlClient;
  /** The client the gate decides writes with (checkWrite): flushes only what the decision could read. */
  private gateSql: SqlClient;
  /** The write rules' client for statements that write (recordWriteClient). */
  private readonly ruleWriteSql: SqlClient;
  /** People whose facts the decision being asked about reads (gateSql). */
  private gatePeople: readonly string[] = [];
  /** Set when an update found nothing to update and created the resource (answers 201). */
  updateCreated = false;
  /** References written through this (transaction's) repository, for the exchange's audit record. */
  readonly written: string[] = [];
  /** Informational issues the write rules raised, shared with a transaction's child repositories. */
  notes: WriteNote[] = [];
  private readonly rawSql: SqlClient;
  /**
   * Buffered mode (bufferWrites): versions stored but not yet sent, written
   * together before this repository's next query and at flush(). Undefined
   * when every version is written at once.
   */
  private pending: VersionToWrite[] | undefined;
  /** Buffered mode: current rows of this transaction, locked (prefetch) or written by it; null = known absent. */
  private readonly known = new Map<string, CurrentRow | null>();
  /** Buffered mode: references of the pending versions. */
  private readonly pendingRefs = new Set<string>();
  /** Buffered mode: every person a pending version is, or was, labelled with (a superset after undoRecord). */
  private readonly pendingPeople = new Set<string>();
  /** The record open since beginRecord. */
  private mark: RecordMark | undefined;
  /** A kept record's savepoint, released with the next one's creation (or by COMMIT). */
  private savepointHeld = false;

  constructor(
    private readonly deps: RepositoryDeps,
    readonly context: RequestContext,
    sql: SqlClient = deps.db,
    private readonly inTransaction = false,
    readonly gate?: AccessGate,
    private readonly audit?: TransactionAudit
  ) {
    super();
    this.rawSql = guardSql(sql, deps.onDbError);
    this.sql = this.flushingClient();
    this.gateSql = this.gateClient();
    this.ruleWriteSql = this.recordWriteClient();
  }

  /** The raw client, with `before` awaited ahead of every statement (what must be sent, or held, first). */
  private clientWith(before: () => Promise<void>): SqlClient {
    return {
      query: async (text, params, name) => {
        await before();
        return this.rawSql.query(text, params, name);
      },
      exec: async (text) => {
        await before();
        return this.rawSql.exec(text);
      },
    };
  }

  /** Every query (the gate's, the write rules', our own reads) first writes what is buffered, so it sees it. */
  private flushingClient(): SqlClient {
    return this.clientWith(() => this.flush());
  }

  /**
   * The gate's client for a write decision. The decision reads the facts of
   * the people it is about (src/gate/facts/load-facts.ts: rows labelled with
   * that person, the Patient's own index rows, opt-outs, break-glass windows)
   * and the agreements, never another person's rows: buffered versions of
   * other people cannot change it and stay buffered, so an import batch's
   * versions go in one statement instead of one per new person.
   */
  private gateClient(): SqlClient {
    return this.clientWith(async () => {
      if (this.gatePeople.some((p) => this.pendingPeople.has(p))) await this.flush();
    });
  }

  /**
   * A write rule's client for a read of one person's current rows of some
   * types: buffered versions are sent first only if one of them is of those
   * types and about that person, or is an update (which may have moved a
   * resource away from them); the rest stay buffered.
   */
  private scopedReadClient(scope: { patientId: string; resourceTypes: readonly string[] }): SqlClient {
    const types = new Set(scope.resourceTypes);
    return this.clientWith(async () => {
      if (this.pending?.some((v) => types.has(v.resource.resourceType) && (v.patientId === scope.patientId || v.versionId > 1))) await this.flush();
    });
  }

  /**
   * A write rule's client for a statement that writes: after what is
   * buffered, and inside the open record's savepoint (taken now if it has
   * none), so undoRecord takes the row back with the record.
   */
  private recordWriteClient(): SqlClient {
    return this.clientWith(async () => {
      await this.flush();
      await this.holdRecordSavepoint();
    });
  }

  /**
   * From now on, versions this (transaction's) repository stores are written
   * together, in one statement, just before its next query or flush(): a
   * council record's resources in one or two round trips instead of one
   * each. Every read and every gate decision still sees every earlier write,
   * because any query flushes first. The caller must flush() before its
   * savepoint is released or its transaction commits.
   */
  bufferWrites(): void {
    if (!this.inTransaction) throw new Error('bufferWrites needs a transaction');
    this.pending ??= [];
  }

  /**
   * Writes the buffered versions (buffered mode); a no-op otherwise. When the
   * open record's versions are among them, a savepoint is taken first (after
   * the earlier records' versions), so undoRecord can still take them back.
   */
  async flush(): Promise<void> {
    if (!this.pending?.length) return;
    const versions = this.pending;
    this.pending = [];
    this.pendingRefs.clear();
    this.pendingPeople.clear();
    const m = this.mark;
    if (m && !m.savepoint && m.pending < versions.length) {
      const earlier = m.pending;
      m.pending = 0;
      await writeVersions(this.rawSql, versions.slice(0, earlier), this.deps.baseUrl);
      // A kept record's savepoint is released only now, in the same round trip as this one is taken.
      await this.holdRecordSavepoint();
      await writeVersions(this.rawSql, versions.slice(earlier), this.deps.baseUrl);
      return;
    }
    if (m) m.pending = 0;
    await writeVersions(this.rawSql, versions, this.deps.baseUrl);
  }

  /**
   * Buffered mode, several records through one repository (an import
   * batch): the work from here to endRecord or undoRecord is one record's,
   * to be kept or dropped whole. Nothing is sent for it: its versions stay
   * buffered with the batch's unless a query needs them (see flush).
   */
  beginRecord(): void {
    if (!this.pending) throw new Error('beginRecord needs bufferWrites');
    if (this.mark) throw new Error('a record is already open');
    this.mark = { pending: this.pending.length, written: this.written.length, notes: this.notes.length, undo: new Map(), savepoint: false };
  }

  /** The open record is kept (its savepoint, if it took one, is released later: see flush). */
  endRecord(): void {
    const m = this.mark;
    this.mark = undefined;
    if (m?.savepoint) this.savepointHeld = true;
  }

  /**
   * The open record is dropped: its buffered versions, its references, its
   * notes and what it changed in `known` are forgotten. 'memory' when none of
   * it had been sent (nothing to do in the database); 'savepoint' when the
   * transaction was rolled back to the savepoint flush took before sending
   * it. After 'memory' following a database error the transaction is still
   * aborted: the caller must give the transaction up.
   */
  async undoRecord(): Promise<'memory' | 'savepoint'> {
    const m = this.mark;
    if (!m || !this.pending) throw new Error('no record is open');
    this.mark = undefined;
    this.pending.length = m.pending;
    this.pendingRefs.clear();
    for (const v of this.pending) this.pendingRefs.add(`${v.resource.resourceType}/${v.resource.id}`);
    this.written.length = m.written;
    this.notes.length = m.notes;
    for (const [k, row] of m.undo) {
      if (row === undefined) this.known.delete(k);
      else this.known.set(k, row);
    }
    if (!m.savepoint) return 'memory';
    await this.rawSql.exec(`ROLLBACK TO SAVEPOINT ${RECORD_SAVEPOINT}; RELEASE SAVEPOINT ${RECORD_SAVEPOINT}`);
    // The gate remembers, per client, whom it told other instances about; those notifications were just rolled back.
    this.sql = this.flushingClient();
    this.gateSql = this.gateClient();
    return 'savepoint';
  }

  /** An open record without its savepoint gets it now (flush first: what is buffered belongs before it). */
  private async holdRecordSavepoint(): Promise<void> {
    const m = this.mark;
    if (!m || m.savepoint) return;
    await this.rawSql.exec(this.savepointHeld ? `RELEASE SAVEPOINT ${RECORD_SAVEPOINT}; SAVEPOINT ${RECORD_SAVEPOINT}` : `SAVEPOINT ${RECORD_SAVEPOINT}`);
    this.savepointHeld = false;
    m.savepoint = true;
  }

  /** Sets a `known` entry, remembering for undoRecord what it was. */
  private setKnown(ref: string, row: CurrentRow | null | undefined): void {
    const m = this.mark;
    if (m && !m.undo.has(ref)) m.undo.set(ref, this.known.get(ref));
    if (row === undefined) this.known.delete(ref);
    else this.known.set(ref, row);
  }

  /**
   * Buffered mode: reads and locks (FOR UPDATE, in key order) the current
   * rows of these resources in one query, so writing them needs no read of
   * its own. A no-op otherwise.
   */
  async prefetch(refs: readonly string[]): Promise<void> {
    if (!this.pending) return;
    const keys = [...new Set(refs)].filter((r) => !this.known.has(r) && splitReference(r)).sort();
    if (!keys.length) return;
    const split = keys.map((k) => splitReference(k) as { type: string; id: string });
    const r = await this.sql.query<CurrentRow>(PREFETCH_SQL, [split.map((s) => s.type), split.map((s) => s.id), keys], statementName('prefetch', PREFETCH_SQL));
    const rows = new Map(r.rows.map((row) => [`${row.resource_type}/${row.id}`, row]));
    for (const k of keys) this.setKnown(k, rows.get(k) ?? null);
  }

  /** Patient/{id}/$everything: through the repository like every other read, so the gate sees it. */
  async patientEverything(patientId: string, options: EverythingOptions): Promise<Bundle> {
    return patientEverything(this.sql, this.deps.baseUrl, patientId, options, this.gate);
  }

  setMode(_mode: RepositoryMode): void {
    // One database role serves reads and writes; there are no read replicas yet.
  }

  generateId(): string {
    return randomUUID();
  }

  async withTransaction<T>(callback: (txRepo: this) => Promise<T>, _options?: TransactionOptions): Promise<T> {
    if (this.inTransaction) {
      return callback(this);
    }
    try {
      let written: readonly string[] = [];
      const result = await this.deps.db.transaction(async (tx) => {
        const txRepo = new PgRepository(this.deps, this.context, tx, true, this.gate, this.audit);
        txRepo.notes = this.notes;
        const r = await callback(txRepo as this);
        // Last, just before COMMIT: the audit chain's lock is held until the transaction ends.
        if (this.audit && txRepo.written.length) await this.audit.inTransaction(txRepo.sql, txRepo.written);
        written = txRepo.written;
        return r;
      });
      this.gate?.committed();
      if (written.length) this.deps.onCommitted?.(this.context, written);
      return result;
    } catch (err) {
      // BEGIN/COMMIT failures come from outside the guarded client.
      throw sanitizeDbError(err, this.deps.onDbError);
    }
  }

  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    checkType(resource.resourceType);
    const id = options?.assignedId && resource.id ? resource.id : this.generateId();
    return this.withTransaction(async (tx) => {
      const existing = await tx.current(resource.resourceType, id, true);
      if (existing && !existing.deleted) {
        throw new OperationOutcomeError({
          resourceType: 'OperationOutcome',
          id: 'conflict',
          issue: [{ severity: 'error', code: 'duplicate', details: { text: `${resource.resourceType}/${id} already exists` } }],
        });
      }
      return tx.store({ ...resource, id }, (existing?.version_id ?? 0) + 1, 'create', existing);
    });
  }

  /**
   * Conditional create under an advisory lock keyed on the condition, so two
   * requests creating the same person at once cannot both find nothing and
   * both create (the base class relies on SERIALIZABLE, which we do not use).
   */
  override async conditionalCreate<T extends Resource>(
    resource: T,
    search: SearchRequest<T>,
    options?: CreateResourceOptions
  ): Promise<{ resource: WithId<T>; outcome: OperationOutcome }> {
    if (search.resourceType !== resource.resourceType) {
      throw new OperationOutcomeError(badRequest('The If-None-Exist search must be on the resource type being created'));
    }
    return this.withTransaction(async (tx) => {
      await tx.lockConditions([search]);
      const matches = await tx.searchResources<T>({ ...search, count: 2, offset: 0, sortRules: undefined });
      if (matches.length > 1) {
        throw new OperationOutcomeError(multipleMatches);
      }
      if (matches[0]) {
        return { resource: matches[0], outcome: allOk };
      }
      return { resource: await tx.createResource(resource, options), outcome: created };
    });
  }

  /**
   * Checks conditional-create conditions and holds, until the transaction
   * ends, one advisory lock per distinct condition. A condition without
   * criteria would match any single resource of the type: refused.
   */
  async lockConditions(searches: SearchRequest[]): Promise<void> {
    if (!this.inTransaction) {
      throw new Error('lockConditions needs a transaction');
    }
    if (searches.some((s) => !s.filters?.length)) {
      throw new OperationOutcomeError(badRequest('A conditional create needs at least one search criterion', 'If-None-Exist'));
    }
    // A fixed order, so two transactions locking the same set cannot deadlock.
    const keys = [...new Set(searches.map((s) => `${s.resourceType}${formatSearchQuery({ ...s, count: undefined, offset: undefined, sortRules: undefined })}`))].sort();
    for (const key of keys) {
      await this.sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
    }
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    checkType(resourceType);
    const row = ID_RE.test(id) ? await this.visible(resourceType, id) : undefined;
    if (!row) {
      throw new OperationOutcomeError(notFound);
    }
    if (row.deleted || row.content === null) {
      throw new OperationOutcomeError(gone);
    }
    return JSON.parse(row.content) as WithId<T>;
  }

  private async mayRead(row: CurrentRow): Promise<boolean> {
    return !this.gate || (await this.gate.filter(this.sql, [row], 'read')).length > 0;
  }

  /** The current row if it exists and the gate lets the requester see it: withheld is indistinguishable from absent. */
  private async visible(resourceType: string, id: string): Promise<CurrentRow | undefined> {
    const row = await this.current(resourceType, id, false);
    if (!row || !this.gate) return row;
    return (await this.gate.filter(this.sql, [row], 'read'))[0];
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const split = reference.reference ? splitReference(reference.reference) : undefined;
    if (!split) {
      throw new OperationOutcomeError(badRequest(`Cannot resolve reference "${reference.reference ?? ''}"`));
    }
    return this.readResource<T>(split.type, split.id);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(references.map((r) => this.readReference(r).catch((err: Error) => err)));
  }

  async readHistory<T extends Resource>(resourceType: string, id: string, options?: ReadHistoryOptions): Promise<Bundle<WithId<T>>> {
    checkType(resourceType);
    if (!ID_RE.test(id) || !(await this.visible(resourceType, id))) {
      throw new OperationOutcomeError(notFound);
    }
    return readHistoryBundle(this.sql, this.deps.baseUrl, { resourceType, id, ...options }) as Promise<Bundle<WithId<T>>>;
  }

  async readTypeHistory(resourceType: string, options: { since?: string; offset?: number; limit?: number }): Promise<Bundle> {
    checkType(resourceType);
    return readHistoryBundle(this.sql, this.deps.baseUrl, { resourceType, ...options }, this.gate);
  }

  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    checkType(resourceType);
    if (!/^\d{1,9}$/.test(vid) || !ID_RE.test(id) || !(await this.visible(resourceType, id))) {
      throw new OperationOutcomeError(notFound);
    }
    const r = await this.sql.query<{ deleted: boolean; content: string | null }>(
      'SELECT deleted, content FROM resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3',
      [resourceType, id, Number(vid)]
    );
    const row = r.rows[0];
    if (!row) {
      throw new OperationOutcomeError(notFound);
    }
    if (row.deleted || row.content === null) {
      throw new OperationOutcomeError(gone);
    }
    return JSON.parse(row.content) as WithId<T>;
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    checkType(resource.resourceType);
    const id = resource.id;
    if (!id || !ID_RE.test(id)) {
      throw new OperationOutcomeError(badRequest('Resource id is missing or not a valid FHIR id', 'id'));
    }
    return this.withTransaction(async (tx) => {
      const existing = await tx.current(resource.resourceType, id, true);
      // A resource the requester may not read is, for them, not there: never overwritten by them (an
      // agreement to share does not let a party overwrite what the person refused to share with it).
      if (existing && !(await tx.mayRead(existing))) throw new OperationOutcomeError(notFound);
      if (options?.ifMatch !== undefined) {
        const expected = parseEtag(options.ifMatch);
        if (!existing || existing.deleted || String(existing.version_id) !== expected) {
          throw new OperationOutcomeError(preconditionFailedMessage(resource.resourceType, id, options.ifMatch));
        }
      }
      if (existing && !existing.deleted && existing.content && sameContent(existing.content, resource)) {
        // An identical re-send makes no new version (idempotent re-pushes), but is still a write the gate decides.
        await tx.checkWrite({ ...resource, id }, existing);
        return JSON.parse(existing.content) as WithId<T>;
      }
      const creating = !existing || existing.deleted;
      this.updateCreated = creating;
      return tx.store({ ...resource, id }, (existing?.version_id ?? 0) + 1, creating ? 'create' : 'update', existing);
    });
  }

  async deleteResource(resourceType: string, id: string, options?: { ifMatch?: string }): Promise<void> {
    checkType(resourceType);
    await this.withTransaction(async (tx) => {
      const found = await tx.current(resourceType, id, true);
      // What the requester may not see is, for them, not there (also for If-Match).
      const existing = found && (await tx.mayRead(found)) ? found : undefined;
      if (options?.ifMatch !== undefined && (!existing || String(existing.version_id) !== parseEtag(options.ifMatch))) {
        throw new OperationOutcomeError(preconditionFailedMessage(resourceType, id, options.ifMatch));
      }
      if (!existing || existing.deleted) {
        // Deleting what is not there is a success with nothing to do (R4 http.html#delete); what the
        // requester may not see answers the same, so a delete cannot probe for it.
        return;
      }
      await this.gate?.checkWrite(tx.sql, {
        resourceType,
        id,
        ...(existing.patient_id ? { patientId: existing.patient_id } : {}),
        ...(existing.data_class ? { dataClass: existing.data_class } : {}),
        ...(existing.controller ? { controller: existing.controller } : {}),
      });
      const lastUpdated = new Date().toISOString();
      // Written at once, not buffered: in an open record, only a savepoint can take it back.
      await tx.flush();
      await tx.holdRecordSavepoint();
      await writeVersion(tx.sql, { resourceType, id } as Resource & { id: string }, existing.version_id + 1, lastUpdated, 'delete');
      tx.setKnown(`${resourceType}/${id}`, undefined);
      tx.written.push(`${resourceType}/${id}`);
      this.deps.db.noteWrites(1);
      if (existing.patient_id) this.gate?.changed([existing.patient_id]);
    });
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions
  ): Promise<WithId<T>> {
    if (!Array.isArray(patch)) {
      throw new OperationOutcomeError(badRequest('Only JSON Patch is supported'));
    }
    return this.withTransaction(async (tx) => {
      const current = await tx.readResource<T>(resourceType, id);
      return tx.updateResource(applyJsonPatch(current, patch), options);
    });
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    if (searchRequest.types?.length) {
      throw new OperationOutcomeError(badRequest('Searching across resource types is not supported'));
    }
    checkType(searchRequest.resourceType);
    return runSearch(this.sql, this.deps.baseUrl, searchRequest, this.gate) as Promise<Bundle<WithId<T>>>;
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[]
  ): Promise<Record<string, WithId<T>[]>> {
    const result: Record<string, WithId<T>[]> = {};
    for (const ref of references) {
      const bundle = await this.search<T>({
        ...searchRequest,
        filters: [...(searchRequest.filters ?? []), { code: referenceField, operator: 'eq', value: ref }],
      });
      result[ref] = (bundle.entry ?? []).map((e) => e.resource as WithId<T>);
    }
    return result;
  }

  /** Validates and stores one version; the caller holds the transaction. */
  private async store<T extends Resource>(
    resource: T & { id: string },
    versionId: number,
    method: 'create' | 'update',
    existing: CurrentRow | undefined
  ): Promise<WithId<T>> {
    const lastUpdated = new Date().toISOString();
    const { meta, ...rest } = resource;
    let stored = {
      ...rest,
      meta: { ...meta, versionId: String(versionId), lastUpdated },
    } as unknown as WithId<T>;
    this.validate(stored);
    // The record keeps the controller it had; a new one belongs to the organisation creating it.
    const controller = existing?.controller ?? this.context.actor?.organisation.ods;
    const labels = await this.checkWrite(stored, existing);
    if (this.deps.writeRules) stored = await this.applyWriteRules(stored, existing);
    const ref = `${stored.resourceType}/${stored.id}`;
    if (this.pending) {
      // One statement cannot upsert the same row twice: a second version of a buffered resource goes after it.
      if (this.pendingRefs.has(ref)) await this.flush();
      const thirdParty = resourceLabels(stored, this.deps.baseUrl).thirdParty;
      const content = JSON.stringify(stored);
      this.pending.push({ resource: stored, versionId, lastUpdated, method, ...labels, ...(thirdParty ? { thirdParty } : {}), ...(controller ? { controller } : {}), content });
      this.pendingRefs.add(ref);
      if (labels.patientId) this.pendingPeople.add(labels.patientId);
      if (existing?.patient_id) this.pendingPeople.add(existing.patient_id);
      this.setKnown(ref, {
        resource_type: stored.resourceType,
        id: stored.id,
        version_id: versionId,
        deleted: false,
        content,
        patient_id: labels.patientId ?? null,
        data_class: labels.dataClass ?? null,
        controller: controller ?? null,
        third_party: thirdParty ?? null,
      });
    } else {
      await writeVersion(this.sql, stored, versionId, lastUpdated, method, this.deps.baseUrl, controller ?? undefined);
    }
    this.written.push(ref);
    this.deps.db.noteWrites(1);
    const touched = [labels.patientId, existing?.patient_id].filter((x): x is string => !!x);
    if (touched.length) this.gate?.changed(touched, existing ? undefined : stored);
    return stored;
  }

  private validate(resource: Resource): void {
    const issues = this.deps.validator.validate(resource);
    if (issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
      throw new OperationOutcomeError(invalidResource(issues));
    }
  }

  /** The write rules (after validation and the gate): errors refuse (422), other issues become notes. */
  private async applyWriteRules<T extends Resource>(stored: WithId<T>, existing: CurrentRow | undefined): Promise<WithId<T>> {
    const rules = this.deps.writeRules as WriteRules;
    const previous = existing && !existing.deleted && existing.content ? (JSON.parse(existing.content) as Resource) : undefined;
    const result = await rules.check({
      sql: this.sql,
      sqlReading: (scope) => this.scopedReadClient(scope),
      sqlWriting: this.ruleWriteSql,
      resource: stored,
      previous,
      context: this.context,
      baseUrl: this.deps.baseUrl,
      mayRead: async (type, id) => {
        const row = await this.current(type, id, false);
        return !!row && !row.deleted && (await this.mayRead(row));
      },
    });
    const errors = result.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length) throw new OperationOutcomeError(invalidResource(errors));
    const ref = `${stored.resourceType}/${stored.id}`;
    for (const issue of result.issues) this.notes.push({ ref, issue });
    if (!result.resource) return stored;
    const amended = { ...result.resource, id: stored.id, meta: stored.meta } as unknown as WithId<T>;
    this.validate(amended);
    return amended;
  }

  /** Asks the gate whether this version may be written over what is stored; returns the labels it decided on. */
  private async checkWrite(resource: Resource & { id: string }, existing: CurrentRow | undefined): Promise<{ patientId?: string; dataClass?: string }> {
    const labels = await this.labelsOf(resource);
    if (!this.gate) return labels;
    this.gatePeople = [labels.patientId, existing?.patient_id].filter((x): x is string => !!x);
    await this.gate.checkWrite(this.gateSql, {
      resourceType: resource.resourceType,
      id: resource.id,
      ...(labels.patientId ? { patientId: labels.patientId } : {}),
      ...(labels.dataClass ? { dataClass: labels.dataClass } : {}),
      ...(existing?.controller ? { controller: existing.controller } : {}),
      ...(existing?.patient_id && existing.patient_id !== labels.patientId ? { previousPatientId: existing.patient_id } : {}),
    });
    return labels;
  }

  /** The labels the gate decides a write on; a Provenance's are its target's (from memory when this transaction holds the target's row). */
  private async labelsOf(resource: Resource): Promise<{ patientId?: string; dataClass?: string }> {
    const labels = resourceLabels(resource, this.deps.baseUrl);
    if (!labels.inheritFrom) return { ...(labels.patientId ? { patientId: labels.patientId } : {}), ...(labels.dataClass ? { dataClass: labels.dataClass } : {}) };
    const held = this.known.get(`${labels.inheritFrom.type}/${labels.inheritFrom.id}`);
    if (held) return { ...(held.patient_id ? { patientId: held.patient_id } : {}), ...(held.data_class ? { dataClass: held.data_class } : {}) };
    const r = await this.sql.query<{ patient_id: string | null; data_class: string | null }>(
      'SELECT patient_id, data_class FROM resource WHERE resource_type = $1 AND id = $2',
      [labels.inheritFrom.type, labels.inheritFrom.id]
    );
    const row = r.rows[0];
    return { ...(row?.patient_id ? { patientId: row.patient_id } : {}), ...(row?.data_class ? { dataClass: row.data_class } : {}) };
  }

  private async current(resourceType: string, id: string, forUpdate: boolean): Promise<CurrentRow | undefined> {
    const held = this.pending ? this.known.get(`${resourceType}/${id}`) : undefined;
    if (held !== undefined) return held ?? undefined;
    const [text, name] = forUpdate && this.inTransaction ? CURRENT_FOR_UPDATE : CURRENT;
    // Named, so prepared once per connection: every read by id runs this, and parsing and
    // planning it each time cost ~50 µs of PostgreSQL CPU per read, a third of the whole
    // (docs/performance.md, audited reads, sixth pass).
    const r = await this.sql.query<CurrentRow>(text, [resourceType, id], name);
    return r.rows[0];
  }
}

const CURRENT_SQL = `SELECT resource_type, id, version_id, deleted, content, patient_id, data_class, controller, third_party
  FROM resource WHERE resource_type = $1 AND id = $2`;
const named = (text: string) => [text, statementName('current', text)] as const;
const CURRENT = named(CURRENT_SQL);
const CURRENT_FOR_UPDATE = named(`${CURRENT_SQL} FOR UPDATE`);

function checkType(resourceType: string): void {
  if (!isSupportedResourceType(resourceType)) {
    throw new OperationOutcomeError({
      ...notFound,
      issue: [{ severity: 'error', code: 'not-supported', details: { text: `Resource type "${resourceType}" is not supported` } }],
    });
  }
}

/** Accepts W/"3", "3" and 3 as version 3. */
export function parseEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '').trim();
}

function preconditionFailedMessage(resourceType: string, id: string, ifMatch: string): OperationOutcome {
  return {
    ...preconditionFailed,
    issue: [
      {
        severity: 'error',
        code: 'conflict',
        details: { text: `If-Match ${ifMatch} does not match the current version of ${resourceType}/${id}` },
        expression: ['If-Match'],
      },
    ],
  };
}

function sameContent(storedJson: string, incoming: Resource): boolean {
  const stored = JSON.parse(storedJson) as Resource;
  const strip = (r: Resource): string => {
    const { meta, ...rest } = r;
    const { versionId: _v, lastUpdated: _l, ...metaRest } = meta ?? {};
    return stableStringify({ ...rest, meta: metaRest });
  };
  return strip(stored) === strip(incoming);
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

