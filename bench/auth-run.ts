/**
 * npm run bench:auth — what SMART Backend Services costs.
 *
 * Two gateway child processes run on the same PostgreSQL schema: one with
 * AUTH_MODE=smart (the default), one with AUTH_MODE=open-development. In the
 * same run, autocannon measures
 *   1. the token endpoint: POST /auth/token, each request with its own client
 *      assertion (a replayed jti would be refused), ES384 by default;
 *   2. GET /fhir/Patient/{id} with a bearer token on the smart gateway, and
 *      the same reads without one on the open gateway.
 * The goal: an authenticated read reaches at least 0.9 x the open read's
 * req/s. Scenarios alternate within each round (and swap order between
 * rounds), so both reads see the same machine.
 *
 * Settings (environment): BENCH_DATABASE_URL, BENCH_SECONDS (10),
 * BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (10), BENCH_PATIENTS (300),
 * BENCH_POOL_SIZE (10), BENCH_ROUNDS (1; the table then shows medians),
 * BENCH_ASSERTIONS (6000 pre-signed client assertions per token run; more are
 * signed on the fly if the gateway is faster), BENCH_CLIENT_ALG (ES384 | RS384),
 * BENCH_CPU_PROF_DIR (write a V8 CPU profile of the smart gateway there).
 */
import os from 'node:os';
import { ClientRegistry } from '../src/auth/client-registry.ts';
import { generateClientKeyPair } from '../src/auth/key-generation.ts';
import type { ClientKeyAlg } from '../src/auth/key-generation.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../src/cli/client-assertion-builder.ts';
import type { AssertionContext, SigningKey } from '../src/cli/client-assertion-builder.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { loadData } from './load.ts';
import { measureRequests, median } from './measure.ts';
import type { BenchRequest, Measurement } from './measure.ts';
import { startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { CONNECTIONS, DATABASE_URL, POOL, ROUNDS, SECONDS, WARMUP, benchNumber } from './settings.ts';

const PATIENTS = benchNumber('BENCH_PATIENTS', 300);
const ASSERTIONS = benchNumber('BENCH_ASSERTIONS', 6000);
const CLIENT_ALG = (process.env.BENCH_CLIENT_ALG ?? 'ES384') as ClientKeyAlg;
if (CLIENT_ALG !== 'ES384' && CLIENT_ALG !== 'RS384') throw new Error('BENCH_CLIENT_ALG must be ES384 or RS384');
const GOAL = 0.9;
const TABLES = ['resource', 'resource_version', 'sp_token', 'sp_string', 'sp_reference', 'sp_date'];
const FHIR_JSON = { accept: 'application/fhir+json' };

const SCENARIOS = ['read, open-development (no token)', 'read, smart (bearer token)', 'token endpoint (client_credentials)'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

async function main(): Promise<number> {
  const pgVersion = await adminQuery<{ v: string }>(DATABASE_URL, "SELECT current_setting('server_version') AS v").then((r) => r[0]?.v);
  log(`machine: ${os.availableParallelism()} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, PostgreSQL ${pgVersion}`);
  log(`settings: ${CONNECTIONS} connections, ${SECONDS} s per scenario after ${WARMUP} s warm-up, pool ${POOL}, ${ROUNDS} round(s), client assertions ${CLIENT_ALG}`);

  const schema = await createBenchSchema(DATABASE_URL);
  const services: Service[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await schema.drop();
  };
  process.once('SIGINT', () => void cleanup().catch((e) => console.error('cleanup', e)).finally(() => process.exit(130)));
  try {
    const common = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, DEMO_DATA: 'off', RATE_LIMIT_PER_CLIENT: '0', RATE_LIMIT_TOKEN_PER_IP: '0' };
    // One after the other: the first migrates the schema, the second finds it done.
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const smart = await startService('smart', 'src/main.ts', { ...common, AUTH_MODE: 'smart' }, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
    services.push(smart);
    const open = await startService('open', 'src/main.ts', { ...common, AUTH_MODE: 'open-development' });
    services.push(open);
    log(`smart gateway pid ${smart.pid} at ${smart.url}, open gateway pid ${open.pid} at ${open.url}, schema ${schema.name}`);

    // Loaded through the open gateway: the data are the same rows for both.
    const loaded = await loadData(`${open.url}/fhir`, PATIENTS, 0);
    log(`loaded ${loaded.resources} Patients in ${loaded.seconds.toFixed(1)} s`);
    for (const t of TABLES) await adminQuery(schema.url, `ANALYZE ${schema.name}.${t}`);

    const signer = await registerBenchClient(schema.url);
    const tokenUrl = await discoverTokenUrl(smart.url);
    const context: AssertionContext = {
      clientId: 'bench-client',
      tokenUrl,
      ods: 'X99001',
      user: { id: 'bench-user-1', role: 'R8000' },
      purpose: 'TREAT',
      // Pre-signed assertions wait up to a minute before use; the gateway accepts at most 300 s.
      lifetimeSeconds: 280,
    };
    const paths = loaded.patients.map((p) => `/fhir/Patient/${p.id}`);
    await checkAnswers(open, smart, paths[0]!, signer, context);

    const results = new Map<ScenarioName, Measurement[]>(SCENARIOS.map((s) => [s, []]));
    let signedOnTheFly = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const reads: ScenarioName[] = round % 2 ? [SCENARIOS[0], SCENARIOS[1]] : [SCENARIOS[1], SCENARIOS[0]];
      for (const name of [...reads, SCENARIOS[2]]) {
        let m: Measurement;
        if (name === SCENARIOS[2]) {
          const pool = presign(signer, context, ASSERTIONS);
          const next = (): BenchRequest => {
            const assertion = pool.pop() ?? (signedOnTheFly++, buildClientAssertion(signer, context));
            return { method: 'POST', path: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: tokenForm(assertion) };
          };
          await measureRequests(smart.url, next, WARMUP, CONNECTIONS);
          m = await measureRequests(smart.url, next, SECONDS, CONNECTIONS, smart.pid);
        } else {
          const server = name === SCENARIOS[0] ? open : smart;
          // A fresh token each run: one token reused for every request, as a client would for its five minutes.
          const headers: Record<string, string> = name === SCENARIOS[0] ? { ...FHIR_JSON } : { ...FHIR_JSON, authorization: `Bearer ${await getToken(signer, context)}` };
          let i = 0;
          const next = (): BenchRequest => ({ method: 'GET', path: paths[i++ % paths.length]!, headers });
          await measureRequests(server.url, next, WARMUP, CONNECTIONS);
          m = await measureRequests(server.url, next, SECONDS, CONNECTIONS, server.pid);
        }
        log(`round ${round} ${name}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${m.cpuUsPerReq.toFixed(0)} µs/req, status ${JSON.stringify(m.statusCodes)}`);
        results.get(name)!.push(m);
      }
    }
    if (signedOnTheFly) log(`${signedOnTheFly} assertions were signed during measurement (raise BENCH_ASSERTIONS): the token rate includes the load generator's signing`);
    return report(results);
  } finally {
    await cleanup();
  }
}

/** Registers the bench client directly in the registry (as `joinedup client register` would) and returns its signing key. */
async function registerBenchClient(url: string): Promise<SigningKey> {
  const pair = await generateClientKeyPair(CLIENT_ALG);
  const db = await openPostgres(url, 1);
  try {
    await new ClientRegistry(db).register({
      clientId: 'bench-client',
      organisation: { ods: 'X99001', name: 'Bench Surgery (synthetic)', kind: 'gp-practice' },
      jwks: pair.publicJwks,
      scopes: ['system/*.rs'],
      purposes: ['TREAT'],
    });
  } finally {
    await db.close();
  }
  return signingKeyFromJwk(pair.privateJwk);
}

async function discoverTokenUrl(base: string): Promise<string> {
  const res = await fetch(`${base}/.well-known/smart-configuration`);
  const doc = (await res.json()) as { token_endpoint?: string };
  if (!doc.token_endpoint) throw new Error('the smart gateway advertises no token_endpoint');
  return doc.token_endpoint;
}

function tokenForm(assertion: string): string {
  return new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  }).toString();
}

async function getToken(signer: SigningKey, context: AssertionContext): Promise<string> {
  const res = await fetch(context.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(buildClientAssertion(signer, context)),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token request failed: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Signed ahead, so the load generator's signing does not compete with the gateway for the same cores. */
function presign(signer: SigningKey, context: AssertionContext, n: number): string[] {
  const started = performance.now();
  const list = Array.from({ length: n }, () => buildClientAssertion(signer, context));
  log(`pre-signed ${n} ${signer.alg} assertions in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return list;
}

/** Before measuring: both reads answer 200, the smart gateway refuses a read without a token, and the token endpoint issues one. */
async function checkAnswers(open: Service, smart: Service, path: string, signer: SigningKey, context: AssertionContext): Promise<void> {
  const token = await getToken(signer, context);
  const checks: Array<[string, Promise<Response>, number]> = [
    ['open read', fetch(`${open.url}${path}`, { headers: FHIR_JSON }), 200],
    ['smart read with token', fetch(`${smart.url}${path}`, { headers: { ...FHIR_JSON, authorization: `Bearer ${token}` } }), 200],
    ['smart read without token', fetch(`${smart.url}${path}`, { headers: FHIR_JSON }), 401],
  ];
  for (const [name, pending, expected] of checks) {
    const res = await pending;
    await res.arrayBuffer();
    if (res.status !== expected) throw new Error(`${name}: expected ${expected}, got ${res.status}`);
  }
}

function report(results: Map<ScenarioName, Measurement[]>): number {
  const summary = SCENARIOS.map((name) => {
    const ms = results.get(name)!;
    return {
      name,
      reqPerSec: median(ms.map((m) => m.reqPerSec)),
      p50: median(ms.map((m) => m.p50)),
      p99: median(ms.map((m) => m.p99)),
      cpu: median(ms.map((m) => m.cpuUsPerReq)),
      failures: ms.reduce((n, m) => n + m.failures, 0),
      rounds: ms,
    };
  });
  const [open, smart, token] = summary as [(typeof summary)[0], (typeof summary)[0], (typeof summary)[0]];
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req'];
  const rows = summary.map((r) => [r.name, r.reqPerSec.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), Number.isNaN(r.cpu) ? 'n/a' : r.cpu.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${ROUNDS > 1 ? `Medians of ${ROUNDS} rounds` : 'Results'} (${CONNECTIONS} connections, ${SECONDS} s each):\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));

  // The ratio of each round's pair, then their median: both reads of a round saw the same machine.
  const ratios = open.rounds.map((o, i) => smart.rounds[i]!.reqPerSec / o.reqPerSec);
  const ratio = median(ratios);
  // Server CPU per request barely depends on what else the machine does, so it is the steadier view of the same cost.
  const cpuRatio = open.cpu / smart.cpu;
  console.log(
    `\nAuthenticated read: ${ratio.toFixed(2)} x the open read's req/s${ROUNDS > 1 ? ` (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` : ''}. ` +
      `Goal >= ${GOAL}: ${ratio >= GOAL ? 'met' : 'MISSED'}`
  );
  if (!Number.isNaN(cpuRatio)) {
    console.log(
      `By server CPU per request: ${cpuRatio.toFixed(2)} x (${open.cpu.toFixed(0)} µs open, ${smart.cpu.toFixed(0)} µs smart, ` +
        `${smart.cpu - open.cpu >= 0 ? '+' : ''}${(smart.cpu - open.cpu).toFixed(0)} µs for authentication)`
    );
  }
  console.log(`Token endpoint: ${token.reqPerSec.toFixed(0)} tokens/s, p99 ${token.p99.toFixed(2)} ms, ${Number.isNaN(token.cpu) ? 'n/a' : token.cpu.toFixed(0)} µs server CPU per token`);
  const failed = summary.filter((r) => r.failures > 0);
  for (const r of failed) console.error(`\nFAILED: ${r.name} had ${r.failures} non-2xx responses, errors or timeouts; its numbers are not valid.`);
  return failed.length ? 1 : 0;
}

function log(message: string): void {
  console.log(`[bench:auth] ${message}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:auth failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
);
