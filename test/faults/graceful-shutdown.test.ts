import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open-database.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { freshSchemaUrl, runCli } from '../cli/run-cli.ts';
import { startChildGateway } from './support/child-gateway.ts';
import type { ChildGateway } from './support/child-gateway.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const base = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/examples/council/person.json'), 'utf8'));
const record = (seed: number): string =>
  JSON.stringify({
    ...base,
    source: { ...base.source, recordId: `GS-${seed}` },
    person: { localId: `LOC-GS${seed}`, nhsNumber: makeTestNhsNumber(61_000 + seed) },
    name: { ...base.name, family: `Shutdownperson${seed}` },
  });

interface Setup {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** PostgreSQL (a fresh schema) when TEST_DATABASE_URL is set, as in production; else the embedded database. */
async function storage(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'joinedup-shutdown-'));
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return { env: { DATA_DIR: join(dir, 'data') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  const schema = await freshSchemaUrl(url);
  return {
    env: { DATABASE_URL: schema.url, DATA_DIR: join(dir, 'data') },
    cleanup: async () => {
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function councilToken(gw: ChildGateway, env: Record<string, string>): Promise<string> {
  // Demo clients are seeded just after the listening line.
  const deadline = Date.now() + 30_000;
  while (!gw.output().includes('Demo mode') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const r = await runCli(['token', '--url', gw.url, '--client', 'demo-council', '--purpose', 'TREAT', '--user', 'council-user-1', '--role', 'R8000'], { DATA_DIR: env.DATA_DIR! });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

/** A streamed caseload import whose body the test writes line by line. */
function openImport(url: string, token: string): { req: ClientRequest; response: Promise<{ status: number; lines: any[] }>; failed: Promise<Error> } {
  const req = request(`${url}/council/v1/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
  });
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const response = new Promise<{ status: number; lines: any[] }>((resolve) => {
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, lines: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
      res.on('error', fail);
    });
  });
  req.on('error', fail);
  return { req, response, failed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('graceful shutdown on SIGTERM (a gateway process)', () => {
  let gw: ChildGateway | undefined;
  let setup: Setup | undefined;
  afterEach(async () => {
    await gw?.kill();
    await setup?.cleanup();
    gw = undefined;
    setup = undefined;
  });

  it('stops accepting at once, finishes the import in flight with its audit records, then exits 0', { timeout: 120_000 }, async () => {
    setup = await storage();
    gw = await startChildGateway({ ...setup.env, DEMO_DATA: 'on', SHUTDOWN_GRACE_MS: '20000' });
    const token = await councilToken(gw, setup.env);
    const upload = openImport(gw.url, token);
    upload.req.write(`${record(1)}\n${record(2)}\n`);
    await sleep(500);

    const signalledAt = Date.now();
    gw.process.kill('SIGTERM');
    await sleep(500);
    // New connections are refused while the request in flight goes on.
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();

    upload.req.end(`${record(3)}\n${record(4)}\n${record(5)}\n`);
    const answer = await Promise.race([upload.response, upload.failed.then((e) => Promise.reject(e))]);
    expect(answer.status).toBe(200);
    expect(answer.lines.at(-1)).toEqual({ summary: { lines: 5, created: 5, updated: 0, unchanged: 0, deleted: 0, rejected: 0 } });
    expect(await gw.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(20_000);

    // Every record is stored and its exchange is in a chain that verifies.
    const verify = await runCli(['audit', 'verify'], setup.env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const stored = await storedRecords(setup.env);
    expect(stored.map((r) => r.record_id).sort()).toEqual(['GS-1', 'GS-2', 'GS-3', 'GS-4', 'GS-5']);
    expect(stored.every((r) => r.missing === 0 && r.resources > 0)).toBe(true);
  });

  it('cuts a request still in flight when SHUTDOWN_GRACE_MS runs out, exits 0, and leaves nothing half-stored', { timeout: 120_000 }, async () => {
    setup = await storage();
    gw = await startChildGateway({ ...setup.env, DEMO_DATA: 'on', SHUTDOWN_GRACE_MS: '1500' });
    const token = await councilToken(gw, setup.env);
    const upload = openImport(gw.url, token);
    upload.req.write(`${record(11)}\n`);
    await sleep(500);
    const signalledAt = Date.now();
    gw.process.kill('SIGTERM');
    // The client never finishes its body: after the grace period the connection is cut.
    const outcome = await Promise.race([upload.failed.then(() => 'cut'), upload.response.then((r) => `answered ${r.status}`), sleep(15_000).then(() => 'hung')]);
    expect(['cut', 'answered 200']).toContain(outcome);
    expect(await gw.exited).toBe(0);
    const took = Date.now() - signalledAt;
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(10_000);
    upload.req.destroy();

    const verify = await runCli(['audit', 'verify'], setup.env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // The one line either committed whole (every resource the ledger names exists) or not at all.
    const stored = await storedRecords(setup.env);
    expect(stored.length).toBeLessThanOrEqual(1);
    expect(stored.every((r) => r.missing === 0 && r.resources > 0)).toBe(true);
  });
});

/** The council ledger after the gateway exited: each record with how many of its resources are missing. */
async function storedRecords(env: Record<string, string>): Promise<Array<{ record_id: string; resources: number; missing: number }>> {
  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR!, poolSize: 1 });
  try {
    const r = await db.query<{ record_id: string; resources: number; missing: number }>(
      `SELECT c.record_id, cardinality(c.resources) AS resources,
              (SELECT count(*)::int FROM unnest(c.resources) ref
                WHERE NOT EXISTS (SELECT 1 FROM resource x WHERE x.resource_type || '/' || x.id = ref)) AS missing
         FROM council_record c WHERE c.record_id LIKE 'GS-%'`
    );
    return r.rows;
  } finally {
    await db.close();
  }
}
