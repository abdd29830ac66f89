/**
 * npm run bench — throughput and latency of the gateway on PostgreSQL,
 * against a bare node:http + pg baseline measured in the same run.
 *
 * Both servers run as child processes and autocannon runs here. Sharing one
 * event loop with the load generator would make the gateway's numbers depend
 * on autocannon's own CPU use (and vice versa); a separate process is also how
 * it runs in production. The machine's cores are still shared by the load
 * generator, the server and PostgreSQL, so numbers are relative, not absolute:
 * compare the gateway with the baseline from the same run. The "server CPU
 * µs/req" column (user + system time of the server process, from /proc) is
 * the steadiest number on a shared machine.
 *
 * Settings (environment): BENCH_DATABASE_URL, BENCH_SECONDS (10),
 * BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (10), BENCH_PATIENTS (1000),
 * BENCH_CAREPLANS_PER_PATIENT (10), BENCH_POOL_SIZE (10), BENCH_ROUNDS (1; the
 * table then shows medians), BENCH_CPU_PROF_DIR (write a V8 CPU profile of
 * the gateway there).
 */
import os from 'node:os';
import { loadData } from './load.ts';
import { measure, median } from './measure.ts';
import type { Measurement } from './measure.ts';
import { startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { CONNECTIONS, DATABASE_URL, POOL, ROUNDS, SECONDS, WARMUP, benchNumber } from './settings.ts';

const PATIENTS = benchNumber('BENCH_PATIENTS', 1000);
const PER_PATIENT = benchNumber('BENCH_CAREPLANS_PER_PATIENT', 10);
const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const TABLES = ['resource', 'resource_version', 'sp_token', 'sp_string', 'sp_reference', 'sp_date'];

interface Scenario {
  name: string;
  server: Service;
  paths: string[];
  /** The target this scenario is judged by, if any. */
  target?: 'ratio' | 'p99';
}

async function main(): Promise<number> {
  const pg = await adminQuery<{ v: string }>(DATABASE_URL, "SELECT current_setting('server_version') AS v").then((r) => r[0]?.v);
  log(`machine: ${os.availableParallelism()} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, PostgreSQL ${pg}`);
  log(`settings: ${CONNECTIONS} connections, ${SECONDS} s per scenario after ${WARMUP} s warm-up, pool ${POOL}, ${ROUNDS} round(s)`);

  const schema = await createBenchSchema(DATABASE_URL);
  const services: Service[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await schema.drop();
  };
  // Ctrl-C: stop the servers and drop the schema rather than leave them behind.
  process.once('SIGINT', () => void cleanup().catch((e) => console.error('cleanup', e)).finally(() => process.exit(130)));
  try {
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const gateway = await startService(
      'gateway',
      'src/main.ts',
      // The store is measured without authentication; `npm run bench:auth` measures its cost (read with a token vs without).
      { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, AUTH_MODE: 'open-development', DEMO_DATA: 'off' },
      profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
    );
    services.push(gateway);
    log(`gateway pid ${gateway.pid} at ${gateway.url}, schema ${schema.name}`);

    const loaded = await loadData(`${gateway.url}/fhir`, PATIENTS, PER_PATIENT);
    log(`loaded ${loaded.resources} resources in ${loaded.seconds.toFixed(1)} s: ${(loaded.resources / loaded.seconds).toFixed(0)} resources/s (transaction Bundles of 100, one at a time)`);
    for (const t of TABLES) await adminQuery(schema.url, `ANALYZE ${schema.name}.${t}`);

    const baseline = await startService('baseline', 'bench/bare-read-server.ts', { PORT: '0', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL });
    services.push(baseline);

    const ps = loaded.patients;
    const scenarios: Scenario[] = [
      { name: 'baseline: GET Patient/{id} (node:http + pg)', server: baseline, paths: ps.map((p) => `/fhir/Patient/${p.id}`) },
      { name: 'read: GET Patient/{id}', server: gateway, paths: ps.map((p) => `/fhir/Patient/${p.id}`), target: 'ratio' },
      {
        name: 'search: Patient by NHS number (identifier=)',
        server: gateway,
        paths: ps.map((p) => `/fhir/Patient?identifier=${encodeURIComponent(`${NHS_SYSTEM}|${p.nhs}`)}`),
        target: 'p99',
      },
      { name: 'search: CarePlan?patient={id}', server: gateway, paths: ps.map((p) => `/fhir/CarePlan?patient=${p.id}`), target: 'p99' },
    ];
    await checkAnswers(scenarios, [undefined, undefined, 1, PER_PATIENT]);

    const results = new Map<string, Measurement[]>(scenarios.map((s) => [s.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of scenarios) {
        await measure(s.server.url, s.paths, WARMUP, CONNECTIONS);
        const m = await measure(s.server.url, s.paths, SECONDS, CONNECTIONS, s.server.pid);
        log(`round ${round} ${s.name}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${m.cpuUsPerReq.toFixed(0)} µs/req, status ${JSON.stringify(m.statusCodes)}`);
        results.get(s.name)!.push(m);
      }
    }
    return report(scenarios, results);
  } finally {
    await cleanup();
  }
}

/** One request per scenario before measuring: 200, and searches find what was loaded. */
async function checkAnswers(scenarios: Scenario[], expectedTotals: (number | undefined)[]): Promise<void> {
  for (const [i, s] of scenarios.entries()) {
    const res = await fetch(`${s.server.url}${s.paths[0]}`, { headers: { accept: 'application/fhir+json' } });
    const body = (await res.json()) as { total?: number };
    const expected = expectedTotals[i];
    if (res.status !== 200 || (expected !== undefined && body.total !== expected)) {
      throw new Error(`${s.name}: expected 200${expected !== undefined ? ` with total ${expected}` : ''}, got ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
    }
  }
}

function report(scenarios: Scenario[], results: Map<string, Measurement[]>): number {
  const summary = scenarios.map((s) => {
    const ms = results.get(s.name)!;
    return {
      s,
      reqPerSec: median(ms.map((m) => m.reqPerSec)),
      p50: median(ms.map((m) => m.p50)),
      p99: median(ms.map((m) => m.p99)),
      cpu: median(ms.map((m) => m.cpuUsPerReq)),
      failures: ms.reduce((n, m) => n + m.failures, 0),
    };
  });
  const base = summary[0]!.reqPerSec;
  const rows = summary.map((r) => [
    r.s.name,
    r.reqPerSec.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    (r.reqPerSec / base).toFixed(2),
    Number.isNaN(r.cpu) ? 'n/a' : r.cpu.toFixed(0),
  ]);
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'x baseline req/s', 'server CPU µs/req'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${ROUNDS > 1 ? `Medians of ${ROUNDS} rounds` : 'Results'} (${CONNECTIONS} connections, ${SECONDS} s each):\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));

  console.log('\nTargets:');
  for (const r of summary) {
    if (r.s.target === 'ratio') {
      const ratio = r.reqPerSec / base;
      console.log(`  ${ratio >= 0.5 ? 'met   ' : 'MISSED'} ${r.s.name}: ${ratio.toFixed(2)} x baseline req/s (target >= 0.50)`);
    } else if (r.s.target === 'p99') {
      console.log(`  ${r.p99 <= 20 ? 'met   ' : 'MISSED'} ${r.s.name}: p99 ${r.p99.toFixed(2)} ms (target <= 20 ms)`);
    }
  }
  const failed = summary.filter((r) => r.failures > 0);
  for (const r of failed) console.error(`\nFAILED: ${r.s.name} had ${r.failures} non-2xx responses, errors or timeouts; its numbers are not valid.`);
  return failed.length ? 1 : 0;
}

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
);
