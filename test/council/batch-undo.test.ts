import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationOutcomeError, forbidden } from '@medplum/core';
import { describe, expect, test } from 'vitest';
import { pushBatch } from '../../src/council/push/push-batch.ts';
import type { PushDeps } from '../../src/council/push/push-record.ts';
import type { Database, SqlClient } from '../../src/db/sql-client.ts';
import type { AccessGate, LabelRow, WriteCheck } from '../../src/fhir/repo/gate-port.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { jointWorkRules } from '../../src/joint-work/joint-work-rules.ts';
import { backends, withDatabase } from '../support/backends.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const EXAMPLES = join(import.meta.dirname, '../../docs/examples/council');
const example = (name: string): any => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8'));
const COUNCIL = 'X9C01';
const context = { requestId: 'batch-undo-test', authMode: 'smart' as const };
const validator = createValidator();

function record(file: string, seed: number, recordId: string, lastUpdated = '2026-01-10T10:00:00Z'): any {
  const base = example(file);
  return { ...base, source: { ...base.source, recordId, lastUpdated }, person: { localId: `LOC-U${seed}`, nhsNumber: makeTestNhsNumber(40_000 + seed) } };
}

function tombstone(live: any, lastUpdated: string): any {
  return { formatVersion: '1', recordType: live.recordType, deleted: true, source: { ...live.source, lastUpdated }, person: live.person };
}

/** The database, with every statement sent through it (and its transactions) logged. */
function logging(db: Database): { db: Database; log: string[] } {
  const log: string[] = [];
  const wrap = (c: SqlClient): SqlClient => ({
    query: (text, params, name) => {
      log.push(text);
      return c.query(text, params, name);
    },
    exec: (text) => {
      log.push(text);
      return c.exec(text);
    },
  });
  return { db: { ...db, ...wrap(db), transaction: (fn) => db.transaction((tx) => fn(wrap(tx))) }, log };
}

/**
 * A gate that reads the store for every read it filters and for the first
 * write decision about each person (as the real one does when it loads a
 * person's facts, so the repository must first write what the decision
 * could depend on), and refuses the writes `refuse` picks.
 */
class ReadingGate implements AccessGate {
  refuse: (w: WriteCheck) => boolean = () => false;
  private readonly loaded = new Set<string>();
  async filter<T extends LabelRow>(sql: SqlClient, rows: readonly T[]): Promise<T[]> {
    await sql.query('SELECT 1');
    return [...rows];
  }
  async checkWrite(sql: SqlClient, w: WriteCheck): Promise<void> {
    if (w.patientId && !this.loaded.has(w.patientId)) {
      await sql.query('SELECT 1');
      this.loaded.add(w.patientId);
    }
    if (this.refuse(w)) throw new OperationOutcomeError(forbidden);
  }
  changed(): void {}
  committed(): void {}
}

/** Each stored record's audit group, as the batch hands them over. */
function recordingAudit() {
  const groups: string[][] = [];
  return {
    groups,
    audit: {
      async inTransaction(_tx: SqlClient, refs: readonly string[]) {
        groups.push([...refs]);
      },
      async inTransactionGroups(_tx: SqlClient, gs: readonly (readonly string[])[]) {
        for (const g of gs) groups.push([...g]);
      },
    },
  };
}

describe.each(backends())('pushBatch undoes a refused record in memory, or to its savepoint ($name)', (backend) => {
  const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase(backend, fn);
  const count = async (db: Database, sql: string, params: unknown[] = []): Promise<number> => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;

  test('the 3rd of 5 records refused by the gate halfway through its resources: nothing of it stored, the others stored, one audit record each, ledger right, no savepoint and one version statement', async () => {
    await withDb(async (raw) => {
      const { db, log } = logging(raw);
      const gate = new ReadingGate();
      const { audit, groups } = recordingAudit();
      const deps: PushDeps = { db, validator, baseUrl: 'http://localhost/fhir', onDbError: () => {}, gate, audit };
      const items = [1, 2, 3, 4, 5].map((k) => ({ json: record('care-plan.json', k, `CP-${k}`), index: k }));
      // The third record's people: the one whose second Goal is refused (after its CarePlan and first Goal were accepted and buffered).
      const people: string[] = [];
      const goals = new Map<string, number>();
      gate.refuse = (w) => {
        if (!w.patientId) return false;
        if (!people.includes(w.patientId)) people.push(w.patientId);
        if (w.resourceType !== 'Goal') return false;
        goals.set(w.patientId, (goals.get(w.patientId) ?? 0) + 1);
        return people.indexOf(w.patientId) === 2 && goals.get(w.patientId) === 2;
      };
      const results = await pushBatch(deps, context, COUNCIL, items);
      expect(results.map((r) => [r.index, r.status, r.httpStatus])).toEqual([
        [1, 'created', 201],
        [2, 'created', 201],
        [3, 'rejected', 403],
        [4, 'created', 201],
        [5, 'created', 201],
      ]);
      const refused = people[2]!;
      expect(goals.get(refused)).toBe(2);
      expect(await count(raw, 'SELECT count(*)::int AS n FROM resource WHERE patient_id = $1', [refused])).toBe(0);
      expect(await count(raw, 'SELECT count(*)::int AS n FROM resource_version v JOIN resource r USING (resource_type, id) WHERE r.patient_id = $1', [refused])).toBe(0);
      for (const [type, n] of [['CarePlan', 4], ['Goal', 12], ['Provenance', 4]] as const) {
        expect(await count(raw, 'SELECT count(*)::int AS n FROM resource WHERE resource_type = $1', [type])).toBe(n);
        expect(await count(raw, 'SELECT count(*)::int AS n FROM resource_version WHERE resource_type = $1', [type])).toBe(n);
      }
      // No index rows of what was dropped: every index row belongs to a stored resource.
      expect(await count(raw, 'SELECT count(*)::int AS n FROM sp_token t WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.resource_type = t.resource_type AND r.id = t.id)')).toBe(0);
      const ledger = await raw.query<{ record_id: string; resources: string[] }>('SELECT record_id, resources FROM council_record ORDER BY record_id');
      expect(ledger.rows.map((r) => r.record_id)).toEqual(['CP-1', 'CP-2', 'CP-4', 'CP-5']);
      // One audit group per stored record: its four resources and its Provenance.
      expect(groups).toHaveLength(4);
      for (const [n, g] of groups.entries()) {
        expect(g.filter((r) => r.startsWith('Goal/'))).toHaveLength(3);
        expect(g.filter((r) => r.startsWith('Provenance/'))).toHaveLength(1);
        expect(g).toEqual(expect.arrayContaining(results[[0, 1, 3, 4][n]!]!.resources));
      }
      // The refused record was dropped in memory: no savepoint, and the batch's versions went in one statement.
      expect(log.filter((t) => /SAVEPOINT/.test(t))).toEqual([]);
      expect(log.filter((t) => t.includes('INSERT INTO resource_version'))).toHaveLength(1);

      // Sent again without the refusal: the four are unchanged (no new version), the third is created.
      gate.refuse = () => false;
      const again = await pushBatch(deps, context, COUNCIL, items);
      expect(again.map((r) => r.status)).toEqual(['unchanged', 'unchanged', 'created', 'unchanged', 'unchanged']);
      expect(await count(raw, "SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Goal'")).toBe(15);
      expect(await count(raw, 'SELECT count(*)::int AS n FROM council_record')).toBe(5);
    });
  });

  test('a tombstone whose retire step made its first retired version reach the database, then refused: rolled back to its savepoint, the rest of the batch stored', async () => {
    await withDb(async (raw) => {
      const { db, log } = logging(raw);
      const gate = new ReadingGate();
      const { audit, groups } = recordingAudit();
      const deps: PushDeps = { db, validator, baseUrl: 'http://localhost/fhir', onDbError: () => {}, gate, audit };
      const doomed = record('person.json', 10, 'PER-10', '2026-03-01T09:00:00Z');
      const first = await pushBatch(deps, context, COUNCIL, [{ json: doomed, index: 0 }]);
      expect(first[0]!.status).toBe('created');
      const patient = first[0]!.resources.find((r) => r.startsWith('Patient/'))!;
      expect(first[0]!.resources).toHaveLength(2); // a Patient and a Condition to retire
      const patientId = patient.split('/')[1]!;

      // Refuse only the tombstone's Provenance: by then both retired versions are written (the second read forced the first out).
      gate.refuse = (w) => w.resourceType === 'Provenance' && w.patientId === patientId;
      groups.length = 0;
      log.length = 0;
      const items = [record('person.json', 11, 'PER-11'), tombstone(doomed, '2026-03-02T09:00:00Z'), record('person.json', 12, 'PER-12')].map((json, i) => ({ json, index: i }));
      const results = await pushBatch(deps, context, COUNCIL, items);
      expect(results.map((r) => [r.status, r.httpStatus])).toEqual([
        ['created', 201],
        ['rejected', 403],
        ['created', 201],
      ]);
      expect(log.some((t) => /(^|; )SAVEPOINT council_record$/.test(t))).toBe(true);
      expect(log.some((t) => t.startsWith('ROLLBACK TO SAVEPOINT council_record'))).toBe(true);
      // Nothing of the tombstone: the person is still active at version 1, both resources unretired, the ledger not deleted.
      for (const ref of first[0]!.resources) {
        const [type, id] = ref.split('/');
        const row = await raw.query<{ version_id: number; content: string }>('SELECT version_id, content FROM resource WHERE resource_type = $1 AND id = $2', [type, id]);
        expect(row.rows[0]!.version_id).toBe(1);
        expect(await count(raw, 'SELECT count(*)::int AS n FROM resource_version WHERE resource_type = $1 AND id = $2', [type, id])).toBe(1);
      }
      const content = await raw.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'Patient' AND id = $1", [patientId]);
      expect(JSON.parse(content.rows[0]!.content).active).not.toBe(false);
      expect(await count(raw, "SELECT count(*)::int AS n FROM council_record WHERE record_id = 'PER-10' AND NOT deleted")).toBe(1);
      expect(await count(raw, "SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Provenance'")).toBe(3);
      // The records around it: stored, one audit group each.
      expect(await count(raw, "SELECT count(*)::int AS n FROM council_record WHERE record_id IN ('PER-11', 'PER-12')")).toBe(2);
      expect(groups).toHaveLength(2);
      expect(groups.map((g) => g.filter((r) => r.startsWith('Patient/')))).toEqual([results[0]!.resources.filter((r) => r.startsWith('Patient/')), results[2]!.resources.filter((r) => r.startsWith('Patient/'))]);

      // The same tombstone, allowed: retired.
      gate.refuse = () => false;
      const retried = await pushBatch(deps, context, COUNCIL, [{ json: tombstone(doomed, '2026-03-02T09:00:00Z'), index: 0 }]);
      expect(retried[0]!.status).toBe('deleted');
      const after = await raw.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'Patient' AND id = $1", [patientId]);
      expect(JSON.parse(after.rows[0]!.content).active).toBe(false);
    });
  });

  test('a record failing other than by refusal with nothing to roll back to: the batch is given up and its records pushed again alone, nothing lost', async () => {
    await withDb(async (raw) => {
      const { db, log } = logging(raw);
      const gate = new ReadingGate();
      const { audit, groups } = recordingAudit();
      const deps: PushDeps = { db, validator, baseUrl: 'http://localhost/fhir', onDbError: () => {}, gate, audit };
      const people: string[] = [];
      // Not an OperationOutcome: a failure of the store, not a refusal of the record (its transaction may be aborted).
      gate.refuse = (w) => {
        if (w.patientId && !people.includes(w.patientId)) people.push(w.patientId);
        if (w.patientId === people[1]) throw new Error('gate store unavailable');
        return false;
      };
      const items = [1, 2, 3].map((k) => ({ json: record('person.json', 30 + k, `PER-3${k}`), index: k }));
      const results = await pushBatch(deps, context, COUNCIL, items);
      expect(results.map((r) => [r.status, r.httpStatus])).toEqual([
        ['created', 201],
        ['rejected', 500],
        ['created', 201],
      ]);
      // The batch's transaction stored nothing; each record then had one of its own.
      expect(log.filter((t) => t.includes('INSERT INTO resource_version'))).toHaveLength(2);
      expect(await count(raw, "SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Patient'")).toBe(2);
      expect(await count(raw, 'SELECT count(*)::int AS n FROM council_record')).toBe(2);
      expect(groups).toHaveLength(2);
    });
  });

  test('two imports at once over the same records, and over the same people through different records: every record answered, each stored once, nothing lost', async () => {
    await withDb(async (db) => {
      const { audit, groups } = recordingAudit();
      const deps: PushDeps = { db, validator, baseUrl: 'http://localhost/fhir', onDbError: () => {}, audit };
      const seeds = [20, 21, 22, 23, 24];
      // Same records in both batches (opposite orders): each created by one and unchanged for the other.
      const same = seeds.map((k) => record('person.json', k, `SAME-${k}`));
      // Different records (two source systems' ids) about the same people: both write the same Patient and Condition.
      const a = seeds.map((k) => record('person.json', k + 10, `A-${k}`));
      const b = seeds.map((k) => record('person.json', k + 10, `B-${k}`)).reverse();
      const batchA = [...same, ...a].map((json, i) => ({ json, index: i }));
      const batchB = [...[...same].reverse(), ...b].map((json, i) => ({ json, index: i }));
      const [ra, rb] = await Promise.all([pushBatch(deps, context, COUNCIL, batchA), pushBatch(deps, context, COUNCIL, batchB)]);
      const all = [...ra, ...rb];
      expect(all.filter((r) => r.status === 'rejected')).toEqual([]);
      // The same record: created exactly once across the two imports.
      for (const k of seeds) {
        const statuses = [ra[seeds.indexOf(k)]!.status, rb[4 - seeds.indexOf(k)]!.status].sort();
        expect(statuses).toEqual(['created', 'unchanged']);
      }
      expect(await count(db, 'SELECT count(*)::int AS n FROM council_record')).toBe(15);
      // Every resource's history is whole: versions 1..n, the current row at n, and no version twice.
      expect(
        await count(
          db,
          `SELECT count(*)::int AS n FROM resource r
            WHERE r.version_id <> (SELECT max(version_id) FROM resource_version v WHERE v.resource_type = r.resource_type AND v.id = r.id)
               OR r.version_id <> (SELECT count(*) FROM resource_version v WHERE v.resource_type = r.resource_type AND v.id = r.id)`
        )
      ).toBe(0);
      expect(await count(db, "SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'")).toBe(10);
      // One audit group per record that wrote or confirmed something (every one of them), none twice.
      expect(groups).toHaveLength(20);
    });
  });

  test('a duplicate assessment noticed by the joint-work rule, then its record refused: the noticed duplicate goes with it; assessments of other people need no flush', async () => {
    await withDb(async (raw) => {
      const { db, log } = logging(raw);
      const gate = new ReadingGate();
      const { audit } = recordingAudit();
      const deps: PushDeps = { db, validator, baseUrl: 'http://localhost/fhir', onDbError: () => {}, gate, audit, writeRules: jointWorkRules() };
      // After the example assessment's dates (a Task's lastModified may not precede its authoredOn).
      const LATER = '2026-11-20T10:00:00Z';
      // Five people's assessments in one batch: each Task's duplicate check reads only that person's Tasks, so the batch's versions go in one statement.
      const firsts = [1, 2, 3, 4, 5].map((k) => ({ json: record('assessment.json', 20 + k, `AS-${k}`, LATER), index: k }));
      const stored = await pushBatch(deps, context, COUNCIL, firsts);
      expect(stored.map((r) => r.status)).toEqual(['created', 'created', 'created', 'created', 'created']);
      expect(log.filter((t) => t.includes('INSERT INTO resource_version'))).toHaveLength(1);
      expect(log.filter((t) => /SAVEPOINT/.test(t))).toEqual([]);

      // A second assessment of the same kind for person 21 (a duplicate), refused at its last resource (its Provenance).
      const taskOwner = (await raw.query<{ patient_id: string }>("SELECT patient_id FROM resource WHERE resource_type = 'Task' AND id = $1", [stored[0]!.resources.find((r) => r.startsWith('Task/'))!.split('/')[1]])).rows[0]!.patient_id;
      expect(taskOwner).toBeTruthy();
      gate.refuse = (w) => w.resourceType === 'Provenance' && w.patientId === taskOwner;
      const dup = { json: record('assessment.json', 21, 'AS-1b', LATER), index: 6 };
      const other = { json: record('assessment.json', 30, 'AS-9', LATER), index: 7 };
      const refused = await pushBatch(deps, context, COUNCIL, [dup, other]);
      expect(refused.map((r) => r.status)).toEqual(['rejected', 'created']);
      expect(await count(raw, 'SELECT count(*)::int AS n FROM joint_work_duplicate')).toBe(0);
      expect(await count(raw, "SELECT count(*)::int AS n FROM council_record WHERE record_id = 'AS-1b'")).toBe(0);

      // Allowed: stored, and the duplicate noticed once.
      gate.refuse = () => false;
      const again = await pushBatch(deps, context, COUNCIL, [dup]);
      expect(again[0]!.status).toBe('created');
      expect(await count(raw, 'SELECT count(*)::int AS n FROM joint_work_duplicate WHERE patient_id = $1', [taskOwner])).toBe(1);
    });
  });
});
