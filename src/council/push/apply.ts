import type { Provenance, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError, getStatus } from '@medplum/core';
import type { SqlClient } from '../../db/sql-client.ts';
import type { PgRepository } from '../../fhir/repo/pg-repository.ts';
import type { LedgerEntry, LedgerKey, LedgerWrite } from './record-ledger.ts';
import { lockLedgerEntry, writeLedgerEntry } from './record-ledger.ts';
import { retireResource } from './retire.ts';

/** What one transaction did to one record; push-record turns it into a PushResult. */
export type Applied =
  | { kind: 'created' | 'updated' | 'unchanged' | 'deleted'; resources: string[] }
  | { kind: 'stale'; text: string };

export interface Mapped {
  resources: Resource[];
  provenance: Provenance;
}

export interface Source {
  key: LedgerKey;
  recordType: string;
  lastUpdated: string;
  receivedAt: string;
}

/** The record's ledger entry, already locked and read by the caller in this transaction (lockLedgerEntries). */
export interface Preloaded {
  entry: LedgerEntry | undefined;
  /** Takes the record's new ledger entry for the caller to write (with the batch's others), instead of writing it now. */
  defer?: (write: LedgerWrite) => void;
}

async function saveLedger(sql: SqlClient, key: LedgerKey, ledger: Preloaded | undefined, write: LedgerWrite): Promise<void> {
  if (ledger?.defer) ledger.defer(write);
  else await writeLedgerEntry(sql, key, write);
}

const DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';

const ref = (r: Resource): string => `${r.resourceType}/${r.id}`;

/**
 * Writes one live record's resources under its ledger lock. Each resource
 * goes through updateResource with its deterministic id (update-as-create),
 * which makes no new version for identical content; a Provenance is written
 * only when some resource actually changed, so a re-push leaves no trace.
 */
export async function applyLive(sql: SqlClient, repo: PgRepository, src: Source, mapped: Mapped, ledger?: Preloaded): Promise<Applied> {
  const entry = ledger ? ledger.entry : await lockLedgerEntry(sql, src.key, src.lastUpdated);
  const stale = staleness(entry, false);
  if (stale) return stale;

  const refs = mapped.resources.map(ref);
  // One read (and lock) of every row this record may write, instead of one per resource.
  await repo.prefetch([...refs, ...(entry?.resources ?? []), ref(mapped.provenance)]);
  let changed = 0;
  for (const resource of mapped.resources) {
    if (await writeIfChanged(sql, repo, resource)) changed++;
  }
  // Resources an earlier version of the record produced and this one does not
  // (a support reason removed...) are retired, not left looking current.
  const dropped = (entry?.resources ?? []).filter((r) => !refs.includes(r));
  const retired = await retireAll(sql, repo, dropped);
  changed += retired.length;

  if (changed > 0) {
    const targets = [...mapped.provenance.target, ...retired.map((r) => ({ reference: ref(r) }))];
    await repo.updateResource({ ...mapped.provenance, target: targets });
  }
  await saveLedger(sql, src.key, ledger, { recordType: src.recordType, lastUpdated: src.lastUpdated, receivedAt: src.receivedAt, resources: refs, deleted: false });
  const kind = changed === 0 && !entry?.deleted ? 'unchanged' : entry ? 'updated' : 'created';
  return { kind, resources: refs };
}

/**
 * Applies a tombstone: retires every resource the record produced, with a
 * Provenance whose activity is DELETE. A tombstone for a record never seen is
 * remembered too, so the live record arriving late is refused (409).
 */
export async function applyTombstone(
  sql: SqlClient,
  repo: PgRepository,
  src: Source,
  provenanceFor: (resources: Resource[]) => Provenance,
  ledger?: Preloaded
): Promise<Applied> {
  const entry = ledger ? ledger.entry : await lockLedgerEntry(sql, src.key, src.lastUpdated);
  const stale = staleness(entry, true);
  if (stale) return stale;
  const previous = entry?.resources ?? [];
  if (entry?.deleted) {
    // Already deleted: a repeated tombstone changes nothing but the time it is remembered at.
    await saveLedger(sql, src.key, ledger, { recordType: src.recordType, lastUpdated: src.lastUpdated, receivedAt: src.receivedAt, resources: previous, deleted: true });
    return { kind: 'unchanged', resources: previous };
  }
  const retired = await retireAll(sql, repo, previous);
  if (retired.length > 0) {
    const provenance = provenanceFor(retired);
    provenance.activity = { coding: [{ system: DATA_OPERATION, code: 'DELETE', display: 'delete' }] };
    await repo.updateResource(provenance);
  }
  // The refs are kept: a later live version of the record revives the same resources.
  await saveLedger(sql, src.key, ledger, { recordType: src.recordType, lastUpdated: src.lastUpdated, receivedAt: src.receivedAt, resources: previous, deleted: true });
  return { kind: 'deleted', resources: previous };
}

/** Older than what is stored: refused. At the same instant a tombstone wins over a live version. */
function staleness(entry: LedgerEntry | undefined, tombstone: boolean): Applied | undefined {
  if (!entry) return undefined;
  if (entry.incoming === 'older') {
    return { kind: 'stale', text: 'A newer version of this record (by source.lastUpdated) is already stored; this one was not applied' };
  }
  if (entry.incoming === 'same' && entry.deleted && !tombstone) {
    return { kind: 'stale', text: 'This record was deleted at source at the same source.lastUpdated; send a newer version to restore it' };
  }
  return undefined;
}

/**
 * Whether updateResource wrote a new version: it returns the stored version
 * for identical content and records every version it writes in
 * `repo.written`, so no read of the current version is needed here.
 */
async function writeIfChanged(_sql: SqlClient, repo: PgRepository, resource: Resource): Promise<boolean> {
  const before = repo.written.length;
  await repo.updateResource(resource);
  return repo.written.length > before;
}

/** Retires each still-current resource; gone ones (deleted through /fhir) are skipped. Returns those that changed. */
async function retireAll(sql: SqlClient, repo: PgRepository, refs: readonly string[]): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const r of refs) {
    const [type, id] = r.split('/') as [string, string];
    let current: Resource;
    try {
      current = await repo.readResource(type, id);
    } catch (err) {
      // Not found or deleted through /fhir: nothing left to retire.
      if (err instanceof OperationOutcomeError && [404, 410].includes(getStatus(err.outcome))) continue;
      throw err;
    }
    const retired = retireResource(current);
    if (retired && (await writeIfChanged(sql, repo, retired))) out.push(retired);
  }
  return out;
}
