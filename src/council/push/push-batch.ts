import { OperationOutcomeError, getStatus } from '@medplum/core';
import { guardSql } from '../../db/guarded-sql.ts';
import type { SqlClient } from '../../db/sql-client.ts';
import type { RequestContext } from '../../request-context.ts';
import type { Applied } from './apply.ts';
import { nhsNumbersOf } from '../../gate/facts/load-facts.ts';
import { resourceLabels } from '../../gate/labels/resource-labels.ts';
import { BatchGate } from './batch-gate.ts';
import { lockLedgerEntries, writeLedgerEntries } from './record-ledger.ts';
import type { LedgerEntry, LedgerKey, LedgerWrite } from './record-ledger.ts';
import type { PushResult } from './push-outcome.ts';
import { applyPrepared, councilRepository, failed, prepareRecord, pushRecord, toResult } from './push-record.ts';
import type { PreparedRecord, PushDeps } from './push-record.ts';

export interface BatchItem {
  json: unknown;
  /** The record's line (import) or position (array). */
  index: number;
}

/**
 * Pushes several council records in ONE transaction, each still stored whole
 * or not at all, a bad one losing nothing else, while the batch pays for one
 * BEGIN, one COMMIT (one WAL flush), one read of its ledger rows, one read
 * (and lock) of every resource row its records may write, one statement for
 * all their versions (a few when a query needs some of them sent earlier)
 * and one for their ledger rows, and holds the audit chain's lock only from
 * its audit appends to its commit (docs/decisions/0012-import-batching.md).
 *
 * Every record's audit record is appended in the same transaction, after all
 * of the batch's records have been applied, one per record (its own
 * AuditEvent(s), as with one transaction per record). Results are returned,
 * in input order, only once the batch has committed.
 *
 * Records run one after another through one buffered repository. A record
 * refused by the store itself (a profile, the gate: refused before anything
 * of it is sent, almost always) is dropped from the repository's buffers in
 * memory (PgRepository.undoRecord); if a query had made part of it reach the
 * database, the repository took a savepoint just before, and the record is
 * rolled back to it. A record that fails in any other way (a deadlock with a
 * concurrent batch, a lost connection) is pushed again alone if it had its
 * savepoint; without one the transaction cannot go on, and every record of
 * the batch not refused on its own is pushed again alone after the batch, in
 * order, with pushRecord, as when the transaction fails as a whole (BEGIN,
 * an audit append, COMMIT): an infrastructure failure costs a retry, never a
 * record. Never throws.
 */
export async function pushBatch(deps: PushDeps, context: RequestContext, councilOds: string, items: readonly BatchItem[]): Promise<PushResult[]> {
  const results: (PushResult | undefined)[] = new Array(items.length);
  const prepared: { i: number; p: PreparedRecord }[] = [];
  for (const [i, item] of items.entries()) {
    const prep = prepareRecord(deps, councilOds, item.json, item.index);
    if (prep.ok) prepared.push({ i, p: prep.prepared });
    else results[i] = prep.result;
  }
  if (prepared.length === 0) return results as PushResult[];

  const gate = deps.gate ? new BatchGate(deps.gate, context.actor?.organisation.ods) : undefined;
  /** Positions to push again alone, after the batch. */
  const retry: number[] = [];
  const done: { i: number; applied: Applied; touched: string[]; written: string[] }[] = [];
  try {
    await deps.db.transaction(async (tx) => {
      const sql = guardSql(tx, deps.onDbError);
      const retryKeys = new Set<string>();
      // Every record's ledger lock and entry in two statements; a second version of a record in the batch reads its own (after the first's write).
      const seen = new Set<string>();
      const firsts = prepared.filter(({ p }) => !seen.has(keyOf(p)) && !!seen.add(keyOf(p)));
      const entries = await lockLedgerEntries(sql, firsts.map(({ p }) => ({ key: p.src.key, lastUpdated: p.src.lastUpdated })));
      const firstIndex = new Map(firsts.map(({ i }, n) => [i, n]));
      const repo = councilRepository(deps, context, tx, gate);
      // One read and lock of every row the batch's records may write (each record's own prefetch then finds them known).
      await repo.prefetch([...prepared.flatMap(({ p }) => refsOf(p)), ...entries.flatMap((e) => e?.resources ?? [])]);
      // The opt-out status of the batch's Patients, so a Patient's create updates its person's facts in memory (no reload, no flush).
      await gate?.readOptOuts(sql, prepared.flatMap(({ p }) => (p.mapped?.resources ?? []).flatMap((r) => (r.resourceType === 'Patient' ? nhsNumbersOf(r) : []))));
      // And the facts of the people the records are about, in one query rather than one at each person's first write.
      await gate?.readFacts(sql, prepared.flatMap(({ p }) => (p.mapped?.resources ?? []).flatMap((r) => resourceLabels(r, deps.baseUrl).patientId ?? [])));
      // Ledger entries of the records applied so far, written together: before a record reading its entry
      // from the table (a second version in the batch), and after the last.
      let ledgerWrites: { key: LedgerKey; write: LedgerWrite }[] = [];
      const writeLedger = async (): Promise<void> => {
        const w = ledgerWrites;
        ledgerWrites = [];
        await writeLedgerEntries(sql, w);
      };
      for (const { i, p } of prepared) {
        const key = keyOf(p);
        if (retryKeys.has(key)) {
          // An earlier version of this record is retried alone: this one must follow it.
          retry.push(i);
          continue;
        }
        const n = firstIndex.get(i);
        let entry: LedgerEntry | undefined;
        if (n === undefined) {
          await writeLedger();
          entry = (await lockLedgerEntries(sql, [{ key: p.src.key, lastUpdated: p.src.lastUpdated }]))[0];
        } else {
          entry = entries[n];
        }
        gate?.startRecord();
        repo.beginRecord();
        let mine: LedgerWrite | undefined;
        try {
          const { applied, touched, written } = await applyPrepared(deps, context, tx, p, gate, { entry, defer: (w) => void (mine = w) }, repo);
          repo.endRecord();
          done.push({ i, applied, touched, written });
          if (mine) ledgerWrites.push({ key: p.src.key, write: mine });
        } catch (err) {
          gate?.recordRolledBack();
          // Throws if the rollback to the record's savepoint fails: the transaction is lost, the batch retried.
          const undone = await repo.undoRecord();
          if (isRefusal(err)) {
            results[i] = failed(deps, p.label, err);
          } else if (undone === 'savepoint') {
            retry.push(i);
            retryKeys.add(key);
          } else {
            // Nothing to roll back to: if a statement failed, the transaction is aborted. Give it up.
            throw err;
          }
        }
      }
      // Every version the queries above did not need sent: one statement (per 1,000 versions).
      await repo.flush();
      await writeLedger();
      // Last, just before COMMIT: from the first append the chain's lock is held until the transaction ends.
      await auditAll(deps, sql, done);
    });
    gate?.committed();
    const written = done.flatMap((d) => d.written);
    if (written.length) deps.onCommitted?.(context, written);
    for (const d of done) results[d.i] = toResult(prepared.find((x) => x.i === d.i)!.p.label, d.applied);
  } catch {
    // The transaction as a whole failed (BEGIN, a record without its savepoint, an audit append, COMMIT): nothing of it is stored.
    gate?.batchRolledBack();
    // Records refused on their own keep their refusal; everything else is pushed again alone.
    retry.length = 0;
    done.length = 0;
    for (const { i } of prepared) if (results[i] === undefined) retry.push(i);
  }
  retry.sort((a, b) => a - b);
  for (const i of retry) {
    const item = items[i]!;
    results[i] = await pushRecord(deps, context, councilOds, item.json, item.index);
  }
  return results.map((r, i) => r ?? failed(deps, { index: items[i]!.index }, new Error('record not pushed')));
}

/** The rows a record may write, as far as is known before its ledger entry: its resources and its Provenance. */
function refsOf(p: PreparedRecord): string[] {
  if (!p.mapped) return [];
  return [...p.mapped.resources, p.mapped.provenance].map((r) => `${r.resourceType}/${r.id}`);
}

function keyOf(p: PreparedRecord): string {
  return `${p.src.key.sourceSystem}\u0000${p.src.key.recordId}`;
}

async function auditAll(deps: PushDeps, sql: SqlClient, done: readonly { touched: string[] }[]): Promise<void> {
  if (!deps.audit) return;
  const groups = done.filter((d) => d.touched.length).map((d) => d.touched);
  if (deps.audit.inTransactionGroups) {
    // Each record still gets its own audit record(s); the batch pays one append (one chain-head read, one lock).
    if (groups.length) await deps.audit.inTransactionGroups(sql, groups);
    return;
  }
  for (const d of done) {
    if (d.touched.length) await deps.audit.inTransaction(sql, d.touched);
  }
}

/**
 * The store's own refusal of this record (4xx: a profile, the gate): final.
 * Anything else, including a lost race with a concurrent writer (a deadlock,
 * answered as a 'conflict'), may succeed when the record is retried alone.
 */
function isRefusal(err: unknown): boolean {
  return err instanceof OperationOutcomeError && getStatus(err.outcome) < 500 && err.outcome.issue?.[0]?.code !== 'conflict';
}
