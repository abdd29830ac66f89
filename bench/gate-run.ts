/**
 * npm run bench:gate-http — what the lawful-basis gate costs over HTTP
 * (issue 5, item 10: "gated read by id and gated search vs ungated in the
 * same run, goal >= 0.8x").
 *
 * Two gateway child processes run on the same PostgreSQL schema, both with
 * AUTH_MODE=smart: the normal gateway (src/main.ts, gated) and the same
 * gateway started with ServerOptions.ungatedBaselineForBenchmarks
 * (bench/ungated-server.ts), whose FHIR reads and searches skip the gate and
 * nothing else (same authentication, routing, repository and SQL). With
 * BENCH_GATE_COLD=1 a third child runs gated with GATE_FACTS_TTL_MS=0, so
 * every request loads the person's facts from the database (no facts cache).
 *
 * Data (bench/gate-fixture.ts): BENCH_PATIENTS people (300) pushed as
 * council records by a council client (ODS X9C01, so the council controls every resource) through
 * POST /council/v1/import: per person a person record (registered with GP
 * practice X99001), a care plan, a care team, a service, a contact, 5
 * consents of varied scope (given to the GP, refused to the trust, given to
 * another practice, research refusal, a later renewal for the GP), 8 reviews
 * and 2 assessments (10 Tasks). The sharing agreement is
 * docs/examples/agreements/midshire-direct-care.json. The reader is a GP
 * client (X99001, gp-practice, purpose TREAT) with tokens from each
 * gateway's own token endpoint.
 *
 * Scenarios, each gated vs ungated, alternating within every round (the order
 * rotates between rounds so no variant always goes first):
 *   read     GET /fhir/Patient/{id}
 *   search1  GET /fhir/CarePlan?patient={id}   (1 match)
 *   search10 GET /fhir/Task?patient={id}       (10 matches)
 * (BENCH_GATE_SCENARIOS picks some of them.)
 * Requests cycle over all the people, so the gate's per-person facts cache
 * (GATE_FACTS_TTL_MS, 5 s by default) misses once per person per TTL.
 *
 * Settings (environment): BENCH_DATABASE_URL, BENCH_SECONDS (10),
 * BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (10), BENCH_PATIENTS (300),
 * BENCH_POOL_SIZE (10), BENCH_ROUNDS (1; the table then shows medians),
 * BENCH_GATE_FACTS_TTL_MS (the gated gateway's GATE_FACTS_TTL_MS; unset: the
 * product default), BENCH_GATE_COLD (1: add the TTL-0 gated gateway),
 * BENCH_GATE_SCENARIOS (comma list of read, search1, search10; all by default),
 * BENCH_CPU_PROF_DIR (write V8 CPU profiles of the gated and the ungated
 * gateway there, named by pid as logged; the data are then loaded through
 * a third, unprofiled gateway, so the profiles hold only the checks and the
 * measured requests).
 */
import os from 'node:os';
import { loadConfig } from '../src/config.ts';
import { ASSESSMENTS, FHIR_JSON, GP_ODS, REVIEWS, STRANGER_ODS, getToken, loadCaseload, registerClientsAndAgreement, tokenContext } from './gate-fixture.ts';
import type { Keys } from './gate-fixture.ts';
import { measureRequests, median } from './measure.ts';
import type { BenchRequest, Measurement } from './measure.ts';
import { startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { CONNECTIONS, DATABASE_URL, POOL, ROUNDS, SECONDS, WARMUP, benchNumber } from './settings.ts';

const PATIENTS = Math.floor(benchNumber('BENCH_PATIENTS', 300));
const GOAL = 0.8;

// '' or unset: the product default, read from the same config schema the gateway uses.
const TTL_SETTING = process.env.BENCH_GATE_FACTS_TTL_MS;
if (TTL_SETTING !== undefined && TTL_SETTING !== '' && !/^\d+$/.test(TTL_SETTING)) throw new Error('BENCH_GATE_FACTS_TTL_MS must be a whole number of ms (0 = no facts cache)');
const FACTS_TTL_MS = TTL_SETTING ? Number(TTL_SETTING) : loadConfig({}).GATE_FACTS_TTL_MS;
const COLD = process.env.BENCH_GATE_COLD === '1';

type Variant = 'ungated' | 'gated' | 'gated, facts TTL 0';
const VARIANTS: Variant[] = COLD ? ['ungated', 'gated', 'gated, facts TTL 0'] : ['ungated', 'gated'];
const KINDS = {
  read: { label: 'read Patient/{id}', path: (id: string) => `/fhir/Patient/${id}` },
  search1: { label: 'search CarePlan?patient= (1)', path: (id: string) => `/fhir/CarePlan?patient=${id}` },
  search10: { label: `search Task?patient= (${REVIEWS + ASSESSMENTS})`, path: (id: string) => `/fhir/Task?patient=${id}` },
} as const;
type Kind = keyof typeof KINDS;
const KIND_NAMES = (process.env.BENCH_GATE_SCENARIOS ?? Object.keys(KINDS).join(',')).split(',').map((k) => k.trim()) as Kind[];
for (const k of KIND_NAMES) if (!(k in KINDS)) throw new Error(`BENCH_GATE_SCENARIOS: unknown scenario "${k}" (known: ${Object.keys(KINDS).join(', ')})`);

async function main(): Promise<number> {
  const pgVersion = await adminQuery<{ v: string }>(DATABASE_URL, "SELECT current_setting('server_version') AS v").then((r) => r[0]?.v);
  log(`machine: ${os.availableParallelism()} cpus (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, PostgreSQL ${pgVersion}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  log(`settings: ${CONNECTIONS} connections, ${SECONDS} s per scenario after ${WARMUP} s warm-up, pool ${POOL}, ${ROUNDS} round(s), ${PATIENTS} people, gated facts TTL ${FACTS_TTL_MS} ms${TTL_SETTING ? ' (BENCH_GATE_FACTS_TTL_MS)' : ' (default)'}${COLD ? ', plus a gated gateway with facts TTL 0' : ''}`);

  const schema = await createBenchSchema(DATABASE_URL);
  const services: Service[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await schema.drop();
  };
  process.once('SIGINT', () => void cleanup().catch((e) => console.error('cleanup', e)).finally(() => process.exit(130)));
  try {
    const common = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, DEMO_DATA: 'off', AUTH_MODE: 'smart', RATE_LIMIT_PER_CLIENT: '0', RATE_LIMIT_TOKEN_PER_IP: '0' };
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    // One after the other: the first migrates the schema, the others find it done.
    const servers = new Map<Variant, Service>();
    const gated = await startService('gated', 'src/main.ts', { ...common, GATE_FACTS_TTL_MS: String(FACTS_TTL_MS) }, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
    services.push(gated);
    servers.set('gated', gated);
    const ungated = await startService('ungated', 'bench/ungated-server.ts', { ...common }, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
    services.push(ungated);
    servers.set('ungated', ungated);
    if (COLD) {
      const cold = await startService('gated-ttl0', 'src/main.ts', { ...common, GATE_FACTS_TTL_MS: '0' });
      services.push(cold);
      servers.set('gated, facts TTL 0', cold);
    }
    log(`${[...servers].map(([v, s]) => `${v}: pid ${s.pid} at ${s.url}`).join('; ')}; schema ${schema.name}`);

    const keys = await registerClientsAndAgreement(schema.url);
    // When profiling, through a third, unprofiled gateway (stopped after), so the profiles hold only the checks and the measured requests.
    const loader = profDir ? await startService('loader', 'src/main.ts', { ...common }) : ungated;
    const loaded = await loadCaseload(loader, keys.council, schema.url, PATIENTS);
    if (loader !== ungated) await loader.stop();
    log(`loaded ${PATIENTS} people through ${loader.name === 'loader' ? 'a separate loader gateway' : 'the ungated gateway'}'s /council/v1/import in ${loaded.seconds.toFixed(1)} s: ${loaded.byType}`);
    const tables = await adminQuery<{ tablename: string }>(schema.url, 'SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema.name]);
    for (const t of tables) await adminQuery(schema.url, `ANALYZE ${schema.name}.${t.tablename}`);
    const ids = loaded.patientIds;

    const gpContext = (s: Service) => tokenContext(s, 'bench-gp', GP_ODS, 'TREAT');
    await checkAnswers(servers, ids, keys);

    const results = new Map<string, Measurement[]>();
    const key = (k: Kind, v: Variant): string => `${k}\u001f${v}`;
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate which variant goes first, so none always runs on a fresher (or warmer) machine.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round - 1) % VARIANTS.length]!);
      for (const kind of KIND_NAMES) {
        for (const variant of order) {
          const server = servers.get(variant)!;
          // A fresh token per run, one token for every request of the run, as a client would for its five minutes.
          const headers = { ...FHIR_JSON, authorization: `Bearer ${await getToken(keys.gp, await gpContext(server), server)}` };
          let i = 0;
          const next = (): BenchRequest => ({ method: 'GET', path: KINDS[kind].path(ids[i++ % ids.length]!), headers });
          await measureRequests(server.url, next, WARMUP, CONNECTIONS);
          const m = await measureRequests(server.url, next, SECONDS, CONNECTIONS, server.pid);
          log(`round ${round} ${KINDS[kind].label}, ${variant}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${m.cpuUsPerReq.toFixed(0)} µs/req, status ${JSON.stringify(m.statusCodes)}`);
          const list = results.get(key(kind, variant)) ?? [];
          list.push(m);
          results.set(key(kind, variant), list);
        }
      }
    }
    return report(results, key);
  } finally {
    await cleanup();
  }
}


type Bundle = { total?: number; entry?: { resource: { resourceType: string; id: string } }[] };

/**
 * Before measuring: every variant answers the GP alike (the gate permits the
 * whole record, so gated and ungated do the same work and return the same
 * bytes), and the gate is really on where it should be: a practice outside
 * every agreement gets 404 and empty searches from the gated gateways and
 * everything from the ungated one.
 */
async function checkAnswers(servers: Map<Variant, Service>, ids: string[], keys: Keys): Promise<void> {
  const get = async (server: Service, path: string, token: string): Promise<{ status: number; body: Bundle & { resourceType?: string } }> => {
    const res = await fetch(`${server.url}${path}`, { headers: { ...FHIR_JSON, authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Bundle };
  };
  const counts: string[] = [];
  for (const [variant, server] of servers) {
    const gp = await getToken(keys.gp, await tokenContext(server, 'bench-gp', GP_ODS, 'TREAT'), server);
    const stranger = await getToken(keys.stranger, await tokenContext(server, 'bench-stranger', STRANGER_ODS, 'TREAT'), server);
    for (const id of ids.slice(0, 5)) {
      const read = await get(server, KINDS.read.path(id), gp);
      if (read.status !== 200) throw new Error(`${variant}: GP read of Patient/${id} answered ${read.status}`);
      for (const [kind, expected] of [['search1', 1], ['search10', REVIEWS + ASSESSMENTS]] as const) {
        const s = await get(server, KINDS[kind].path(id), gp);
        const n = (s.body.entry ?? []).length;
        if (s.status !== 200 || n !== expected || s.body.total !== expected) {
          throw new Error(`${variant}: GP ${KINDS[kind].path(id)} answered ${s.status} with ${n} entries, total ${s.body.total}; expected ${expected}`);
        }
      }
      const sRead = await get(server, KINDS.read.path(id), stranger);
      const sSearch = await get(server, KINDS.search10.path(id), stranger);
      const withheld = sRead.status === 404 && (sSearch.body.entry ?? []).length === 0;
      if (variant === 'ungated' ? withheld : !withheld) {
        throw new Error(`${variant}: a practice outside every agreement got read ${sRead.status} and ${(sSearch.body.entry ?? []).length} Tasks: the gate is ${variant === 'ungated' ? 'on' : 'off'}`);
      }
    }
    counts.push(variant);
  }
  log(`checked (${counts.join(', ')}): the GP reads each Patient and finds 1 CarePlan and ${REVIEWS + ASSESSMENTS} Tasks everywhere; a practice outside the agreement is refused by the gate only where it is on`);
}

function report(results: Map<string, Measurement[]>, key: (k: Kind, v: Variant) => string): number {
  const header = ['scenario', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'ratio (req/s)', 'ratio (CPU)'];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  let failures = 0;
  let missed = false;
  for (const kind of KIND_NAMES) {
    const base = results.get(key(kind, 'ungated'))!;
    const baseCpu = median(base.map((m) => m.cpuUsPerReq));
    for (const variant of VARIANTS) {
      const ms = results.get(key(kind, variant))!;
      failures += ms.reduce((n, m) => n + m.failures, 0);
      const cpu = median(ms.map((m) => m.cpuUsPerReq));
      // The ratio of each round's pair, then their median: both runs of a round saw the same machine.
      const ratios = ms.map((m, i) => m.reqPerSec / base[i]!.reqPerSec);
      const ratio = median(ratios);
      rows.push([
        KINDS[kind].label,
        variant === 'gated' ? `gated (facts TTL ${FACTS_TTL_MS} ms)` : variant,
        median(ms.map((m) => m.reqPerSec)).toFixed(0),
        median(ms.map((m) => m.p50)).toFixed(2),
        median(ms.map((m) => m.p99)).toFixed(2),
        Number.isNaN(cpu) ? 'n/a' : cpu.toFixed(0),
        variant === 'ungated' ? '1.00' : ratio.toFixed(2),
        variant === 'ungated' || Number.isNaN(cpu) ? (variant === 'ungated' ? '1.00' : 'n/a') : (baseCpu / cpu).toFixed(2),
      ]);
      if (variant === 'gated') {
        if (ratio < GOAL) missed = true;
        verdicts.push(
          `${KINDS[kind].label}: gated ${ratio.toFixed(2)} x ungated req/s${ROUNDS > 1 ? ` (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` : ''}, ` +
            `${(baseCpu / cpu).toFixed(2)} x by server CPU (${cpu - baseCpu >= 0 ? '+' : ''}${(cpu - baseCpu).toFixed(0)} µs/req for the gate)`
        );
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${ROUNDS > 1 ? `Medians of ${ROUNDS} rounds` : 'Results'} (${CONNECTIONS} connections, ${SECONDS} s each, ${PATIENTS} people; ratios are gated / ungated, per round then median):\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
  for (const v of verdicts) console.log(v);
  console.log(`Goal >= ${GOAL} x ungated for every scenario (gated, facts TTL ${FACTS_TTL_MS} ms): ${missed ? 'MISSED' : 'met'}`);
  if (failures) console.error(`\nFAILED: ${failures} non-2xx responses, errors or timeouts; the numbers are not valid.`);
  return failures ? 1 : 0;
}

function log(message: string): void {
  console.log(`[bench:gate-http] ${message}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:gate-http failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
);
