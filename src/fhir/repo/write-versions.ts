import type { Resource } from '@medplum/fhirtypes';
import { statementName } from '../../db/sql-client.ts';
import type { SqlClient } from '../../db/sql-client.ts';
import { extractIndexRows } from '../search/index-values.ts';

/** One live version to write, with the gate's labels already resolved (a Provenance's from its target, in memory). */
export interface VersionToWrite {
  resource: Resource & { id: string };
  versionId: number;
  lastUpdated: string;
  method: 'create' | 'update';
  patientId?: string;
  dataClass?: string;
  thirdParty?: string;
  /** ODS code of the controlling organisation; the stored one is kept when undefined. */
  controller?: string;
  /** JSON.stringify(resource), when the caller already has it. */
  content?: string;
}

/** Versions per statement: bounds the statement's parameters (PostgreSQL allows 65,535) and its memory. */
export const MAX_VERSIONS_PER_STATEMENT = 1000;

const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_reference', 'sp_date'] as const;

/**
 * Writes several live versions (each of a different resource) in ONE
 * statement: current rows, history rows, and search index rows, replacing the
 * index rows of resources that had an earlier version. The same guarantees as
 * writeVersion (no reader ever sees a resource without its indexes or
 * history), for a fraction of the round trips and statements when an import
 * writes a record's resources together (docs/decisions/0012-import-batching.md).
 *
 * Labels are passed in, never read in the statement: every sub-statement sees
 * the snapshot taken before it, so a Provenance's target written in the same
 * statement could not be read back.
 */
export async function writeVersions(sql: SqlClient, versions: readonly VersionToWrite[], localBase?: string): Promise<void> {
  for (let i = 0; i < versions.length; i += MAX_VERSIONS_PER_STATEMENT) {
    await writeChunk(sql, versions.slice(i, i + MAX_VERSIONS_PER_STATEMENT), localBase);
  }
}

/**
 * The content list's length, rounded up so that a handful of statement texts
 * (so of prepared statements) serve every batch size; the rest is NULL.
 */
function contentSlots(n: number): number {
  let slots = 8;
  while (slots < n) slots *= 2;
  return slots;
}

async function writeChunk(sql: SqlClient, versions: readonly VersionToWrite[], localBase?: string): Promise<void> {
  if (versions.length === 0) return;
  const v = { type: [] as string[], id: [] as string[], vid: [] as number[], at: [] as string[], method: [] as string[], content: [] as string[] };
  const labels = { patient: [] as (string | null)[], cls: [] as (string | null)[], ctl: [] as (string | null)[], third: [] as (string | null)[] };
  const replaced = { type: [] as string[], id: [] as string[], ref: [] as string[] };
  const tok = { type: [] as string[], id: [] as string[], code: [] as string[], system: [] as (string | null)[], value: [] as (string | null)[] };
  const str = { type: [] as string[], id: [] as string[], code: [] as string[], value: [] as string[], exact: [] as string[] };
  const ref = {
    type: [] as string[],
    id: [] as string[],
    code: [] as string[],
    targetType: [] as (string | null)[],
    targetId: [] as (string | null)[],
    reference: [] as (string | null)[],
    identSystem: [] as (string | null)[],
    identValue: [] as (string | null)[],
  };
  const date = { type: [] as string[], id: [] as string[], code: [] as string[], low: [] as string[], high: [] as string[] };
  for (const x of versions) {
    const { resourceType: t, id } = x.resource;
    v.type.push(t);
    v.id.push(id);
    v.vid.push(x.versionId);
    v.at.push(x.lastUpdated);
    v.method.push(x.method);
    v.content.push(x.content ?? JSON.stringify(x.resource));
    labels.patient.push(x.patientId ?? null);
    labels.cls.push(x.dataClass ?? null);
    labels.ctl.push(x.controller ?? null);
    labels.third.push(x.thirdParty ?? null);
    if (x.versionId > 1) {
      replaced.type.push(t);
      replaced.id.push(id);
      replaced.ref.push(`${t}/${id}`);
    }
    const rows = extractIndexRows(x.resource, localBase);
    const own = <K extends { type: string[]; id: string[] }>(into: K, n: number): void => {
      for (let i = 0; i < n; i++) {
        into.type.push(t);
        into.id.push(id);
      }
    };
    own(tok, rows.token.code.length);
    tok.code.push(...rows.token.code);
    tok.system.push(...rows.token.system);
    tok.value.push(...rows.token.value);
    own(str, rows.string.code.length);
    str.code.push(...rows.string.code);
    str.value.push(...rows.string.value);
    str.exact.push(...rows.string.exact);
    const r = rows.reference;
    own(ref, r.code.length);
    ref.code.push(...r.code);
    ref.targetType.push(...r.targetType);
    ref.targetId.push(...r.targetId);
    ref.reference.push(...r.reference);
    ref.identSystem.push(...r.identSystem);
    ref.identValue.push(...r.identValue);
    own(date, rows.date.code.length);
    date.code.push(...rows.date.code);
    date.low.push(...rows.date.low);
    date.high.push(...rows.date.high);
  }

  const p: unknown[] = [];
  const add = (x: unknown): string => {
    p.push(x);
    return `$${p.length}`;
  };
  // Each content is a parameter of its own: as one text[] parameter pg would
  // escape every character of every JSON into an array literal, and
  // PostgreSQL parse it back (array_in). The slots past the last version are
  // NULL; unnest pads the shorter arrays with NULL, and those rows are dropped.
  const slots = contentSlots(versions.length);
  const contents: string[] = [];
  for (let i = 0; i < slots; i++) contents.push(add(v.content[i] ?? null));
  const ctes = [
    `v AS (SELECT * FROM unnest(${add(v.type)}::text[], ${add(v.id)}::text[], ${add(v.vid)}::int[], ${add(v.at)}::timestamptz[], ${add(v.method)}::text[],
        ARRAY[${contents.join(',')}]::text[], ${add(labels.patient)}::text[], ${add(labels.cls)}::text[], ${add(labels.ctl)}::text[], ${add(labels.third)}::text[])
        AS v(resource_type, id, version_id, last_updated, method, content, patient_id, data_class, controller, third_party)
        WHERE resource_type IS NOT NULL)`,
    `cur AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content, patient_id, data_class, controller, third_party)
       SELECT resource_type, id, version_id, last_updated, false, content, patient_id, data_class, controller, third_party FROM v
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id,
         last_updated = EXCLUDED.last_updated, deleted = false, content = EXCLUDED.content,
         patient_id = EXCLUDED.patient_id, data_class = EXCLUDED.data_class,
         controller = COALESCE(EXCLUDED.controller, resource.controller), third_party = EXCLUDED.third_party)`,
    `ver AS (INSERT INTO resource_version (resource_type, id, version_id, last_updated, method, deleted, content)
       SELECT resource_type, id, version_id, last_updated, method, false, content FROM v)`,
  ];
  if (replaced.ref.length) {
    // Both ANYs keep the (resource_type, id) index usable; the pair test makes the match exact.
    const [rt, ri, rr] = [add(replaced.type), add(replaced.id), add(replaced.ref)];
    for (const t of INDEX_TABLES) {
      ctes.push(`del_${t} AS (DELETE FROM ${t} WHERE resource_type = ANY(${rt}::text[]) AND id = ANY(${ri}::text[]) AND resource_type || '/' || id = ANY(${rr}::text[]))`);
    }
  }
  if (tok.code.length) {
    ctes.push(`ins_token AS (INSERT INTO sp_token (resource_type, id, code, system, value)
      SELECT * FROM unnest(${add(tok.type)}::text[], ${add(tok.id)}::text[], ${add(tok.code)}::text[], ${add(tok.system)}::text[], ${add(tok.value)}::text[]))`);
  }
  if (str.code.length) {
    ctes.push(`ins_string AS (INSERT INTO sp_string (resource_type, id, code, value, exact)
      SELECT * FROM unnest(${add(str.type)}::text[], ${add(str.id)}::text[], ${add(str.code)}::text[], ${add(str.value)}::text[], ${add(str.exact)}::text[]))`);
  }
  if (ref.code.length) {
    ctes.push(`ins_reference AS (INSERT INTO sp_reference (resource_type, id, code, target_type, target_id, reference, ident_system, ident_value)
      SELECT * FROM unnest(${add(ref.type)}::text[], ${add(ref.id)}::text[], ${add(ref.code)}::text[], ${add(ref.targetType)}::text[], ${add(ref.targetId)}::text[],
        ${add(ref.reference)}::text[], ${add(ref.identSystem)}::text[], ${add(ref.identValue)}::text[]))`);
  }
  if (date.code.length) {
    ctes.push(`ins_date AS (INSERT INTO sp_date (resource_type, id, code, low, high)
      SELECT * FROM unnest(${add(date.type)}::text[], ${add(date.id)}::text[], ${add(date.code)}::text[], ${add(date.low)}::timestamptz[], ${add(date.high)}::timestamptz[]))`);
  }
  // The text varies only with the CTEs present and the content slots: a few prepared statements per connection.
  const text = `WITH ${ctes.join(',\n')} SELECT 1`;
  await sql.query(text, p, statementName('wv', text));
}
