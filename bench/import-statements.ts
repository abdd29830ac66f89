/**
 * `tsx bench/import-statements.ts`: how many SQL statements (round trips) the
 * council push sends per stored resource, one transaction per record
 * (pushRecord, as POST /council/v1/records) against the import's batches
 * (pushBatch), with the lawful-basis gate and the audit wired as the gateway
 * wires them. In-process PGlite, so it needs no server and counts exactly;
 * times are not measured here (bench:import does that).
 *
 * The records are one person's case as bench:import generates them, from
 * docs/examples/council (person, care plan, care team, assessment, service,
 * consent), for BENCH_PEOPLE people (default 20).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditBatcher } from '../src/audit/audit-batcher.ts';
import { ExchangeAudit } from '../src/audit/exchange-audit.ts';
import { pushBatch } from '../src/council/push/push-batch.ts';
import { pushRecord } from '../src/council/push/push-record.ts';
import type { PushDeps } from '../src/council/push/push-record.ts';
import { migrate } from '../src/db/migrations.ts';
import { openPglite } from '../src/db/pglite.ts';
import type { Database, SqlClient } from '../src/db/sql-client.ts';
import { makeTestNhsNumber } from '../src/fhir/validation/nhs-number.ts';
import { createValidator } from '../src/fhir/validation/validator.ts';
import { loadAgreements } from '../src/gate/agreements/agreement-store.ts';
import { RequestGate } from '../src/gate/enforce/access-gate.ts';
import { createGateServices } from '../src/gate/enforce/gate-services.ts';
import type { RequestContext } from '../src/request-context.ts';
import { benchNumber } from './settings.ts';

const PEOPLE = Math.floor(benchNumber('BENCH_PEOPLE', 20));
const COUNCIL = { ods: 'X9C01', name: 'Bench County Council (synthetic)', kind: 'local-authority' as const };
const EXAMPLES = join(import.meta.dirname, '../docs/examples/council');
const CASE = ['person.json', 'care-plan.json', 'care-team.json', 'assessment.json', 'service.json', 'consent.json'];

function records(offset: number): unknown[] {
  const out: unknown[] = [];
  for (let p = 0; p < PEOPLE; p++) {
    const nhsNumber = makeTestNhsNumber(offset + p);
    for (const file of CASE) {
      const r = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8'));
      r.source.recordId = `${r.source.recordId}-${offset + p}`;
      r.person = { localId: `CNT-${offset + p}`, nhsNumber };
      out.push(r);
    }
  }
  return out;
}

/** What a statement is, for the breakdown. */
function kindOf(text: string): string {
  if (text.includes('INSERT INTO resource_version')) return 'versions';
  if (/SAVEPOINT/.test(text)) return 'savepoint';
  if (text.includes('council_record')) return 'ledger';
  if (text.includes('audit_append')) return 'audit';
  if (text.includes('pg_notify')) return 'notify';
  if (text.includes('FOR UPDATE')) return 'prefetch';
  if (text.includes('patient_id = ANY')) return 'gate facts';
  return 'other';
}

/** Counts every statement sent through the database and its transactions, by kind. */
function counting(db: Database): { db: Database; count: () => number; kinds: Map<string, number> } {
  let n = 0;
  const kinds = new Map<string, number>();
  const note = (text: string): void => {
    n++;
    const k = kindOf(text);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  };
  const wrap = (c: SqlClient): SqlClient => ({
    query: (text, params, name) => {
      note(text);
      return c.query(text, params, name);
    },
    exec: (text) => {
      note(text);
      return c.exec(text);
    },
  });
  const counted: Database = {
    ...db,
    ...wrap(db),
    kind: db.kind,
    transaction: (fn) => {
      n += 2; // BEGIN and COMMIT
      return db.transaction((tx) => fn(wrap(tx)));
    },
    analyze: () => db.analyze(),
    noteWrites: (k) => db.noteWrites(k),
    close: () => db.close(),
  };
  return { db: counted, count: () => n, kinds };
}

async function main(): Promise<void> {
  const raw = await openPglite('memory://');
  await migrate(raw);
  const { db, count, kinds } = counting(raw);
  const services = createGateServices({ factsTtlMs: 30_000, policyTtlMs: 30_000, breakGlassWindowMs: 3_600_000, loadAgreements: (sql) => loadAgreements(sql) });
  const batcher = new AuditBatcher(raw);
  const context: RequestContext = {
    requestId: 'bench-statements',
    authMode: 'smart',
    actor: { clientId: 'bench-council', organisation: COUNCIL, user: { id: 'bench-sw-1', role: 'R1330' }, purposeOfUse: 'CAREMGT', scopes: [], tokenId: 't' },
  } as RequestContext;
  const deps = (): PushDeps => {
    const gate = new RequestGate(services, context);
    return { db, validator: createValidator(), baseUrl: 'http://localhost/fhir', onDbError: () => {}, gate, audit: new ExchangeAudit(batcher, context, 'update', gate) };
  };
  const versions = async (): Promise<number> => (await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_version')).rows[0]!.n;

  const rows: string[] = [];
  const measure = async (name: string, run: () => Promise<{ status: string }[]>): Promise<void> => {
    const s0 = count();
    const v0 = await versions();
    const results = await run();
    const rejected = results.filter((r) => r.status === 'rejected').length;
    const stmts = count() - s0;
    const v = (await versions()) - v0;
    rows.push(`| ${name} | ${results.length} | ${rejected} | ${v} | ${stmts} | ${(stmts / results.length).toFixed(1)} | ${(stmts / v).toFixed(2)} |`);
  };

  await measure('one transaction per record (pushRecord)', async () => {
    const d = deps();
    const out = [];
    for (const [i, r] of records(40_000).entries()) out.push(await pushRecord(d, context, COUNCIL.ods, r, i));
    return out;
  });
  kinds.clear();
  await measure('batches of 50 (pushBatch)', async () => {
    const d = deps();
    const all = records(50_000);
    const out = [];
    for (let i = 0; i < all.length; i += 50) out.push(...(await pushBatch(d, context, COUNCIL.ods, all.slice(i, i + 50).map((json, k) => ({ json, index: i + k })))));
    return out;
  });
  console.log(`\nSQL statements per council push, ${PEOPLE} people x ${CASE.length} records (docs/examples/council), gate and audit on:\n`);
  console.log('| path | records | rejected | versions stored | statements | per record | per version |');
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) console.log(r);
  console.log(`\nbatches of 50, statements by kind (BEGIN/COMMIT not included): ${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  await batcher.close();
  await raw.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
