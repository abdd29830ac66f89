import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/auth/demo-seed.ts';
import { generateClientKeyPair } from '../../src/auth/key-generation.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { runCli } from './run-cli.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

/**
 * `joinedup token` against a real gateway (the test server on an embedded
 * database seeded with the demo clients, as `npm start` does): what the README
 * walk-through does, as a test.
 */
describe('joinedup token', () => {
  let db: Database;
  let server: TestServer;
  let dataDir: string;
  let keyFile: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'joinedup-token-'));
    db = await backends()[0]!.open();
    await seedDemo(db, { dataDir, baseUrl: 'http://127.0.0.1:8080', logger: pino({ level: 'silent' }) });
    server = await startTestServer(db);
    // A client registered by an operator, with its own key file and no demo manifest entry.
    const pair = await generateClientKeyPair('RS384');
    keyFile = join(dataDir, 'acme.private.jwk.json');
    writeFileSync(keyFile, JSON.stringify(pair.privateJwk), { mode: 0o600 });
    await server.clients.register({
      clientId: 'acme-hospital',
      organisation: { ods: 'X9T02', name: 'Acme Hospital (test)', kind: 'nhs-trust' },
      jwks: pair.publicJwks,
      scopes: ['system/Patient.rs', 'system/CarePlan.rs'],
      purposes: ['TREAT', 'BTG'],
    });
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const token = (...args: string[]) => runCli(['token', '--url', server.baseUrl, ...args], { DATA_DIR: dataDir });
  const search = (bearer: string) =>
    fetch(`${server.fhir}/Patient?identifier=${NHS}|9000000009`, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/fhir+json' } });

  it('prints only the access token for a demo client, and the token reads the demo patient', async () => {
    const r = await token('--client', 'demo-gp', '--purpose', 'TREAT', '--user', 'demo-gp-user-1', '--role', 'R8000');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const res = await search(r.stdout.trim());
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as { entry?: Array<{ resource: { identifier: Array<{ value: string }> } }> };
    expect(bundle.entry?.map((e) => e.resource.identifier[0]!.value)).toEqual(['9000000009']);
  });

  it('uses --key, --org, --scope and --justification for an operator-registered client', async () => {
    const r = await token(
      '--client', 'acme-hospital', '--key', keyFile, '--org', 'X9T02', '--purpose', 'BTG', '--justification', 'Unconscious in A&E (test)',
      '--user', 'u-1', '--user-name', 'Test Clinician', '--role', 'R8000', '--scope', 'system/Patient.rs'
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const claims = JSON.parse(Buffer.from(r.stdout.split('.')[1]!, 'base64url').toString()) as Record<string, any>;
    expect(claims).toMatchObject({ sub: 'acme-hospital', scope: 'system/Patient.rs' });
    expect((await search(r.stdout.trim())).status).toBe(200);
  });

  it('reports the RFC 6749 error on stderr and prints nothing on stdout', async () => {
    const r = await token('--client', 'demo-gp', '--purpose', 'HOPERAT', '--user', 'demo-gp-user-1', '--role', 'R8000');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^joinedup: token request refused \(HTTP 400\) unauthorized_client: .+\n$/);
  });

  it('needs --org for a client that is not a demo client (the gateway holds the embedded database)', async () => {
    const r = await token('--client', 'acme-hospital', '--key', keyFile, '--purpose', 'TREAT', '--user', 'u-1', '--role', 'R8000');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--org: give the ODS code of acme-hospital's organisation");
  });

  it('says where it looked for a missing demo key', async () => {
    const r = await token('--client', 'nobody', '--purpose', 'TREAT', '--user', 'u-1', '--role', 'R8000');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no demo key for nobody at ${join(dataDir, 'demo-clients', 'nobody.private.jwk.json')}`);
  });

  it('checks its options before signing anything', async () => {
    const r = await token('--client', 'demo-gp', '--purpose', 'SPYING', '--user', '', '--role', 'doctor');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--purpose: required, one of TREAT');
    expect(r.stderr).toContain('--user: ');
    expect(r.stderr).toContain('--role: an SDS job role code');
  });

  it('says when the gateway cannot be reached', async () => {
    const r = await runCli(['token', '--url', 'http://127.0.0.1:9', '--client', 'demo-gp', '--purpose', 'TREAT', '--user', 'u-1', '--role', 'R8000'], {
      DATA_DIR: dataDir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('joinedup: cannot reach the gateway at http://127.0.0.1:9: is it running (npm start)? Use --url to point elsewhere.\n');
  });
});
