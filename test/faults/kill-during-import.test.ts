import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import { generateClientKeyPair } from '../../src/auth/key-generation.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../../src/cli/client-assertion-builder.ts';
import type { SigningKey } from '../../src/cli/client-assertion-builder.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { loadBaseSchema } from '../../src/fhir/schema.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { mapRecord } from '../../src/mapping/map-record.ts';
import { startChildGateway } from './support/child-gateway.ts';
import type { ChildGateway } from './support/child-gateway.ts';
import { createPrivatePostgres } from './support/private-postgres.ts';
import type { PrivatePostgres } from './support/private-postgres.ts';

/*
 * Issue #9, fault (a): a gateway process is killed (SIGKILL: no shutdown
 * code runs) in the middle of a council bulk import, started again, and the
 * whole file sent again. Each record is stored exactly once and whole (its
 * transaction committed or never happened), records stored before the kill
 * are not touched by the re-send (an unchanged re-push makes no version),
 * and the audit chain verifies. On a private PostgreSQL cluster, so the
 * assertions can count every row in the database.
 */

const COUNCIL_ODS = 'X9C01';
const PEOPLE = 90;
/** person, care plan (with goals), care team: three records, seven resources and three Provenances a person. */
const RECORD_TYPES = ['person', 'care-plan', 'care-team'] as const;
/** Kill once this many results came back (of 270): some batches committed, more in flight. */
const KILL_AFTER_RESULTS = 100;

const example = (name: string): Record<string, any> => JSON.parse(readFileSync(join(import.meta.dirname, `../../docs/examples/council/${name}.json`), 'utf8'));

/** Synthetic records only: invented ids, NHS numbers from the 999 test range. */
function caseload(): Record<string, any>[] {
  const bases = Object.fromEntries(RECORD_TYPES.map((t) => [t, example(t)]));
  const records: Record<string, any>[] = [];
  for (let p = 0; p < PEOPLE; p++) {
    const person = { localId: `FK-${String(p).padStart(5, '0')}`, nhsNumber: makeTestNhsNumber(74_000 + p) };
    for (const t of RECORD_TYPES) {
      const base = bases[t]!;
      const r: Record<string, any> = { ...base, source: { ...base.source, system: 'mosaic-faulttest', recordId: `${t}-${p}` }, person };
      if (t === 'person') r.name = { ...base.name, family: `Killtestperson${p}` };
      records.push(r);
    }
  }
  return records;
}

interface ImportAnswer {
  status: number;
  lines: any[];
  /** How the exchange ended: the summary arrived, or the connection broke first. */
  ended: 'complete' | 'cut';
}

/** Streams the file to POST /council/v1/import and collects the NDJSON answer; onLine may kill the gateway. */
function sendImport(url: string, token: string, file: string, onLine?: (count: number) => void): Promise<ImportAnswer> {
  return new Promise((resolve) => {
    const lines: any[] = [];
    let status = 0;
    let settled = false;
    const done = (ended: ImportAnswer['ended']): void => {
      if (settled) return;
      settled = true;
      resolve({ status, lines, ended });
    };
    const req = request(`${url}/council/v1/import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' } }, (res) => {
      status = res.statusCode ?? 0;
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) lines.push(JSON.parse(line));
          onLine?.(lines.length);
        }
      });
      res.on('end', () => done(lines.at(-1)?.summary ? 'complete' : 'cut'));
      res.on('error', () => done('cut'));
      res.on('aborted', () => done('cut'));
    });
    req.on('error', () => done('cut'));
    // Bounded: an import that neither finishes nor breaks is a hang.
    req.setTimeout(60_000, () => req.destroy(new Error('import timed out')));
    createReadStream(file).on('error', () => req.destroy()).pipe(req);
  });
}

describe('a gateway killed (SIGKILL) in the middle of a bulk import, restarted, the file sent again', () => {
  let cluster: PrivatePostgres | undefined;
  let db: Database | undefined;
  let gw: ChildGateway | undefined;
  let dir: string | undefined;
  let signer: SigningKey;

  beforeAll(async () => {
    cluster = await createPrivatePostgres();
    await cluster.start();
    db = await openDatabase({ databaseUrl: cluster.url, dataDir: '', poolSize: 2 });
    // Registered as an operator would (`joinedup client register`), before the gateway starts.
    const pair = await generateClientKeyPair('ES384');
    await new ClientRegistry(db).register({
      clientId: 'fault-council',
      organisation: { ods: COUNCIL_ODS, name: 'Faulttest County Council (synthetic)', kind: 'local-authority' },
      jwks: pair.publicJwks,
      scopes: ['system/council.write'],
      purposes: ['CAREMGT'],
    });
    signer = signingKeyFromJwk(pair.privateJwk);
    dir = mkdtempSync(join(tmpdir(), 'joinedup-kill-'));
  }, 120_000);

  afterAll(async () => {
    await gw?.kill().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const env = (): Record<string, string> => ({ DATABASE_URL: cluster!.url, DATA_DIR: join(dir!, 'data'), DEMO_DATA: 'off', REQUEST_TIMEOUT_MS: '0' });

  /** A council token from the gateway's real token endpoint. */
  const token = async (url: string): Promise<string> => {
    const tokenUrl = `${url}/auth/token`;
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: buildClientAssertion(signer, { clientId: 'fault-council', tokenUrl, ods: COUNCIL_ODS, user: { id: 'fault-sw-1', role: 'R1330' }, purpose: 'CAREMGT' }),
      }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { access_token?: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.access_token!;
  };

  it('stores every record exactly once and whole, re-pushes make no new versions, and the audit chain verifies', { timeout: 120_000 }, async () => {
    const records = caseload();
    const file = join(dir!, 'caseload.ndjson');
    writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));

    // What each record must produce (the mapping is deterministic: same ids every time).
    loadBaseSchema();
    const receivedAt = new Date().toISOString();
    const expected = new Map<string, string[]>();
    for (const r of records) {
      const mapped = mapRecord(r, r.recordType, { councilOds: COUNCIL_ODS, receivedAt });
      expected.set(r.source.recordId, [...mapped.resources, mapped.provenance].map((x) => `${x.resourceType}/${x.id}`));
    }
    const expectedRefs = new Set([...expected.values()].flat());

    // 1. The import, killed part way.
    gw = await startChildGateway(env());
    const first = gw;
    let killedAt = 0;
    const cut = await sendImport(first.url, await token(first.url), file, (n) => {
      if (n >= KILL_AFTER_RESULTS && !killedAt) {
        killedAt = n;
        first.process.kill('SIGKILL');
      }
    });
    expect(await first.exited).toBe('SIGKILL');
    expect(cut.status).toBe(200);
    expect(cut.ended, 'the kill cut the import short').toBe('cut');
    expect(cut.lines.length).toBeGreaterThanOrEqual(KILL_AFTER_RESULTS);
    expect(cut.lines.length).toBeLessThan(records.length);

    // After the kill: every record either stored whole or not at all, and nothing the gateway confirmed is lost.
    const afterKill = await ledger(db!);
    expect(cut.lines.filter((l) => l.status !== 'created')).toEqual([]);
    await expectWhole(db!, afterKill, expected);
    const storedBeforeRestart = new Set(afterKill.keys());
    for (const l of cut.lines) expect(storedBeforeRestart.has(l.sourceRecordId), `confirmed ${l.sourceRecordId} lost`).toBe(true);
    expect(storedBeforeRestart.size).toBeGreaterThanOrEqual(cut.lines.length);
    expect(storedBeforeRestart.size).toBeLessThan(records.length);
    const versionsBefore = await versions(db!);
    // For the CI log: where the kill fell (answered lines vs. records committed by then).
    console.info(`kill-during-import: killed after ${cut.lines.length} answered lines; ${storedBeforeRestart.size} of ${records.length} records committed by then`);

    // 2. Restart and send the whole file again.
    gw = await startChildGateway(env());
    const again = await sendImport(gw.url, await token(gw.url), file);
    expect(again.status).toBe(200);
    expect(again.ended).toBe('complete');
    const summary = again.lines.at(-1).summary;
    expect(summary).toEqual({ lines: records.length, created: records.length - storedBeforeRestart.size, updated: 0, unchanged: storedBeforeRestart.size, deleted: 0, rejected: 0 });

    // Every record exactly once, whole; exactly the expected resources and nothing else.
    const final = await ledger(db!);
    expect(final.size).toBe(records.length);
    await expectWhole(db!, final, expected);
    const stored = await versions(db!);
    expect([...stored.keys()].sort()).toEqual([...expectedRefs].sort());
    // Written once each: version 1, one history row; the re-send bumped nothing stored before the kill.
    for (const [ref, v] of stored) expect(v, ref).toEqual({ version: 1, history: 1 });
    for (const [ref, v] of versionsBefore) expect(stored.get(ref), ref).toEqual(v);
    // No duplicate people: one Patient per NHS number.
    const patients = await db!.query<{ nhs: string; n: number }>(
      `SELECT i->>'value' AS nhs, count(*)::int AS n FROM resource r, jsonb_array_elements(r.content::jsonb->'identifier') i
        WHERE r.resource_type = 'Patient' AND i->>'system' = 'https://fhir.nhs.uk/Id/nhs-number' GROUP BY 1`
    );
    expect(patients.rows.length).toBe(PEOPLE);
    expect(patients.rows.filter((r) => r.n !== 1)).toEqual([]);

    const chain = await verifyAuditChain(db!);
    expect(chain.ok, JSON.stringify(chain.firstBroken)).toBe(true);
    expect(chain.checked).toBeGreaterThan(0);
  });
});

/** The council ledger: each source record id with the resources it produced. */
async function ledger(db: Database): Promise<Map<string, string[]>> {
  const r = await db.query<{ record_id: string; resources: string[] }>(`SELECT record_id, resources FROM council_record WHERE council_ods = $1`, [COUNCIL_ODS]);
  return new Map(r.rows.map((x) => [x.record_id, x.resources]));
}

/** Each resource's current version and how many history rows it has. */
async function versions(db: Database): Promise<Map<string, { version: number; history: number }>> {
  const r = await db.query<{ ref: string; version: number; history: number }>(
    `SELECT r.resource_type || '/' || r.id AS ref, r.version_id AS version,
            (SELECT count(*)::int FROM resource_version v WHERE v.resource_type = r.resource_type AND v.id = r.id) AS history
       FROM resource r`
  );
  return new Map(r.rows.map((x) => [x.ref, { version: x.version, history: x.history }]));
}

/**
 * Nothing half-stored: each ledger row names exactly the resources its
 * record maps to (Provenance aside, which the ledger does not list), all of
 * them present; and no resource exists that no stored record produced.
 */
async function expectWhole(db: Database, rows: Map<string, string[]>, expected: Map<string, string[]>): Promise<void> {
  const present = await versions(db);
  const produced = new Set<string>();
  for (const [recordId, resources] of rows) {
    const want = expected.get(recordId);
    expect(want, `unknown record ${recordId}`).toBeDefined();
    for (const ref of want!) {
      expect(present.has(ref), `${recordId}: ${ref} missing`).toBe(true);
      produced.add(ref);
    }
    expect([...resources].sort(), recordId).toEqual(want!.filter((ref) => !ref.startsWith('Provenance/')).sort());
  }
  const orphans = [...present.keys()].filter((ref) => !produced.has(ref));
  expect(orphans, 'resources no stored record produced (half-stored)').toEqual([]);
}
