import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { generateClientKeyPair } from '../../src/auth/key-generation.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../../src/cli/client-assertion-builder.ts';
import type { SigningKey } from '../../src/cli/client-assertion-builder.ts';
import { migrate } from '../../src/db/migrations.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { createPrivatePostgres } from './support/private-postgres.ts';
import type { PrivatePostgres } from './support/private-postgres.ts';

/*
 * Issue #9, fault (b): PostgreSQL stops under load and comes back. While it
 * is down every request is answered fast with 503, an OperationOutcome
 * (code transient) and Retry-After: no 500, no hang. When it is back the
 * same gateway process serves again by itself, every write it confirmed is
 * stored, none it refused is half-stored, and the audit chain verifies.
 */

/** A client must hear back within this, database or not. */
const ANSWER_BOUND_MS = 6_000;
/** How long the gateway may take to notice the database is back. */
const RECOVERY_BOUND_MS = 15_000;
const WORKERS = 4;
const SEED_BASE = 73_000;
const TOKEN_EVERY_MS = 700;

interface Exchange {
  worker: number;
  kind: 'create' | 'read' | 'search' | 'token' | 'council';
  seed?: number;
  started: number;
  ms: number;
  status: number;
  retryAfter: string | null;
  body: any;
  /** A council push answered 200 whose record the database failure refused (503 in its result). */
  recordRefused?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL stops under load and starts again (one gateway process throughout)', () => {
  let cluster: PrivatePostgres | undefined;
  let db: Database | undefined;
  let server: TestServer | undefined;
  let signer: SigningKey;

  beforeAll(async () => {
    cluster = await createPrivatePostgres();
    await cluster.start();
    // The gateway's own pool, as server.ts opens it, with a short connect bound.
    db = await openPostgres(cluster.url, 8, { connectTimeoutMs: 2_000 });
    await migrate(db);
    // Every request goes to the database (nothing answered from a cache during the outage).
    server = await startTestServer(db, { CLIENT_STATUS_TTL_MS: '1000', GATE_FACTS_TTL_MS: '0' });
    const pair = await generateClientKeyPair('ES384');
    await server.clients.register({
      clientId: 'fault-gp',
      organisation: { ods: 'X99001', name: 'Fault Test Surgery (synthetic)', kind: 'gp-practice' },
      jwks: pair.publicJwks,
      scopes: ['system/*.rs'],
      purposes: ['TREAT'],
    });
    signer = signingKeyFromJwk(pair.privateJwk);
  }, 120_000);

  afterAll(async () => {
    // Each step on its own: a failure in one must not leave the cluster running.
    if (cluster && !cluster.running) await cluster.start().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await cluster?.destroy();
  }, 60_000);

  const tokenRequest = async (): Promise<Response> =>
    fetch(`${server!.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: buildClientAssertion(signer, { clientId: 'fault-gp', tokenUrl: `${server!.baseUrl}/auth/token`, ods: 'X99001', user: { id: 'fault-gp-user', role: 'R8000' }, purpose: 'TREAT' }),
      }).toString(),
      signal: AbortSignal.timeout(ANSWER_BOUND_MS * 3),
    });

  it('answers 503 OperationOutcome with Retry-After while it is down, recovers by itself, loses nothing', { timeout: 120_000 }, async () => {
    const s = server!;
    const councilToken = await s.issueToken({ organisation: { ods: 'X9C01', name: 'Fault Test Council (synthetic)', kind: 'local-authority' }, scopes: parseScopes('system/council.write') });
    const personRecord = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/examples/council/person.json'), 'utf8'));
    const log: Exchange[] = [];
    let nextSeed = SEED_BASE;
    let stopping = false;
    let lastToken = 0;

    const timed = async (worker: number, kind: Exchange['kind'], fn: () => Promise<{ status: number; headers: Headers; body: any }>, seed?: number): Promise<Exchange> => {
      const started = Date.now();
      let r: { status: number; headers: Headers; body: any };
      try {
        r = await fn();
      } catch (err) {
        // A hang (the abort below) or a dropped connection is a failure of its own kind.
        r = { status: -1, headers: new Headers(), body: { error: (err as Error).name } };
      }
      const e: Exchange = { worker, kind, started, ms: Date.now() - started, status: r.status, retryAfter: r.headers.get('retry-after'), body: r.body, ...(seed !== undefined ? { seed } : {}) };
      log.push(e);
      return e;
    };
    const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      Promise.race([
        s.request(method, path, body, headers),
        sleep(ANSWER_BOUND_MS * 3).then(() => {
          throw Object.assign(new Error('no answer'), { name: 'Hang' });
        }),
      ]);

    // Each worker: create a Patient, read it back, search by its NHS number; over and over.
    const worker = async (w: number): Promise<void> => {
      let lastId: string | undefined;
      let lastNhs: string | undefined;
      while (!stopping) {
        const seed = nextSeed++;
        const created = await timed(w, 'create', () => api('POST', 'Patient', testPatient(seed)), seed);
        if (created.status === 201) {
          lastId = created.body.id;
          lastNhs = makeTestNhsNumber(seed);
        }
        if (lastId) await timed(w, 'read', () => api('GET', `Patient/${lastId}`));
        if (lastNhs) await timed(w, 'search', () => api('GET', `Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${lastNhs}`));
        // A council push: its own route, its own per-record transactions and audit.
        if (w === 1) {
          const record = { ...personRecord, source: { ...personRecord.source, system: 'mosaic-faulttest', recordId: `PER-${seed}` }, person: { localId: `FT-${seed}`, nhsNumber: makeTestNhsNumber(seed + 100_000) } };
          const pushed = await timed(w, 'council', () => api('POST', `${s.baseUrl}/council/v1/records`, record, { authorization: `Bearer ${councilToken}`, 'content-type': 'application/json', accept: 'application/json' }), seed);
          // A push answers 200 with a result per record: stored, or (the database failed under that record alone) rejected 503, transient.
          const result = pushed.body?.results?.[0];
          if (pushed.status === 200 && result?.status !== 'created') {
            if (result?.httpStatus === 503 && result.issues?.issue?.[0]?.code === 'transient') pushed.recordRefused = true;
            else pushed.status = -2;
          }
        }
        // The token endpoint is rate limited per address (60 a minute): ask at a pace below that.
        if (w === 0 && Date.now() - lastToken >= TOKEN_EVERY_MS) {
          lastToken = Date.now();
          await timed(w, 'token', async () => {
          const res = await tokenRequest();
            return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
          });
        }
        await sleep(20);
      }
    };

    const summary = (es: Exchange[]) => es.map((e) => `${e.kind}:${e.status}:${e.ms}ms${e.status >= 500 || e.status < 0 || e.recordRefused ? `:${JSON.stringify(e.body).slice(0, 120)}` : ''}`).join('\n');

    // One outage: stop PostgreSQL under load, leave it down, start it, wait until every worker succeeds again.
    const outage = async (mode: 'fast' | 'immediate'): Promise<{ mode: string; before: Exchange[]; during: Exchange[]; after: Exchange[]; recovered: boolean }> => {
      const since = Date.now();
      await sleep(1_500);
      const stopAsked = Date.now();
      await cluster!.stop(mode);
      const stoppedAt = Date.now();
      await sleep(3_000);
      const startAsked = Date.now();
      await cluster!.start();
      const startedAt = Date.now();
      // Recovery: without touching the gateway, every worker succeeds again within the bound.
      let recoveredAt: number | undefined;
      while (recoveredAt === undefined && Date.now() < startedAt + RECOVERY_BOUND_MS) {
        const recent = log.filter((e) => e.started > Date.now() - 1_000 && e.started >= startedAt);
        if (recent.length >= WORKERS * 2 && recent.every((e) => (e.status === 200 || e.status === 201) && !e.recordRefused)) recoveredAt = Date.now();
        else await sleep(200);
      }
      // Then steady load once more, to see that it stays recovered.
      await sleep(1_500);
      const until = Date.now();
      return {
        mode,
        before: log.filter((e) => e.started >= since && e.started + e.ms < stopAsked),
        during: log.filter((e) => e.started >= stoppedAt && e.started + e.ms <= startAsked),
        after: recoveredAt === undefined ? [] : log.filter((e) => e.started >= recoveredAt! && e.started < until),
        recovered: recoveredAt !== undefined,
      };
    };

    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    // fast: sessions are told (57P01) and sockets close; immediate: the server vanishes as in a crash and recovers from WAL.
    const cycles = [await outage('fast'), await outage('immediate')];
    stopping = true;
    await Promise.all(workers);

    for (const c of cycles) {
      expect(c.recovered, `${c.mode}: not recovered ${RECOVERY_BOUND_MS} ms after PostgreSQL was back`).toBe(true);
      expect(c.before.length, `${c.mode}: load ran before the stop`).toBeGreaterThan(WORKERS);
      expect(c.during.length, `${c.mode}: load ran during the outage`).toBeGreaterThan(WORKERS);
      // While it is down: every answer is a 503 (checked in detail below).
      expect(summary(c.during.filter((e) => e.status !== 503)), c.mode).toBe('');
      // Every kind of request met the outage (so each path was really tested).
      expect(new Set(c.during.map((e) => e.kind)), c.mode).toEqual(new Set(['create', 'read', 'search', 'token', 'council']));
      // Back by itself: everything after recovery succeeds.
      expect(c.after.length, c.mode).toBeGreaterThan(WORKERS);
      expect(summary(c.after.filter((e) => (e.status !== 200 && e.status !== 201) || e.recordRefused)), c.mode).toBe('');
      expect(c.after.some((e) => e.kind === 'token' && e.status === 200), `${c.mode}: a token after recovery`).toBe(true);
    }

    // Never a 500, never a hang, never a dropped connection; only success or 503.
    const odd = log.filter((e) => ![200, 201, 503].includes(e.status));
    expect(summary(odd)).toBe('');
    const slow = log.filter((e) => e.ms >= ANSWER_BOUND_MS);
    expect(summary(slow)).toBe('');

    // Every 503 says what happened and when to come back.
    for (const e of log.filter((x) => x.status === 503)) {
      expect(Number(e.retryAfter), `${e.kind} Retry-After`).toBeGreaterThan(0);
      if (e.kind === 'token') {
        expect(e.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('database is unavailable') });
      } else {
        expect(e.body.resourceType).toBe('OperationOutcome');
        expect(e.body.issue[0].code).toBe('transient');
        expect(e.body.issue[0].details.text).toContain('database is unavailable');
        expect(e.body.id).toBeUndefined();
      }
    }
    // Nothing lost: each confirmed create is stored, once, whole (current row and its version).
    const creates = log.filter((e) => e.kind === 'create');
    const stored = await storedPatients(db!, creates.map((e) => makeTestNhsNumber(e.seed!)));
    for (const e of creates.filter((x) => x.status === 201)) {
      const rows = stored.get(makeTestNhsNumber(e.seed!)) ?? [];
      expect(rows.map((r) => r.id), `create ${e.seed}`).toEqual([e.body.id]);
      expect(rows[0]!.versions).toBe(1);
    }
    // A refused create is not stored, or (its COMMIT reached the server just as it went down) stored whole.
    const refused = creates.filter((x) => x.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      const rows = stored.get(makeTestNhsNumber(e.seed!)) ?? [];
      expect(rows.length, `refused create ${e.seed}`).toBeLessThanOrEqual(1);
      for (const r of rows) expect(r.versions).toBe(1);
    }

    const chain = await verifyAuditChain(db!);
    expect(chain.ok, JSON.stringify(chain.firstBroken)).toBe(true);
    // Every confirmed exchange has its audit record (reads and searches audited before they were answered).
    const audited = await db!.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
    const confirmed = log.filter((e) => e.kind !== 'token' && (e.status === 200 || e.status === 201) && !e.recordRefused).length;
    // Council pushes confirmed are in the ledger; refused ones are not half-stored (all their resources, or none).
    const pushes = log.filter((e) => e.kind === 'council');
    const ledger = await db!.query<{ record_id: string; missing: number }>(
      `SELECT c.record_id, (SELECT count(*)::int FROM unnest(c.resources) ref
                             WHERE NOT EXISTS (SELECT 1 FROM resource x WHERE x.resource_type || '/' || x.id = ref)) AS missing
         FROM council_record c WHERE c.source_system = 'mosaic-faulttest'`
    );
    const inLedger = new Map(ledger.rows.map((r) => [r.record_id, r.missing]));
    for (const e of pushes.filter((x) => x.status === 200 && !x.recordRefused)) expect(inLedger.get(`PER-${e.seed}`), `push ${e.seed} lost`).toBe(0);
    for (const [id, missing] of inLedger) expect(missing, `push ${id} half-stored`).toBe(0);
    expect(audited.rows[0]!.n).toBeGreaterThanOrEqual(confirmed);
  });
});

/** Stored Patients by NHS number: id and how many versions each has (current row and history must agree). */
async function storedPatients(db: Database, nhsNumbers: string[]): Promise<Map<string, Array<{ id: string; versions: number }>>> {
  const r = await db.query<{ nhs: string; id: string; version_id: number; versions: number }>(
    `SELECT n.nhs, r.id, r.version_id,
            (SELECT count(*)::int FROM resource_version v WHERE v.resource_type = 'Patient' AND v.id = r.id) AS versions
       FROM unnest($1::text[]) AS n(nhs)
       JOIN resource r ON r.resource_type = 'Patient' AND r.content LIKE '%"' || n.nhs || '"%'`,
    [nhsNumbers]
  );
  const map = new Map<string, Array<{ id: string; versions: number }>>();
  for (const row of r.rows) {
    expect(row.versions).toBe(row.version_id);
    map.set(row.nhs, [...(map.get(row.nhs) ?? []), { id: row.id, versions: row.versions }]);
  }
  return map;
}
