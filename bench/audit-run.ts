/**
 * npm run bench:audit-http — what the audit costs over HTTP (issue 6, item 6:
 * "audited vs unaudited read by id in the same run, goal >= 0.8x").
 *
 * Two gateway child processes run on the same PostgreSQL schema, both with
 * AUTH_MODE=smart and the lawful-basis gate on: the normal gateway
 * (src/main.ts, audited: every FHIR exchange leaves an AuditEvent, written
 * through the group-commit batcher and committed before the response goes)
 * and the same gateway started with
 * ServerOptions.unauditedBaselineForBenchmarks (bench/unaudited-server.ts),
 * whose FHIR exchanges leave no audit record and nothing else changes.
 *
 * Data and clients as bench/gate-run.ts (bench/gate-fixture.ts):
 * BENCH_PATIENTS people (300) pushed through POST /council/v1/import, read
 * by a GP client (X99001, purpose TREAT) under the direct-care agreement,
 * with tokens from each gateway's own token endpoint.
 *
 * Scenarios, each audited vs unaudited, alternating within every round (the
 * order rotates between rounds so neither variant always goes first):
 *   read     GET /fhir/Patient/{id}             (the goal)
 *   search1  GET /fhir/CarePlan?patient={id}    (1 match; for information)
 * (BENCH_AUDIT_SCENARIOS picks some of them.)
 *
 * Besides req/s, each pair is compared by CPU per request: the gateway's
 * alone, and all of it (gateway, PostgreSQL and load generator), which is
 * what capacity comes down to on the 2 shared cores and moves less with the
 * neighbours' load than req/s does (steal time on this VM has swung single
 * rounds from 0.2 to 1.25). The goal is judged on req/s.
 *
 * Sanity checks: the audit rows written during each measured run are counted
 * and shown per 2xx response (1 per read or one-person search when audited,
 * 0 unaudited), with the mean rows per writing transaction (the group-commit
 * batch size, from the rows' xmin), and after the last round the whole chain is verified with
 * verifyAuditChain, so the audited run demonstrably audited, and left an
 * intact chain.
 *
 * Settings (environment): BENCH_DATABASE_URL, BENCH_SECONDS (10),
 * BENCH_WARMUP_SECONDS (2), BENCH_AUDIT_CONNECTIONS (10,64: each scenario at
 * each level; the goal is judged at the highest; BENCH_CONNECTIONS alone
 * picks one level), BENCH_PATIENTS (300),
 * BENCH_POOL_SIZE (10), BENCH_ROUNDS (1; the table then shows medians),
 * BENCH_AUDIT_SCENARIOS (comma list of read, search1; both by default),
 * BENCH_CPU_PROF_DIR (write V8 CPU profiles of both gateways there, named by
 * pid as logged; the data are then loaded through a third, unprofiled
 * gateway, so the profiles hold only the checks and the measured requests).
 */
import os from 'node:os';
import { verifyAuditChain } from '../src/audit/verify.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { FHIR_JSON, GP_ODS, STRANGER_ODS, getToken, loadCaseload, registerClientsAndAgreement, tokenContext } from './gate-fixture.ts';
import type { Keys } from './gate-fixture.ts';
import { measureRequests, median } from './measure.ts';
import type { BenchRequest, Measurement } from './measure.ts';
import { startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { CONNECTIONS, DATABASE_URL, POOL, ROUNDS, SECONDS, WARMUP, benchNumber } from './settings.ts';

const PATIENTS = Math.floor(benchNumber('BENCH_PATIENTS', 300));
const GOAL = 0.8;

type Variant = 'unaudited' | 'audited';
const VARIANTS: Variant[] = ['unaudited', 'audited'];
const KINDS = {
  read: { label: 'read Patient/{id}', path: (id: string) => `/fhir/Patient/${id}`, goal: true },
  search1: { label: 'search CarePlan?patient= (1)', path: (id: string) => `/fhir/CarePlan?patient=${id}`, goal: false },
} as const;
type Kind = keyof typeof KINDS;
const KIND_NAMES = (process.env.BENCH_AUDIT_SCENARIOS ?? Object.keys(KINDS).join(',')).split(',').map((k) => k.trim()) as Kind[];
for (const k of KIND_NAMES) if (!(k in KINDS)) throw new Error(`BENCH_AUDIT_SCENARIOS: unknown scenario "${k}" (known: ${Object.keys(KINDS).join(', ')})`);
/**
 * Client connections, each scenario measured at every level: 10 clients each
 * waiting for its answer (latency decides: every audited read waits for its
 * record's commit) and 64, enough to keep both gateways busy (throughput
 * decides; group commit shares one commit among many reads). The goal is
 * judged on throughput, at the highest level; the others are reported beside it.
 */
const LEVELS = (process.env.BENCH_AUDIT_CONNECTIONS ?? (process.env.BENCH_CONNECTIONS ? String(CONNECTIONS) : '10,64'))
  .split(',')
  .map((c) => Math.floor(Number(c.trim())));
if (LEVELS.some((c) => !Number.isFinite(c) || c <= 0)) throw new Error('BENCH_AUDIT_CONNECTIONS must be a comma list of positive numbers');
const SATURATED = Math.max(...LEVELS);

interface Run extends Measurement {
  /** Audit rows committed during the measured run, per 2xx response. */
  auditRows: number;
  auditRowsPerReq: number;
  /** Mean audit rows per writing transaction (the group-commit batch size); NaN when none. */
  auditBatch: number;
  /** Bytes of WAL the server wrote during the run, per 2xx response. */
  walPerReq: number;
}

async function main(): Promise<number> {
  const pgVersion = await adminQuery<{ v: string }>(DATABASE_URL, "SELECT current_setting('server_version') AS v").then((r) => r[0]?.v);
  log(`machine: ${os.availableParallelism()} cpus (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, PostgreSQL ${pgVersion}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  log(`settings: ${LEVELS.join(' and ')} connections, ${SECONDS} s per scenario after ${WARMUP} s warm-up, pool ${POOL}, ${ROUNDS} round(s), ${PATIENTS} people, gate on in both`);

  const schema = await createBenchSchema(DATABASE_URL);
  const services: Service[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await schema.drop();
  };
  process.once('SIGINT', () => void cleanup().catch((e) => console.error('cleanup', e)).finally(() => process.exit(130)));
  try {
    // Rate limits off: one client sends every request here, far above a real client's limit.
    const common = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, DEMO_DATA: 'off', AUTH_MODE: 'smart', RATE_LIMIT_PER_CLIENT: '0', RATE_LIMIT_TOKEN_PER_IP: '0' };
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const profArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    // One after the other: the first migrates the schema, the other finds it done.
    const servers = new Map<Variant, Service>();
    const audited = await startService('audited', 'src/main.ts', { ...common }, profArgs);
    services.push(audited);
    servers.set('audited', audited);
    const unaudited = await startService('unaudited', 'bench/unaudited-server.ts', { ...common }, profArgs);
    services.push(unaudited);
    servers.set('unaudited', unaudited);
    log(`${[...servers].map(([v, s]) => `${v}: pid ${s.pid} at ${s.url}`).join('; ')}; schema ${schema.name}`);

    const keys = await registerClientsAndAgreement(schema.url);
    // The import is audited by either gateway (the baseline drops only the /fhir exchanges' records); the counts below are deltas.
    // When profiling, through a third, unprofiled gateway (stopped after), so the profiles hold only the checks and the measured requests.
    const loader = profDir ? await startService('loader', 'src/main.ts', { ...common }) : unaudited;
    const loaded = await loadCaseload(loader, keys.council, schema.url, PATIENTS);
    if (loader !== unaudited) await loader.stop();
    log(`loaded ${PATIENTS} people through ${loader.name === 'loader' ? 'a separate loader gateway' : 'the unaudited gateway'}'s /council/v1/import in ${loaded.seconds.toFixed(1)} s: ${loaded.byType}`);
    const tables = await adminQuery<{ tablename: string }>(schema.url, 'SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema.name]);
    for (const t of tables) await adminQuery(schema.url, `ANALYZE ${schema.name}.${t.tablename}`);
    const ids = loaded.patientIds;
    const auditRows = async (): Promise<number> => Number((await adminQuery<{ n: string }>(schema.url, 'SELECT count(*) AS n FROM audit_event'))[0]!.n);
    const auditHead = async (): Promise<number> => Number((await adminQuery<{ s: string }>(schema.url, 'SELECT coalesce(max(seq), 0) AS s FROM audit_event'))[0]!.s);
    // Rows written by one transaction share its xmin: the number of group-commit batches.
    // WAL written by the whole server over a run (the cost of durability: what each commit must flush).
    const walLsn = async (): Promise<string> => (await adminQuery<{ lsn: string }>(schema.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
    const walSince = async (lsn: string): Promise<number> => Number((await adminQuery<{ b: string }>(schema.url, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS b', [lsn]))[0]!.b);
    // Record size: the stored content's bytes (an exchange's facts since 2026-11-21, its AuditEvent before), and on disk (after lz4, when PostgreSQL compresses it).
    const auditSince = async (seq: number): Promise<{ rows: number; transactions: number; bytes: number; stored: number }> => {
      const r = (
        await adminQuery<{ n: string; tx: string; bytes: string | null; stored: string | null }>(
          schema.url,
          'SELECT count(*) AS n, count(DISTINCT xmin::text) AS tx, avg(octet_length(content)) AS bytes, avg(pg_column_size(content)) AS stored FROM audit_event WHERE seq > $1',
          [seq]
        )
      )[0]!;
      return { rows: Number(r.n), transactions: Number(r.tx), bytes: Number(r.bytes ?? Number.NaN), stored: Number(r.stored ?? Number.NaN) };
    };

    await checkAnswers(servers, ids, keys, auditRows);

    const results = new Map<string, Run[]>();
    const key = (k: Kind, v: Variant, c: number): string => `${k}\u001f${v}\u001f${c}`;
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate which variant goes first, so neither always runs on a fresher (or warmer) machine.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round - 1) % VARIANTS.length]!);
      for (const kind of KIND_NAMES) {
        for (const conns of LEVELS) {
          for (const variant of order) {
            const server = servers.get(variant)!;
            // A fresh token per run, one token for every request of the run, as a client would for its five minutes.
            const headers = { ...FHIR_JSON, authorization: `Bearer ${await getToken(keys.gp, await tokenContext(server, 'bench-gp', GP_ODS, 'TREAT'), server)}` };
            let i = 0;
            const next = (): BenchRequest => ({ method: 'GET', path: KINDS[kind].path(ids[i++ % ids.length]!), headers });
            await measureRequests(server.url, next, WARMUP, conns);
            const before = await auditHead();
            const wal = await walLsn();
            const m = await measureRequests(server.url, next, SECONDS, conns, server.pid);
            const walBytes = await walSince(wal);
            // Every answered request's record is committed before its answer, so a count after the run holds them all.
            const written = await auditSince(before);
            const run: Run = { ...m, walPerReq: m.requests ? walBytes / m.requests : Number.NaN, auditRows: written.rows, auditRowsPerReq: m.requests ? written.rows / m.requests : Number.NaN, auditBatch: written.transactions ? written.rows / written.transactions : Number.NaN };
            log(`round ${round} ${KINDS[kind].label}, ${conns} connections, ${variant}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${m.cpuUsPerReq.toFixed(0)} µs/req, PostgreSQL CPU ${m.pgCpuUsPerReq.toFixed(0)} µs/req, load generator CPU ${m.clientCpuUsPerReq.toFixed(0)} µs/req, WAL ${run.walPerReq.toFixed(0)} bytes/req, audit rows ${written.rows} for ${m.requests} responses (${run.auditRowsPerReq.toFixed(3)}/req) in ${written.transactions} transactions, content ${written.bytes.toFixed(0)} bytes (${written.stored.toFixed(0)} on disk), status ${JSON.stringify(m.statusCodes)}`);
            const list = results.get(key(kind, variant, conns)) ?? [];
            list.push(run);
            results.set(key(kind, variant, conns), list);
          }
        }
      }
    }

    // The audited run really audited, and its chain is intact. Requests still in flight when the last
    // run stopped are answered (and audited) after it: wait until the count settles, then verify.
    for (let last = -1, now = await auditRows(); now !== last; last = now, now = await auditRows()) await new Promise((r) => setTimeout(r, 500));
    const db = await openPostgres(schema.url, 1);
    let chain: Awaited<ReturnType<typeof verifyAuditChain>>;
    const started = performance.now();
    try {
      chain = await verifyAuditChain(db);
    } finally {
      await db.close();
    }
    const total = await auditRows();
    log(`audit chain: ${chain.ok ? 'verified' : `BROKEN at seq ${chain.firstBroken?.seq}: ${chain.firstBroken?.reason}`}, ${chain.checked} of ${total} records checked in ${((performance.now() - started) / 1000).toFixed(1)} s, head seq ${chain.head.seq}`);
    const code = report(results, key);
    return chain.ok && chain.checked === total ? code : 1;
  } finally {
    await cleanup();
  }
}

/**
 * Before measuring: both variants answer the GP alike (200 for the read, one
 * CarePlan for the search), the gate is on in both (a practice outside every
 * agreement gets 404), and only the audited gateway writes audit records:
 * one per exchange there (the refusal included), none from the baseline.
 */
async function checkAnswers(servers: Map<Variant, Service>, ids: string[], keys: Keys, auditRows: () => Promise<number>): Promise<void> {
  const get = async (server: Service, path: string, token: string): Promise<{ status: number; body: { total?: number; entry?: unknown[] } }> => {
    const res = await fetch(`${server.url}${path}`, { headers: { ...FHIR_JSON, authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as { total?: number; entry?: unknown[] } };
  };
  const seen: string[] = [];
  for (const [variant, server] of servers) {
    const gp = await getToken(keys.gp, await tokenContext(server, 'bench-gp', GP_ODS, 'TREAT'), server);
    const stranger = await getToken(keys.stranger, await tokenContext(server, 'bench-stranger', STRANGER_ODS, 'TREAT'), server);
    const before = await auditRows();
    const n = 5;
    for (const id of ids.slice(0, n)) {
      const read = await get(server, KINDS.read.path(id), gp);
      if (read.status !== 200) throw new Error(`${variant}: GP read of Patient/${id} answered ${read.status}`);
      const s = await get(server, KINDS.search1.path(id), gp);
      if (s.status !== 200 || (s.body.entry ?? []).length !== 1 || s.body.total !== 1) throw new Error(`${variant}: GP ${KINDS.search1.path(id)} answered ${s.status} with ${(s.body.entry ?? []).length} entries, total ${s.body.total}; expected 1`);
      const refused = await get(server, KINDS.read.path(id), stranger);
      if (refused.status !== 404) throw new Error(`${variant}: a practice outside every agreement read Patient/${id} with ${refused.status}: the gate is off`);
    }
    const written = (await auditRows()) - before;
    const expected = variant === 'audited' ? 3 * n : 0;
    if (written !== expected) throw new Error(`${variant}: ${3 * n} exchanges left ${written} audit records; expected ${expected}`);
    seen.push(`${variant} ${written}`);
  }
  log(`checked: the GP reads each Patient and finds 1 CarePlan in both, the gate refuses a practice outside the agreement in both; audit records for 15 exchanges: ${seen.join(', ')}`);
}

function report(results: Map<string, Run[]>, key: (k: Kind, v: Variant, c: number) => string): number {
  const header = ['scenario', 'connections', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'PostgreSQL CPU µs/req', 'WAL bytes/req', 'audit rows/req', 'rows/audit tx', 'ratio (req/s)', 'ratio (gateway CPU)', 'ratio (all CPU)'];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  let failures = 0;
  let missed = false;
  let badRows = false;
  for (const kind of KIND_NAMES) {
    for (const conns of LEVELS) {
      const base = results.get(key(kind, 'unaudited', conns))!;
      const baseCpu = median(base.map((m) => m.cpuUsPerReq));
      const basePgCpu = median(base.map((m) => m.pgCpuUsPerReq));
      for (const variant of VARIANTS) {
        const ms = results.get(key(kind, variant, conns))!;
        failures += ms.reduce((n, m) => n + m.failures, 0);
        const cpu = median(ms.map((m) => m.cpuUsPerReq));
        const pgCpu = median(ms.map((m) => m.pgCpuUsPerReq));
        const auditPerReq = median(ms.map((m) => m.auditRowsPerReq));
        // One audit record per exchange, none unaudited. Audited, a run's count may also hold the records of
        // requests still in flight when the warm-up ended or the run stopped (answered, but not counted): at
        // most one per connection at each edge; never fewer records than counted responses.
        for (const m of ms) {
          const extra = m.auditRows - m.requests;
          if (variant === 'audited' ? extra < 0 || extra > 2 * conns : m.auditRows !== 0) badRows = true;
        }
        // The ratio of each round's pair, then their median: both runs of a round saw the same machine.
        const ratios = ms.map((m, i) => m.reqPerSec / base[i]!.reqPerSec);
        const ratio = median(ratios);
        // The machine's whole CPU per request (gateway, PostgreSQL, load generator), per round: on 2 shared
        // cores this is what capacity comes down to, and it moves less with the neighbours' load than req/s.
        const allCpu = (m: Measurement): number => m.cpuUsPerReq + m.pgCpuUsPerReq + m.clientCpuUsPerReq;
        const allCpuRatio = median(ms.map((m, i) => allCpu(base[i]!) / allCpu(m)));
        rows.push([
          KINDS[kind].label,
          String(conns),
          variant,
          median(ms.map((m) => m.reqPerSec)).toFixed(0),
          median(ms.map((m) => m.p50)).toFixed(2),
          median(ms.map((m) => m.p99)).toFixed(2),
          Number.isNaN(cpu) ? 'n/a' : cpu.toFixed(0),
          Number.isNaN(pgCpu) ? 'n/a' : pgCpu.toFixed(0),
          median(ms.map((m) => m.walPerReq)).toFixed(0),
          auditPerReq.toFixed(3),
          variant === 'audited' ? median(ms.map((m) => m.auditBatch)).toFixed(1) : '-',
          variant === 'unaudited' ? '1.00' : ratio.toFixed(2),
          variant === 'unaudited' ? '1.00' : Number.isNaN(cpu) ? 'n/a' : (baseCpu / cpu).toFixed(2),
          variant === 'unaudited' ? '1.00' : Number.isNaN(allCpuRatio) ? 'n/a' : allCpuRatio.toFixed(2),
        ]);
        if (variant === 'audited') {
          const judged = KINDS[kind].goal && conns === SATURATED;
          if (judged && ratio < GOAL) missed = true;
          verdicts.push(
            `${KINDS[kind].label}, ${conns} connections: audited ${ratio.toFixed(2)} x unaudited req/s${ROUNDS > 1 ? ` (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` : ''}, ` +
              `${(baseCpu / cpu).toFixed(2)} x by gateway CPU (${cpu - baseCpu >= 0 ? '+' : ''}${(cpu - baseCpu).toFixed(0)} µs/req for the audit; PostgreSQL ${pgCpu - basePgCpu >= 0 ? '+' : ''}${(pgCpu - basePgCpu).toFixed(0)} µs/req), ${allCpuRatio.toFixed(2)} x by all CPU${judged ? ' [the goal]' : ' [for information]'}`
          );
        }
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${ROUNDS > 1 ? `Medians of ${ROUNDS} rounds` : 'Results'} (${SECONDS} s each, ${PATIENTS} people, gate on in both; ratios are audited / unaudited, per round then median):\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 || i === 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
  for (const v of verdicts) console.log(v);
  console.log(`Goal >= ${GOAL} x unaudited for read by id (throughput, ${SATURATED} connections): ${missed ? 'MISSED' : 'met'}`);
  if (badRows) console.error('\nFAILED: audit rows do not match the responses (one each, audited, give or take the requests in flight at the run\'s edges; none unaudited).');
  if (failures) console.error(`\nFAILED: ${failures} non-2xx responses, errors or timeouts; the numbers are not valid.`);
  return failures || badRows ? 1 : 0;
}

function log(message: string): void {
  console.log(`[bench:audit-http] ${message}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:audit-http failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
);
