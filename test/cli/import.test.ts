import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/auth/demo-seed.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { runCli } from './run-cli.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const base = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/examples/council/person.json'), 'utf8'));
const person = (seed: number): any => ({
  ...base,
  source: { ...base.source, recordId: `CLI-${seed}` },
  person: { localId: `LOC-C${seed}`, nhsNumber: makeTestNhsNumber(30_000 + seed) },
  name: { ...base.name, family: `Cliperson${seed}` },
});

/** `joinedup import` against a running gateway (the test server), with --token. */
describe('joinedup import', () => {
  let db: Database;
  let server: TestServer;
  let dir: string;
  let token: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'joinedup-import-'));
    db = await backends()[0]!.open();
    // The demo clients (as `npm start` seeds them), for --client.
    await seedDemo(db, { dataDir: dir, baseUrl: 'http://127.0.0.1:8080', logger: pino({ level: 'silent' }) });
    server = await startTestServer(db);
    token = await server.issueToken({ organisation: { ods: 'X99001', name: 'Test Council', kind: 'local-authority' }, scopes: parseScopes('system/council.write') });
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = (...args: string[]) => runCli(['import', ...args, '--url', server.baseUrl], { DATA_DIR: dir });

  it('imports a file in several requests, reports rejected lines by file line number and a summary, exits 1; a re-run is all unchanged', async () => {
    const bad = person(3);
    bad.person.nhsNumber = '9990000019';
    const file = join(dir, 'caseload.ndjson');
    const lines = [person(1), person(2), '', bad, 'not json', person(5), person(6)].map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
    writeFileSync(file, lines.join('\n')); // no final line break
    const out = join(dir, 'results.ndjson');
    const first = await run(file, '--token', token, '--batch-lines', '2', '--out', out);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/^line 4 \(person CLI-3\): rejected 400: \$\.person\.nhsNumber: .+$/m);
    expect(first.stdout).toMatch(/^line 5: rejected 400: This line is not well-formed JSON at \$$/m);
    expect(first.stdout).toContain(`${file}: 6 line(s): 4 created, 0 updated, 0 unchanged, 0 deleted, 2 rejected\n`);
    const results = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(results.map((r) => [r.line, r.status])).toEqual([
      [1, 'created'],
      [2, 'created'],
      [4, 'rejected'],
      [5, 'rejected'],
      [6, 'created'],
      [7, 'created'],
    ]);
    expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM council_record WHERE record_id LIKE 'CLI-%'")).rows[0]!.n).toBe(4);

    const again = await run(file, '--token', token);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('4 unchanged');
    expect(again.stdout).toContain('0 created');

    const good = join(dir, 'good.ndjson');
    writeFileSync(good, `${[person(1), person(7)].map((r) => JSON.stringify(r)).join('\n')}\n`);
    const ok = await run(good, '--token', token);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`${good}: 2 line(s): 1 created, 0 updated, 1 unchanged, 0 deleted, 0 rejected\n`);
  });

  it('with --client gets its own token as `joinedup token` does', async () => {
    const file = join(dir, 'client.ndjson');
    writeFileSync(file, `${JSON.stringify(person(8))}\n`);
    const r = await run(file, '--client', 'demo-council', '--purpose', 'CAREMGT', '--user', 'demo-council-sw-1', '--role', 'R1330');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: 1 line(s): 1 created, 0 updated, 0 unchanged, 0 deleted, 0 rejected\n`);
  });

  it('says when the token is refused, and how to finish', async () => {
    const file = join(dir, 'one.ndjson');
    writeFileSync(file, `${JSON.stringify(person(9))}\n`);
    const r = await run(file, '--token', 'not.a.token');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the import stopped after line 0: the gateway answered HTTP 401/);
    expect(r.stderr).toContain('Run the same command again');
  });

  it('checks its options: --token or --client, a readable file', async () => {
    const neither = await run(join(dir, 'x.ndjson'));
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--token: give either --token, or --client');
    const missing = await run(join(dir, 'missing.ndjson'), '--token', token);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
  });

  it('--help says that re-running is harmless', async () => {
    const r = await runCli(['import', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Re-running is harmless');
  });
});
