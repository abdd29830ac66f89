import { OperationOutcomeError, getStatus } from '@medplum/core';
import { guardSql } from '../../db/guarded-sql.ts';
import type { SqlClient } from '../../db/sql-client.ts';
import type { RequestContext } from '../../request-context.ts';
import type { Applied } from './apply.ts';
import { BatchGate } from './batch-gate.ts';
import { lockLedgerEntries, writeLedgerEntries } from './record-ledger.ts';
import type { LedgerKey, LedgerWrite } from './record-ledger.ts';
import type { PushResult } from './push-outcome.ts';
import { applyPrepared, failed, prepareRecord, pushRecord, toResult } from './push-record.ts';
import type { PreparedRecord, PushDeps } from './push-record.ts';

export interface BatchItem {
  json: unknown;
  /** The record's line (import) or position (array). */
  index: number;
}

const SAVEPOINT = 'council_record';

/**
 * Pushes several council records in ONE transaction, each inside its own
 * savepoint, so each record is still stored whole or not at all and a bad one
 * loses nothing else, while the batch pays for one BEGIN, one COMMIT (one WAL
 * flush) and holds the audit chain's lock only from its audit appends to its
 * commit (docs/decisions/0012-import-batching.md).
 *
 * Every record's audit record is appended in the same transaction, after all
 * of the batch's records have been applied, one append per record (its own
 * AuditEvent(s), as with one transaction per record). Results are returned,
 * in input order, only once the batch has committed.
 *
 * A record that fails with the store's own refusal (a profile, the gate, a
 * conflict) is rolled back to its savepoint and rejected with it. A record
 * that fails in any other way (a deadlock with a concurrent batch, a lost
 * connection), and every record of a batch whose transaction fails as a
 * whole, is pushed again on its own after the batch, in order, with
 * pushRecord: so an infrastructure failure costs a retry, never a record.
 * Never throws.
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
      const firsts = prepared.filter(({ p }, n) => prepared.findIndex((x) => keyOf(x.p) === keyOf(p)) === n);
      const entries = await lockLedgerEntries(sql, firsts.map(({ p }) => ({ key: p.src.key, lastUpdated: p.src.lastUpdated })));
      const firstIndex = new Map(firsts.map(({ i }, n) => [i, n]));
      // Ledger entries of the records applied so far, written together: before a record reading its entry
      // from the table (a second version in the batch), and after the last.
      let ledgerWrites: { key: LedgerKey; write: LedgerWrite }[] = [];
      const writeLedger = async (): Promise<void> => {
        const w = ledgerWrites;
        ledgerWrites = [];
        await writeLedgerEntries(sql, w);
      };
      let open = false;
      for (const { i, p } of prepared) {
        const key = keyOf(p);
        if (retryKeys.has(key)) {
          // An earlier version of this record is retried alone: this one must follow it.
          retry.push(i);
          continue;
        }
        const n = firstIndex.get(i);
        if (n === undefined) await writeLedger();
        await sql.exec(open ? `RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}` : `SAVEPOINT ${SAVEPOINT}`);
        open = true;
        gate?.startRecord();
        let mine: LedgerWrite | undefined;
        const ledger = n === undefined ? undefined : { entry: entries[n], defer: (w: LedgerWrite) => void (mine = w) };
        try {
          const { applied, touched, written } = await applyPrepared(deps, context, tx, p, gate, ledger);
          done.push({ i, applied, touched, written });
          if (mine) ledgerWrites.push({ key: p.src.key, write: mine });
        } catch (err) {
          await sql.exec(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
          gate?.recordRolledBack();
          if (isRefusal(err)) {
            results[i] = failed(deps, p.label, err);
          } else {
            retry.push(i);
            retryKeys.add(key);
          }
        }
      }
      if (open) await sql.exec(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      await writeLedger();
      // Last, just before COMMIT: from the first append the chain's lock is held until the transaction ends.
      await auditAll(deps, sql, done);
    });
    gate?.committed();
    const written = done.flatMap((d) => d.written);
    if (written.length) deps.onCommitted?.(context, written);
    for (const d of done) results[d.i] = toResult(prepared.find((x) => x.i === d.i)!.p.label, d.applied);
  } catch {
    // The transaction as a whole failed (BEGIN, an audit append, COMMIT): nothing of it is stored.
    gate?.batchRolledBack();
    // Records refused on their own keep their refusal; everything else is pushed again alone.
    retry.length = 0;
    for (const { i } of prepared) if (results[i] === undefined) retry.push(i);
  }
  retry.sort((a, b) => a - b);
  for (const i of retry) {
    const item = items[i]!;
    results[i] = await pushRecord(deps, context, councilOds, item.json, item.index);
  }
  return results.map((r, i) => r ?? failed(deps, { index: items[i]!.index }, new Error('record not pushed')));
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
