import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { runImport } from '../../src/council/import/run-import.ts';
import type { ImportLineResult } from '../../src/council/import/run-import.ts';
import type { NdjsonLine } from '../../src/council/import/ndjson-lines.ts';
import { BatchGate, FACT_TYPES } from '../../src/council/push/batch-gate.ts';
import { pushBatch } from '../../src/council/push/push-batch.ts';
import type { PushResult } from '../../src/council/push/push-outcome.ts';
import type { Database, SqlClient } from '../../src/db/sql-client.ts';
import type { AccessGate, LabelRow, WriteCheck } from '../../src/fhir/repo/gate-port.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { backends, withDatabase } from '../support/backends.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const EXAMPLES = join(import.meta.dirname, '../../docs/examples/council');
const example = (name: string): any => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8'));
const COUNCIL = 'X9C01';
const context = { requestId: 'batch-test', authMode: 'smart' as const };

function person(seed: number, lastUpdated = '2026-01-10T10:00:00Z', family = `Batchperson${seed}`): any {
  const base = example('person.json');
  return {
    ...base,
    source: { ...base.source, recordId: `BAT-${seed}`, lastUpdated },
    person: { localId: `LOC-B${seed}`, nhsNumber: makeTestNhsNumber(30_000 + seed) },
    name: { ...base.name, family },
  };
}

/** The real validator, refusing any Patient named "Refusedperson" (a failure only the store sees). */
function validator() {
  const real = createValidator();
  return {
    validate(r: Resource): OperationOutcomeIssue[] {
      if (r.resourceType === 'Patient' && r.name?.[0]?.family === 'Refusedperson') {
        return [{ severity: 'error', code: 'invalid', details: { text: 'refused by the test' }, expression: ['Patient.name[0].family'] }];
      }
      return real.validate(r);
    },
  };
}

describe.each(backends())('pushBatch ($name)', (backend) => {
  const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase(backend, fn);
  const count = async (db: Database, sql: string): Promise<number> => (await db.query<{ n: number }>(sql)).rows[0]!.n;

  test('one transaction for the batch, a savepoint per record: a record the store refuses loses nothing else; each good record audited on its own, in the transaction', async () => {
    await withDb(async (db) => {
      const audited: { refs: string[]; inTx: number }[] = [];
      const audit = {
        async inTransaction(tx: SqlClient, refs: readonly string[]) {
          // The audit runs inside the batch's transaction: it sees the rows the batch wrote.
          const n = (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM council_record`)).rows[0]!.n;
          audited.push({ refs: [...refs], inTx: n });
        },
      };
      const deps = { db, validator: validator(), baseUrl: 'http://localhost/fhir', onDbError: () => {}, audit };
      const v1 = person(1, '2026-02-01T09:00:00Z');
      const v2 = person(1, '2026-02-02T09:00:00Z', 'Secondversion');
      const items = [v1, person(2, undefined, 'Refusedperson'), { recordType: 'person' }, person(3), v2, v1].map((json, i) => ({ json, index: i + 1 }));
      const results = await pushBatch(deps, context, COUNCIL, items);
      expect(results.map((r) => [r.index, r.status, r.httpStatus])).toEqual([
        [1, 'created', 201],
        [2, 'rejected', 422],
        [3, 'rejected', 400],
        [4, 'created', 201],
        [5, 'updated', 200],
        [6, 'rejected', 409],
      ]);
      expect(results[1]!.issues!.issue![0]!.expression).toEqual(['Patient.name[0].family']);
      expect(await count(db, `SELECT count(*)::int AS n FROM council_record`)).toBe(2);
      // The refused record left nothing: no resource of person 2.
      expect(await count(db, `SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).toBe(2);
      expect(await count(db, `SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Patient' AND content LIKE '%Secondversion%'`)).toBe(1);
      // One audit call per stored record (the 409 wrote nothing), after all of them were applied.
      expect(audited.map((a) => a.refs.filter((r) => r.startsWith('Patient/')).length)).toEqual([1, 1, 1]);
      expect(audited.every((a) => a.inTx === 2)).toBe(true);
      // A re-push of the same batch is unchanged and makes no version.
      const versions = await count(db, 'SELECT count(*)::int AS n FROM resource_version');
      const again = await pushBatch(deps, context, COUNCIL, [person(3), v2].map((json, i) => ({ json, index: i })));
      expect(again.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
      expect(await count(db, 'SELECT count(*)::int AS n FROM resource_version')).toBe(versions);
    });
  });

  test('a batch whose transaction fails as a whole (its audit append fails) is pushed again record by record: nothing lost, nothing doubled', async () => {
    await withDb(async (db) => {
      let failures = 1;
      const calls: string[][] = [];
      const audit = {
        async inTransaction(_tx: SqlClient, refs: readonly string[]) {
          if (failures-- > 0) throw new Error('audit store unavailable');
          calls.push([...refs]);
        },
      };
      const deps = { db, validator: validator(), baseUrl: 'http://localhost/fhir', onDbError: () => {}, audit };
      const results = await pushBatch(deps, context, COUNCIL, [person(10), person(11, undefined, 'Refusedperson'), person(12)].map((json, i) => ({ json, index: i })));
      expect(results.map((r) => r.status)).toEqual(['created', 'rejected', 'created']);
      expect(await count(db, `SELECT count(*)::int AS n FROM council_record`)).toBe(2);
      expect(await count(db, `SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Patient'`)).toBe(2);
      expect(await count(db, `SELECT count(*)::int AS n FROM resource_version WHERE resource_type = 'Provenance'`)).toBe(2);
      expect(calls).toHaveLength(2);
    });
  });

  test('a tombstone in a batch retires what an earlier record of the same batch created', async () => {
    await withDb(async (db) => {
      const deps = { db, validator: validator(), baseUrl: 'http://localhost/fhir', onDbError: () => {} };
      const live = person(20, '2026-03-01T09:00:00Z');
      const tomb = { formatVersion: '1', recordType: 'person', deleted: true, source: { ...live.source, lastUpdated: '2026-03-02T09:00:00Z' }, person: live.person };
      const results = await pushBatch(deps, context, COUNCIL, [live, tomb].map((json, i) => ({ json, index: i })));
      expect(results.map((r) => r.status)).toEqual(['created', 'deleted']);
      const patient = await db.query<{ content: string }>(`SELECT content FROM resource WHERE resource_type = 'Patient'`);
      expect(JSON.parse(patient.rows[0]!.content).active).toBe(false);
    });
  });
});

describe('runImport in batches', () => {
  async function* lines(texts: string[], pauseAfter?: number, pause?: Promise<void>): AsyncGenerator<NdjsonLine> {
    for (const [i, text] of texts.entries()) {
      yield { line: i + 1, text };
      if (i + 1 === pauseAfter && pause) await pause;
    }
  }
  const rec = (id: string, n: number) => JSON.stringify({ recordType: 'person', source: { system: 's', recordId: id }, n });
  const ok = (index: number): PushResult => ({ index, status: 'created', httpStatus: 201, resources: [] });

  test('cuts the stream into batches, answers every line in order, and never runs two batches holding one record at once', async () => {
    const batches: number[][] = [];
    let running = new Set<string>();
    const clash: string[] = [];
    const texts = [rec('a', 1), rec('b', 1), 'not json', rec('c', 1), rec('a', 2), '', rec('d', 1), rec('a', 3)];
    const written: ImportLineResult[] = [];
    const summary = await runImport(lines(texts), {
      batchSize: 2,
      window: 3,
      maxLineBytes: 1000,
      write: async (r) => void written.push(r),
      pushBatch: async (items) => {
        batches.push(items.map((x) => x.index));
        const ids = items.map((x) => (x.json as any).source.recordId as string);
        for (const id of ids) if (running.has(id)) clash.push(id);
        running = new Set([...running, ...ids]);
        await new Promise((r) => setTimeout(r, 5));
        for (const id of ids) running.delete(id);
        return items.map((x) => ok(x.index));
      },
    });
    expect(written.map((r) => [r.line, r.status])).toEqual([
      [1, 'created'],
      [2, 'created'],
      [3, 'rejected'],
      [4, 'created'],
      [5, 'created'],
      [7, 'created'],
      [8, 'created'],
    ]);
    expect(batches).toEqual([[1, 2], [4], [5, 7], [8]]);
    expect(clash).toEqual([]);
    expect(summary).toEqual({ lines: 7, created: 6, updated: 0, unchanged: 0, deleted: 0, rejected: 1 });
  });

  test('a part-filled batch starts when the source pauses, so a client waiting for answers gets them', async () => {
    let release!: () => void;
    const pause = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const done = runImport(lines([rec('a', 1), rec('b', 1), rec('c', 1)], 2, pause), {
      batchSize: 50,
      window: 2,
      flushMs: 5,
      maxLineBytes: 1000,
      write: async (r) => {
        written.push(r.line);
        if (r.line === 2) release();
      },
      pushBatch: async (items) => items.map((x) => ok(x.index)),
    });
    expect((await done).lines).toBe(3);
    expect(written).toEqual([1, 2, 3]);
  });
});

describe('BatchGate', () => {
  class Inner implements AccessGate {
    invalidated: string[][] = [];
    async filter<T extends LabelRow>(_sql: SqlClient, rows: readonly T[]): Promise<T[]> {
      return [...rows];
    }
    async checkWrite(_sql: SqlClient, _w: WriteCheck): Promise<void> {}
    changed(ids: readonly string[]): void {
      this.invalidated.push([...ids]);
    }
    committed(): void {}
  }
  const sql = {} as SqlClient;

  test('drops cached facts after fact-bearing writes and the first write by the council for a person; not after its other writes', async () => {
    const inner = new Inner();
    const gate = new BatchGate(inner, COUNCIL);
    const write = async (resourceType: string, controller?: string) => {
      await gate.checkWrite(sql, { resourceType, id: 'x', patientId: 'p1', ...(controller ? { controller } : {}) });
      gate.changed(['p1']);
    };
    await write('Goal'); // first write of p1 by the council: the set of record holders may change
    await write('Goal');
    await write('Provenance');
    await write('CarePlan'); // a fact-bearing type
    await write('Condition', 'X99OTHER'); // controlled by another organisation
    await write('Condition');
    expect(inner.invalidated).toEqual([['p1'], ['p1'], ['p1']]);
    gate.startRecord();
    await gate.checkWrite(sql, { resourceType: 'Goal', id: 'y', patientId: 'p2' });
    gate.recordRolledBack();
    // The rolled-back record's people are dropped, and what was known about holders forgotten.
    expect(inner.invalidated.at(-1)).toEqual(['p2']);
    await write('Goal');
    expect(inner.invalidated.at(-1)).toEqual(['p1']);
  });

  test('FACT_TYPES is the list the gate loads facts from', () => {
    const src = readFileSync(join(import.meta.dirname, '../../src/gate/facts/load-facts.ts'), 'utf8');
    const m = /const FACT_TYPES = \[([^\]]*)\]/.exec(src);
    expect(m).not.toBeNull();
    const types = [...m![1]!.matchAll(/'([A-Za-z]+)'/g)].map((x) => x[1]);
    expect(new Set(types)).toEqual(new Set(FACT_TYPES));
  });
});
