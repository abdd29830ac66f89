import { createPublicKey, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/sql-client.ts';
import { backends } from '../../test/support/backends.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../cli/client-assertion-builder.ts';
import { ClientRegistry } from './client-registry.ts';
import { DEMO_CLIENTS, demoKeyFile, demoManifestFile, readDemoManifest } from './demo-manifest.ts';
import { DEMO_AGREEMENTS } from '../gate/agreements/demo-agreements.ts';
import { loadAgreements } from '../gate/agreements/agreement-store.ts';
import { demoWanted, seedDemo, seedDemoAgreements } from './demo-seed.ts';

const logger = pino({ level: 'silent' });

describe('demoWanted', () => {
  it('seeds the embedded database by default, PostgreSQL only when asked', () => {
    expect(demoWanted('auto', 'pglite')).toBe(true);
    expect(demoWanted('auto', 'postgres')).toBe(false);
    expect(demoWanted('on', 'postgres')).toBe(true);
    expect(demoWanted('off', 'pglite')).toBe(false);
  });
});

describe.each(backends())('seedDemo on $name', (backend) => {
  let db: Database;
  let dataDir: string;
  const printed: string[] = [];
  beforeAll(async () => {
    db = await backend.open();
    dataDir = mkdtempSync(join(tmpdir(), 'joinedup-demo-'));
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers the demo clients, writes their keys 0600 and a manifest, and stores synthetic patients', async () => {
    const manifest = await seedDemo(db, { dataDir, baseUrl: 'http://127.0.0.1:8080', logger, print: (t) => printed.push(t) });
    expect(manifest?.clients.map((c) => c.clientId)).toEqual(DEMO_CLIENTS.map((c) => c.clientId));
    const registry = new ClientRegistry(db);
    expect(await registry.count()).toBe(DEMO_CLIENTS.length);
    const gp = await registry.get('demo-gp');
    expect(gp).toMatchObject({ organisation: { ods: 'X99001', kind: 'gp-practice' }, scopes: ['system/*.rs'], purposes: ['TREAT', 'ETREAT', 'BTG'], status: 'active' });
    expect(await registry.get('demo-gp-2')).toMatchObject({ organisation: { ods: 'X99002', kind: 'gp-practice' } });
    expect(await registry.get('demo-mh-trust')).toMatchObject({ organisation: { ods: 'X9M01', kind: 'nhs-trust' } });
    expect((await loadAgreements(db)).map((a) => `${a.id} v${a.version}`)).toEqual(DEMO_AGREEMENTS.map((a) => `${a.id} v1`).sort());
    for (const c of DEMO_CLIENTS) {
      expect(statSync(demoKeyFile(dataDir, c.clientId)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(demoManifestFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(readDemoManifest(dataDir)).toEqual(manifest);
    expect(printed.join('')).toContain('npx joinedup token --client demo-gp --purpose TREAT --user demo-gp-user-1 --role R8000');

    const found = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM sp_token WHERE resource_type = 'Patient' AND code = 'identifier' AND value = '9000000009'"
    );
    expect(found.rows[0]?.n).toBe(1);
    const counts = await db.query<{ resource_type: string; n: number }>(
      'SELECT resource_type, count(*)::int AS n FROM resource GROUP BY resource_type ORDER BY resource_type'
    );
    expect(counts.rows).toEqual([
      { resource_type: 'CarePlan', n: 5 },
      { resource_type: 'Patient', n: 5 },
    ]);
    // The demo council controls the demo records, so the demo agreements can share them.
    const controllers = await db.query<{ controller: string | null }>('SELECT DISTINCT controller FROM resource');
    expect(controllers.rows).toEqual([{ controller: 'X9C01' }]);
  });

  it('writes a private key that matches the registered public key', async () => {
    const jwk = JSON.parse(readFileSync(demoKeyFile(dataDir, 'demo-council'), 'utf8')) as Record<string, unknown>;
    const signer = signingKeyFromJwk(jwk);
    const assertion = buildClientAssertion(signer, {
      clientId: 'demo-council',
      tokenUrl: 'http://127.0.0.1:8080/auth/token',
      ods: 'X9C01',
      user: { id: 'demo-council-sw-1', role: 'R1330' },
      purpose: 'CAREMGT',
    });
    const [h, p, s] = assertion.split('.');
    const registered = (await new ClientRegistry(db).get('demo-council'))!.jwks!.keys[0]!;
    expect(registered.kid).toBe(jwk.kid);
    expect(registered).not.toHaveProperty('d');
    const ok = verify('sha384', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: registered as JsonWebKey, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
    expect(ok).toBe(true);
  });

  it('does nothing on a database that already has clients', async () => {
    const before = readFileSync(demoKeyFile(dataDir, 'demo-gp'), 'utf8');
    printed.length = 0;
    expect(await seedDemo(db, { dataDir, baseUrl: 'http://127.0.0.1:8080', logger, print: (t) => printed.push(t) })).toBeUndefined();
    expect(await new ClientRegistry(db).count()).toBe(DEMO_CLIENTS.length);
    expect(readFileSync(demoKeyFile(dataDir, 'demo-gp'), 'utf8')).toBe(before);
    const n = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'");
    expect(n.rows[0]?.n).toBe(5);
    // A restart still reminds the operator how to get a token.
    expect(printed.join('')).toContain('npx joinedup token --client demo-gp');
  });

  it('adds demo agreements only where their id is absent, never reviving an ended one', async () => {
    await db.query("UPDATE sharing_agreement SET ended_at = '2026-01-01T00:00:00Z' WHERE id = 'midshire-direct-care'");
    await db.query("DELETE FROM sharing_agreement WHERE id = 'midshire-safeguarding-adults'");
    expect(await db.transaction((tx) => seedDemoAgreements(tx))).toEqual(['midshire-safeguarding-adults']);
    const all = await loadAgreements(db);
    expect(all).toHaveLength(DEMO_AGREEMENTS.length);
    expect(all.find((a) => a.id === 'midshire-direct-care')).toMatchObject({ version: 1, endedAt: '2026-01-01T00:00:00.000Z' });
  });

  it('does not duplicate patients a database already holds (one used before clients existed)', async () => {
    await db.query('DELETE FROM client');
    const otherDir = mkdtempSync(join(tmpdir(), 'joinedup-demo-'));
    try {
      const manifest = await seedDemo(db, { dataDir: otherDir, baseUrl: 'http://127.0.0.1:8080', logger });
      expect(manifest?.clients).toHaveLength(DEMO_CLIENTS.length);
      const counts = await db.query<{ resource_type: string; n: number }>(
        'SELECT resource_type, count(*)::int AS n FROM resource GROUP BY resource_type ORDER BY resource_type'
      );
      expect(counts.rows).toEqual([
        { resource_type: 'CarePlan', n: 5 },
        { resource_type: 'Patient', n: 5 },
      ]);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
