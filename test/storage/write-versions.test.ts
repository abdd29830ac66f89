import type { Provenance, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { loadBaseSchema } from '../../src/fhir/schema.ts';
import { writeVersion } from '../../src/fhir/repo/write-version.ts';
import { writeVersions } from '../../src/fhir/repo/write-versions.ts';
import { resourceLabels } from '../../src/gate/labels/resource-labels.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';

const BASE = 'https://joinedup.example/fhir';
const AT = '2026-11-21T10:00:00.000Z';
const AT2 = '2026-11-21T11:00:00.000Z';

/** The same resources under ids ending in `suffix`, so both writers' rows can be compared side by side. */
function resources(suffix: string, changed: boolean): (Resource & { id: string })[] {
  const patient = { ...testPatient(801), id: `p-${suffix}`, ...(changed ? { gender: 'female' as const } : {}) };
  const plan = { ...testCarePlan(patient.id), id: `cp-${suffix}`, ...(changed ? { title: 'Reablement, second week' } : { title: 'Reablement' }) };
  const goal: Resource & { id: string } = {
    resourceType: 'Goal',
    id: `g-${suffix}`,
    lifecycleStatus: 'active',
    description: { text: changed ? 'Walk to the shop' : 'Make a hot drink' },
    subject: { reference: `Patient/${patient.id}` },
  };
  return [patient, plan, goal];
}

/** A Provenance targeting only a CarePlan: its labels come from that target. */
function provenance(suffix: string): Provenance & { id: string } {
  return { resourceType: 'Provenance', id: `prov-${suffix}`, target: [{ reference: `CarePlan/cp-${suffix}` }], recorded: AT, agent: [{ who: { display: 'Council' } }] };
}

async function rows(db: Database, suffix: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  const strip = (v: unknown): unknown => (typeof v === 'string' ? v.replaceAll(`-${suffix}`, '-X') : v);
  const tables = {
    resource: 'resource_type, id, version_id, last_updated, deleted, content, patient_id, data_class, controller, third_party',
    resource_version: 'resource_type, id, version_id, last_updated, method, deleted, content',
    sp_token: 'resource_type, id, code, system, value',
    sp_string: 'resource_type, id, code, value, exact',
    sp_reference: 'resource_type, id, code, target_type, target_id, reference, ident_system, ident_value',
    sp_date: 'resource_type, id, code, low, high',
  };
  for (const [table, cols] of Object.entries(tables)) {
    const r = await db.query<Record<string, unknown>>(`SELECT ${cols} FROM ${table} WHERE id LIKE $1 ORDER BY ${cols}`, [`%-${suffix}`]);
    out[table] = r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, strip(v instanceof Date ? v.toISOString() : v)])));
  }
  return out;
}

describe.each(backends())('writeVersions ($name)', (backend) => {
  let db: Database;
  beforeAll(async () => {
    loadBaseSchema();
    db = await backend.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  test('stores exactly what writeVersion stores, one version at a time, for creates and updates', async () => {
    // One at a time (the FHIR API's path).
    for (const [version, at, changed] of [[1, AT, false], [2, AT2, true]] as const) {
      for (const r of resources('wva', changed)) await writeVersion(db, r, version, at, version === 1 ? 'create' : 'update', BASE, 'X9C01');
      await writeVersion(db, { ...provenance('wva'), id: `prov${version}-wva` }, 1, at, 'create', BASE, 'X9C01');
    }
    // All of a version in one statement, labels passed in (the import's path).
    for (const [version, at, changed] of [[1, AT, false], [2, AT2, true]] as const) {
      const batch = resources('wvb', changed).map((r) => {
        const l = resourceLabels(r, BASE);
        return { resource: r, versionId: version, lastUpdated: at, method: version === 1 ? ('create' as const) : ('update' as const), patientId: l.patientId, dataClass: l.dataClass, controller: 'X9C01' };
      });
      const plan = (await db.query<{ patient_id: string | null; data_class: string | null }>("SELECT patient_id, data_class FROM resource WHERE resource_type = 'CarePlan' AND id = 'cp-wvb'")).rows[0];
      const fromTarget = plan ?? { patient_id: 'p-wvb', data_class: 'care-plan' };
      await writeVersions(db, [
        ...batch,
        { resource: { ...provenance('wvb'), id: `prov${version}-wvb` }, versionId: 1, lastUpdated: at, method: 'create', patientId: fromTarget.patient_id ?? undefined, dataClass: fromTarget.data_class ?? undefined, controller: 'X9C01' },
      ], BASE);
    }
    const a = await rows(db, 'wva');
    const b = await rows(db, 'wvb');
    expect(a.resource).toHaveLength(5);
    expect(a.resource_version).toHaveLength(8);
    // The update replaced the index rows: the old goal text is gone, the new one is there.
    expect(a.sp_string!.some((r) => String((r as { value: string }).value).includes('hot drink'))).toBe(false);
    expect(a.sp_reference!.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  test('a failing row fails the whole statement: nothing of it is stored', async () => {
    const [patient] = resources('wvc', false);
    await writeVersion(db, patient!, 1, AT, 'create', BASE);
    // Version 1 again for the Patient collides with the stored history row; the Goal beside it must not be stored either.
    const goal = resources('wvc', false)[2]!;
    await expect(
      writeVersions(db, [
        { resource: goal, versionId: 1, lastUpdated: AT, method: 'create', patientId: 'p-wvc', dataClass: 'care-plan' },
        { resource: patient!, versionId: 1, lastUpdated: AT, method: 'create', patientId: 'p-wvc', dataClass: 'person' },
      ], BASE)
    ).rejects.toThrow();
    const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource WHERE id = 'g-wvc'");
    expect(r.rows[0]?.n).toBe(0);
  });
});
