import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Consent, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, test } from 'vitest';
import { auditEventOf } from '../../src/audit/stored-event.ts';
import { parseCouncilRecord } from '../../src/council/format/index.ts';
import { BatchGate } from '../../src/council/push/batch-gate.ts';
import type { SqlClient } from '../../src/db/sql-client.ts';
import type { AccessGate, LabelRow, WriteCheck } from '../../src/fhir/repo/gate-port.ts';
import { writeVersion } from '../../src/fhir/repo/write-version.ts';
import { loadBaseSchema } from '../../src/fhir/schema.ts';
import { emptyFacts, factsAfterCreate, loadPersonFacts, nhsNumbersOf, optedOutAmong } from '../../src/gate/facts/load-facts.ts';
import { resourceLabels } from '../../src/gate/labels/resource-labels.ts';
import type { PersonFacts } from '../../src/gate/types.ts';
import { DEFAULT_FORMAT, mapRecord } from '../../src/mapping/map-record.ts';
import { getMappingRegistry } from '../../src/mapping/mapping-registry.ts';
import { backends } from '../support/backends.ts';
import type { AuditBatcher } from '../../src/audit/audit-batcher.ts';
import { ExchangeAudit } from '../../src/audit/exchange-audit.ts';
import type { DecisionSource } from '../../src/audit/exchange-audit.ts';
import type { Database } from '../../src/db/sql-client.ts';
import type { RecordedDecision } from '../../src/gate/enforce/access-gate.ts';
import type { Decision } from '../../src/gate/types.ts';

// The example records of docs/examples/council: synthetic people, NHS numbers from the 999 test range.
const EXAMPLES = join(import.meta.dirname, '../../docs/examples/council');
const COUNCIL = 'X9C01';
const BASE = 'https://joinedup.example/fhir';

/** Every live example record mapped to FHIR, Patients first. */
function mappedExamples(): Resource[] {
  loadBaseSchema();
  const registry = getMappingRegistry();
  const out: Resource[] = [];
  for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith('.json')).sort()) {
    const parsed = parseCouncilRecord(JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')));
    if (!parsed.ok || (parsed.record as { deleted?: boolean }).deleted || !registry.get(DEFAULT_FORMAT, parsed.record.recordType)) continue;
    const m = mapRecord(parsed.record, parsed.record.recordType, { councilOds: COUNCIL, receivedAt: '2026-11-21T09:00:00Z', format: DEFAULT_FORMAT }, { registry, validator: false });
    out.push(...m.resources);
  }
  return out.sort((a, b) => Number(b.resourceType === 'Patient') - Number(a.resourceType === 'Patient'));
}

/** Facts compare as sets: the store returns rows in no particular order. */
function normal(f: PersonFacts | undefined): unknown {
  if (!f) return f;
  const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
  return {
    ...f,
    registeredGp: sorted(f.registeredGp),
    careTeamOrgs: sorted(f.careTeamOrgs),
    referralOrgs: sorted(f.referralOrgs),
    recordHolders: sorted(f.recordHolders),
    servicesArrangedBy: sorted(f.servicesArrangedBy),
    consents: sorted(f.consents),
    openSafeguarding: sorted(f.openSafeguarding),
    breakGlass: sorted(f.breakGlass),
  };
}

describe.each(backends())('facts after a create, in memory ($name)', (backend) => {
  test('are what the store reads back after the write, for every mapped example resource', async () => {
    const db = await backend.open();
    try {
      const resources = mappedExamples();
      expect(resources.some((r) => r.resourceType === 'Consent')).toBe(true);
      // One example person opted out of the national data opt-out, the rest not: both ways of a Patient's create.
      const patients = resources.filter((r): r is Patient => r.resourceType === 'Patient');
      const optedOutNumber = nhsNumbersOf(patients[0]!)[0]!;
      await db.query('INSERT INTO data_opt_out (nhs_number, opted_out) VALUES ($1, true)', [optedOutNumber]);
      let checked = 0;
      let patientsChecked = 0;
      for (const r of resources) {
        const patientId = resourceLabels(r, BASE).patientId;
        if (!patientId || !r.id) continue;
        const before = (await loadPersonFacts(db, [patientId])).get(patientId)!;
        const labels = resourceLabels(r, BASE);
        await writeVersion(db, r as Resource & { id: string }, 1, '2026-11-21T09:00:00.000Z', 'create', BASE, COUNCIL);
        const after = (await loadPersonFacts(db, [patientId])).get(patientId);
        if (r.resourceType === 'Patient') {
          // Without the opt-out status read beforehand only the store can say; with it, the same facts.
          expect(factsAfterCreate(before, r, COUNCIL)).toBeUndefined();
          const optedOut = await optedOutAmong(db, nhsNumbersOf(r as Patient));
          expect(normal(factsAfterCreate(before, r, COUNCIL, optedOut)), `${r.resourceType}/${r.id}`).toEqual(normal(after));
          if (nhsNumbersOf(r as Patient).includes(optedOutNumber)) expect(after?.nationalDataOptOut).toBe(true);
          patientsChecked++;
          continue;
        }
        const untouched = structuredClone(before);
        const inMemory = factsAfterCreate(before, r, COUNCIL);
        // The facts it started from (the shared cache's) are left as they were.
        expect(before).toEqual(untouched);
        expect(labels.patientId).toBe(patientId);
        expect(normal(inMemory), `${r.resourceType}/${r.id}`).toEqual(normal(after));
        checked++;
      }
      expect(checked).toBeGreaterThan(10);
      expect(patientsChecked).toBeGreaterThan(1);
    } finally {
      await db.close();
    }
  });
});

describe('BatchGate: facts brought up to date in memory', () => {
  /** A gate recording which facts it was handed and which invalidations it got. */
  class Inner implements AccessGate {
    known: (ReadonlyMap<string, PersonFacts> | undefined)[] = [];
    invalidated: string[][] = [];
    async filter<T extends LabelRow>(_sql: SqlClient, rows: readonly T[]): Promise<T[]> {
      return [...rows];
    }
    async checkWrite(): Promise<void> {}
    async checkWriteKnowing(_sql: SqlClient, w: WriteCheck, known?: ReadonlyMap<string, PersonFacts>): Promise<ReadonlyMap<string, PersonFacts>> {
      this.known.push(known ? new Map(known) : undefined);
      const id = w.patientId!;
      return new Map([[id, known?.get(id) ?? emptyFacts(id)]]);
    }
    changed(ids: readonly string[]): void {
      this.invalidated.push([...ids]);
    }
    committed(): void {}
  }
  const sql = {} as SqlClient;
  const consent: Consent & { id: string } = {
    resourceType: 'Consent',
    id: 'c1',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/p1' },
    dateTime: '2026-01-10T10:00:00Z',
    provision: { type: 'permit' },
  };

  test('a create is applied to the facts its own write was decided on; the shared cache is still told', async () => {
    const inner = new Inner();
    const gate = new BatchGate(inner, COUNCIL);
    await gate.checkWrite(sql, { resourceType: 'Consent', id: 'c1', patientId: 'p1' });
    gate.changed(['p1'], consent);
    expect(inner.invalidated).toEqual([['p1']]);
    await gate.checkWrite(sql, { resourceType: 'Goal', id: 'g1', patientId: 'p1' });
    const handed = inner.known.at(-1)?.get('p1');
    expect(handed?.recordHolders).toEqual([COUNCIL]);
    expect(handed).toEqual(factsAfterCreate(emptyFacts('p1'), consent, COUNCIL));
  });

  test('an update, a Patient, a rolled-back record and a commit each drop what was known', async () => {
    const inner = new Inner();
    const gate = new BatchGate(inner, COUNCIL);
    const create = async (r: Resource & { id: string }) => {
      await gate.checkWrite(sql, { resourceType: r.resourceType, id: r.id, patientId: 'p1' });
      gate.changed(['p1'], r);
    };
    const knownNow = async () => {
      await gate.checkWrite(sql, { resourceType: 'Goal', id: 'probe', patientId: 'p1' });
      gate.changed(['p1']); // an update of a non-fact type by the council: nothing known is dropped
      return inner.known.at(-1)?.has('p1') ?? false;
    };
    await create(consent);
    expect(await knownNow()).toBe(true);
    await gate.checkWrite(sql, { resourceType: 'Consent', id: 'c1', patientId: 'p1', controller: COUNCIL });
    gate.changed(['p1']); // an update of a fact-bearing resource
    expect(await knownNow()).toBe(false);
    // A Patient whose NHS number's opt-out status was not read: only the store can say.
    const patient: Patient & { id: string } = { resourceType: 'Patient', id: 'p1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }] };
    await create(patient);
    expect(await knownNow()).toBe(false);
    // Read beforehand (one query, as pushBatch does for its Patients): worked out in memory.
    const optOuts = { query: async () => ({ rows: [{ nhs_number: '9990000018' }] }) } as unknown as SqlClient;
    await gate.readOptOuts(optOuts, ['9990000018']);
    await create(patient);
    expect(await knownNow()).toBe(true);
    expect(inner.known.at(-1)?.get('p1')?.nationalDataOptOut).toBe(true);
    await gate.checkWrite(sql, { resourceType: 'Consent', id: 'c1', patientId: 'p1', controller: COUNCIL });
    gate.changed(['p1']);
    expect(await knownNow()).toBe(false);
    await create(consent);
    gate.startRecord();
    await create({ ...consent, id: 'c2' });
    gate.recordRolledBack();
    expect(await knownNow()).toBe(false);
    await create(consent);
    gate.committed();
    expect(await knownNow()).toBe(false);
  });
});

describe.each(backends())('one audit append per batch ($name)', (backend) => {
  test('inTransactionGroups stores what inTransaction stores group by group: each record its own audit record(s)', async () => {
    const permit: Decision = { outcome: 'permit', rules: [], reliedOn: {}, obligations: [], explanation: 'permitted by the test' };
    const groups = [['Patient/pa', 'Provenance/va'], ['Patient/pb', 'Goal/gb', 'Provenance/vb'], ['Organization/oc']];
    /** Decisions as the gate records them: one per written resource, about its person. */
    const source = (): DecisionSource & { decisions: RecordedDecision[] } => {
      const decisions: RecordedDecision[] = groups.flat().flatMap((ref) => {
        const person = /^(?:Patient|Goal|Provenance)\/.(.)$/.exec(ref)?.[1];
        return person ? [{ ref, patientId: `p${person}`, operation: 'write' as const, decision: permit }] : [];
      });
      return {
        decisions,
        take(refs?: ReadonlySet<string>) {
          const taken = decisions.filter((d) => !refs || refs.has(d.ref));
          for (const d of taken) decisions.splice(decisions.indexOf(d), 1);
          return taken;
        },
      };
    };
    const context = { requestId: 'audit-groups', authMode: 'smart' as const };
    const stored = async (db: Database) =>
      (await db.query<{ patient_id: string | null; outcome: string; content: string }>('SELECT patient_id, outcome, content FROM audit_event ORDER BY seq')).rows.map((r) => {
        const event = auditEventOf(r.content);
        return { patient: r.patient_id, outcome: r.outcome, entities: (event.entity ?? []).map((e) => e.what?.reference).filter(Boolean) };
      });

    const one = await backend.open();
    const many = await backend.open();
    try {
      const a = new ExchangeAudit({} as AuditBatcher, context, 'update', source());
      await one.transaction(async (tx) => {
        for (const g of groups) await a.inTransaction(tx, g);
      });
      const b = new ExchangeAudit({} as AuditBatcher, context, 'update', source());
      await many.transaction(async (tx) => b.inTransactionGroups(tx, groups));
      const expected = await stored(one);
      expect(expected.map((r) => r.patient)).toEqual(['pa', 'pb', null]);
      expect(expected[1]!.entities).toEqual(expect.arrayContaining(['Patient/pb', 'Goal/gb', 'Provenance/vb']));
      expect(await stored(many)).toEqual(expected);
    } finally {
      await one.close();
      await many.close();
    }
  });
});
