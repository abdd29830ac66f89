import { OperationOutcomeError, getStatus } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { parseCouncilRecord } from '../format/index.ts';
import type { CouncilRecord } from '../format/index.ts';
import type { DbErrorListener } from '../../db/guarded-sql.ts';
import { guardSql, sanitizeDbError } from '../../db/guarded-sql.ts';
import type { Database, SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, TransactionAudit } from '../../fhir/repo/gate-port.ts';
import type { WriteRules } from '../../fhir/repo/write-rules-port.ts';
import { PgRepository } from '../../fhir/repo/pg-repository.ts';
import type { ResourceValidator } from '../../fhir/repo/validator-port.ts';
import { MappingError } from '../../mapping/errors.ts';
import { DEFAULT_FORMAT, mapRecord } from '../../mapping/map-record.ts';
import type { MapResult } from '../../mapping/map-record.ts';
import { getMappingRegistry } from '../../mapping/mapping-registry.ts';
import type { MappingRegistry } from '../../mapping/mapping-registry.ts';
import { buildProvenance } from '../../mapping/provenance.ts';
import type { RequestContext } from '../../request-context.ts';
import { applyLive, applyTombstone } from './apply.ts';
import type { Applied, Preloaded, Source } from './apply.ts';
import { issue, labelOf, rejected } from './push-outcome.ts';
import type { PushResult, RecordLabel } from './push-outcome.ts';
import { isDatabaseUnavailable } from '../../db/unavailable.ts';

export interface PushDeps {
  db: Database;
  /** The store's validator (PgRepository validates every version it writes). */
  validator: ResourceValidator;
  /** FHIR base URL, for the repository. */
  baseUrl: string;
  onDbError: DbErrorListener;
  /** Defaults to the project's mappings/. */
  registry?: MappingRegistry;
  /** The request's lawful-basis gate: every resource the push writes is a write it decides. */
  gate?: AccessGate;
  /** The exchange's audit: each record's writes are recorded in the record's own transaction. */
  audit?: TransactionAudit;
  /** Business rules every FHIR write obeys (joint work: care team roles, duplicate assessments...). */
  writeRules?: WriteRules;
  /** After a transaction commits, with what it wrote (FHIR Subscriptions). */
  onCommitted?: (context: RequestContext, written: readonly string[]) => void;
}

const HTTP_STATUS = { created: 201, updated: 200, unchanged: 200, deleted: 200 } as const;

/** A record parsed and mapped, ready to be applied inside a transaction. */
export interface PreparedRecord {
  label: RecordLabel;
  record: CouncilRecord;
  mapping: { format: string; name: string; version: string };
  src: Source;
  councilOds: string;
  receivedAt: string;
  /** Undefined for a tombstone. */
  mapped?: MapResult;
}

/**
 * The work of a push that needs no database: parse (JSON paths) and map
 * (input paths or FHIRPaths). Never throws: a failure is the record's result.
 */
export function prepareRecord(deps: PushDeps, councilOds: string, json: unknown, index: number): { ok: true; prepared: PreparedRecord } | { ok: false; result: PushResult } {
  const label = labelOf(index, json);
  const parsed = parseCouncilRecord(json);
  if (!parsed.ok) {
    return {
      ok: false,
      result: rejected(label, 400, parsed.issues.map((i) => issue(i.path === '$.recordType' || i.message === 'required' ? 'required' : 'invalid', `${i.path}: ${i.message}`, i.path))),
    };
  }
  const record = parsed.record;
  const registry = deps.registry ?? getMappingRegistry();
  const mapping = registry.get(DEFAULT_FORMAT, record.recordType);
  if (!mapping) {
    return { ok: false, result: rejected(label, 422, [issue('not-supported', `Record type '${record.recordType}' is not yet supported: no mapping to FHIR exists for it yet`, '$.recordType')]) };
  }
  const receivedAt = new Date().toISOString();
  const src: Source = {
    key: { councilOds, sourceSystem: record.source.system, recordId: record.source.recordId },
    recordType: record.recordType,
    lastUpdated: record.source.lastUpdated,
    receivedAt,
  };
  let mapped: MapResult | undefined;
  if (!isTombstone(record)) {
    try {
      // The repository validates every version it writes (inside the record's
      // transaction, so a failure stores nothing); validating here too would
      // do the most expensive step of a push twice.
      mapped = mapRecord(record, record.recordType, { councilOds, receivedAt, format: DEFAULT_FORMAT }, { registry, validator: false });
    } catch (err) {
      if (err instanceof MappingError) return { ok: false, result: rejected(label, err.kind === 'mapping' ? 500 : 422, err.issues) };
      return { ok: false, result: failed(deps, label, err) };
    }
  }
  return {
    ok: true,
    prepared: { label, record, mapping: { format: mapping.format, name: mapping.name, version: mapping.version }, src, councilOds, receivedAt, ...(mapped ? { mapped } : {}) },
  };
}

/** A buffered repository for one transaction's council records (applyPrepared). */
export function councilRepository(deps: PushDeps, context: RequestContext, tx: SqlClient, gate: AccessGate | undefined): PgRepository {
  const repoDeps = { db: deps.db, validator: deps.validator, baseUrl: deps.baseUrl, onDbError: deps.onDbError, ...(deps.writeRules ? { writeRules: deps.writeRules } : {}) };
  const repo = new PgRepository(repoDeps, context, tx, true, gate);
  repo.bufferWrites();
  return repo;
}

/**
 * Applies a prepared record inside the caller's transaction. Returns what it
 * did and the references its audit record names: what it wrote, or found
 * unchanged. Throws on any failure.
 *
 * Without `shared`, through a repository of its own, flushed before
 * returning; the caller rolls back the transaction on failure. With `shared`
 * (an import batch's, between its beginRecord and endRecord/undoRecord) the
 * record's versions stay buffered with the batch's: the caller flushes, and
 * undoes the record on failure.
 */
export async function applyPrepared(
  deps: PushDeps,
  context: RequestContext,
  tx: SqlClient,
  p: PreparedRecord,
  gate: AccessGate | undefined = deps.gate,
  ledger?: Preloaded,
  shared?: PgRepository
): Promise<{ applied: Applied; touched: string[]; written: string[] }> {
  const sql = guardSql(tx, deps.onDbError);
  const repo = shared ?? councilRepository(deps, context, tx, gate);
  const from = repo.written.length;
  let applied: Applied;
  if (p.mapped) {
    applied = await applyLive(sql, repo, p.src, p.mapped, ledger);
  } else {
    const provenanceFor = (resources: Resource[]) =>
      buildProvenance({
        councilOds: p.councilOds,
        receivedAt: p.receivedAt,
        recordType: p.record.recordType,
        source: { system: p.src.key.sourceSystem, recordId: p.src.key.recordId, lastUpdated: p.src.lastUpdated },
        mapping: p.mapping,
        resources,
      });
    applied = await applyTombstone(sql, repo, p.src, provenanceFor, ledger);
  }
  // Before its transaction commits: a failed write fails this record.
  if (!shared) await repo.flush();
  const written = repo.written.slice(from);
  const touched = [...new Set([...written, ...(applied.kind === 'stale' ? [] : applied.resources)])];
  return { applied, touched, written };
}

/**
 * Pushes one council record: parse (JSON paths), map (input paths or
 * FHIRPaths), then one transaction for the ledger and every resource, so a
 * record is stored whole or not at all. Never throws: every failure is this
 * record's rejection, and the caller's other records go on.
 */
export async function pushRecord(deps: PushDeps, context: RequestContext, councilOds: string, json: unknown, index: number): Promise<PushResult> {
  const prep = prepareRecord(deps, councilOds, json, index);
  if (!prep.ok) return prep.result;
  const p = prep.prepared;
  try {
    let written: string[] = [];
    const applied = await deps.db.transaction(async (tx) => {
      const r = await applyPrepared(deps, context, tx, p);
      // Each record is an exchange of its own, audited in its transaction: what it wrote, or found unchanged.
      if (deps.audit && r.touched.length) await deps.audit.inTransaction(guardSql(tx, deps.onDbError), r.touched);
      written = r.written;
      return r.applied;
    });
    deps.gate?.committed();
    if (written.length) deps.onCommitted?.(context, written);
    return toResult(p.label, applied);
  } catch (err) {
    return failed(deps, p.label, err);
  }
}

function isTombstone(record: CouncilRecord): boolean {
  return (record as { deleted?: boolean }).deleted === true;
}

export function toResult(label: RecordLabel, applied: Applied): PushResult {
  if (applied.kind === 'stale') return rejected(label, 409, [issue('conflict', applied.text, '$.source.lastUpdated')]);
  return { ...label, status: applied.kind, httpStatus: HTTP_STATUS[applied.kind], resources: applied.resources };
}

/**
 * A failure in storing: the store's own refusals (a profile the repository
 * checks, a concurrent writer) keep their status and issues; anything else is
 * an internal error that says nothing of its cause (it may quote data).
 */
export function failed(deps: PushDeps, label: RecordLabel, err: unknown): PushResult {
  const e = err instanceof OperationOutcomeError ? err : sanitizeDbError(err, deps.onDbError);
  const status = getStatus(e.outcome);
  const issues: OperationOutcomeIssue[] = e.outcome.issue ?? [];
  // Not this record's fault, and worth sending again: 503 with the transient issue.
  if (isDatabaseUnavailable(e)) return rejected(label, 503, issues);
  if (status >= 500) return rejected(label, 500, [issue('exception', 'Internal error. This record was not stored.')]);
  return rejected(label, status, issues);
}
