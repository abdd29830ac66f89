/**
 * npm run bench:import — how fast a council caseload goes in through
 * POST /council/v1/import, end to end, against a raw COPY of the same
 * resources into PostgreSQL measured in the same run (issue 4, item 9).
 *
 * 1. Generates BENCH_RECORDS synthetic council records (default 2,000) as
 *    NDJSON in a temp file, one person's case after another as BENCH_MIX
 *    says (bench/synthetic-council.ts): `dense` (default) is a `person`, an
 *    `assessment` and a `care-plan` per person, 8.0 resource versions per
 *    line; `case` the six record types of the earlier passes, 3.5 per line
 *    (ids, NHS numbers from the 999 test range, dates and sizes varied).
 * 2. Starts a gateway child (AUTH_MODE=smart, REQUEST_TIMEOUT_MS=0) on a fresh
 *    schema, registers a local-authority client with system/council.write and
 *    gets a token, then streams the file to /council/v1/import in parts of
 *    BENCH_BATCH_LINES lines (10,000, as `joinedup import` does; a fresh token
 *    per part), one part after another. Wall time covers every part.
 * 3. Counts the stored resources (every row of resource_version, Provenance
 *    included) and reports records/s and resources/s, the gateway's CPU per
 *    resource, PostgreSQL's CPU per resource, and the gateway child's RSS
 *    sampled every second plus its peak (VmHWM from /proc/<pid>/status).
 * 4. Ceiling: the same rows of resource_version (exported untimed) are loaded
 *    into a scratch table created LIKE resource_version INCLUDING ALL (same
 *    columns, primary key and index) with psql's \copy, which is COPY FROM
 *    STDIN. resources/s of that is the ceiling; the ratio gateway/ceiling is
 *    printed. Goal: >= 3,000 resources/s end to end.
 *
 * Settings (environment): BENCH_DATABASE_URL, BENCH_RECORDS (2000),
 * BENCH_MIX (dense), BENCH_BATCH_LINES (10000), BENCH_POOL_SIZE (10), BENCH_CPU_PROF_DIR.
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ClientRegistry } from '../src/auth/client-registry.ts';
import { generateClientKeyPair } from '../src/auth/key-generation.ts';
import { signingKeyFromJwk } from '../src/cli/client-assertion-builder.ts';
import type { AssertionContext, SigningKey } from '../src/cli/client-assertion-builder.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { getToken } from './gate-fixture.ts';
import { cpuSeconds, startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { DATABASE_URL, POOL, benchNumber } from './settings.ts';
import { CASELOAD_MIXES, COUNCIL_ODS, caseloadLine } from './synthetic-council.ts';
import type { CaseloadMix } from './synthetic-council.ts';

const RECORDS = Math.floor(benchNumber('BENCH_RECORDS', 2000));
const BATCH_LINES = Math.floor(benchNumber('BENCH_BATCH_LINES', 10_000));
const GOAL = 3000;
const MIX = (process.env.BENCH_MIX ?? 'dense') as CaseloadMix;
if (!(MIX in CASELOAD_MIXES)) throw new Error(`BENCH_MIX must be one of ${Object.keys(CASELOAD_MIXES).join(', ')}`);

async function main(): Promise<number> {
  const pgVersion = await adminQuery<{ v: string }>(DATABASE_URL, "SELECT current_setting('server_version') AS v").then((r) => r[0]?.v);
  log(`machine: ${os.availableParallelism()} cpus, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, PostgreSQL ${pgVersion}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
  const schema = await createBenchSchema(DATABASE_URL);
  const services: Service[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().catch((e) => console.error('cleanup', e)).finally(() => process.exit(130)));
  try {
    const file = path.join(dir, 'caseload.ndjson');
    const t0 = performance.now();
    const parts = await writeCaseload(file, RECORDS, BATCH_LINES);
    log(`generated ${RECORDS} records, mix ${MIX} (${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, ${parts.length} part(s)) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const gateway = await startService(
      'gateway',
      'src/main.ts',
      { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, AUTH_MODE: 'smart', DEMO_DATA: 'off', REQUEST_TIMEOUT_MS: '0' },
      profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
    );
    services.push(gateway);
    log(`gateway pid ${gateway.pid} at ${gateway.url}, schema ${schema.name}`);

    const signer = await registerCouncilClient(schema.url);
    const context: AssertionContext = {
      clientId: 'bench-council',
      tokenUrl: await discoverTokenUrl(gateway.url),
      ods: COUNCIL_ODS,
      user: { id: 'bench-sw-1', role: 'R1330' },
      purpose: 'CAREMGT',
      lifetimeSeconds: 280,
    };

    // PostgreSQL CPU of the gateway's own backends (the machine's PostgreSQL serves other work too).
    const backends = new BackendCpu(gateway.pid);
    await backends.sample();
    backends.markStart();
    // Memory: RSS every second while importing; VmHWM (the kernel's peak) at the end.
    const rssStart = procStatusKb(gateway.pid, 'VmRSS');
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const kb = procStatusKb(gateway.pid, 'VmRSS');
      if (kb !== undefined) samples.push(kb);
      void backends.sample().catch(() => undefined);
    }, 1000);
    const cpuGw0 = cpuSeconds(gateway.pid) ?? NaN;
    const cpuPg0 = postgresCpu();
    const cpuAll0 = machineCpu();
    const started = performance.now();
    const totals = { lines: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
    const firstRejections: string[] = [];
    for (const [i, part] of parts.entries()) {
      const token = await getToken(signer, context);
      const r = await sendPart(gateway.url, token, file, part);
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.summary[k] ?? 0;
      for (const x of r.rejections) if (firstRejections.length < 5) firstRejections.push(x);
      const s = (performance.now() - started) / 1000;
      log(`part ${i + 1}/${parts.length}: ${part.lines} lines, total ${totals.lines} lines in ${s.toFixed(1)} s (${(totals.lines / s).toFixed(0)} records/s), RSS ${mib(procStatusKb(gateway.pid, 'VmRSS'))} MiB`);
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const cpuGw = (cpuSeconds(gateway.pid) ?? NaN) - cpuGw0;
    const cpuPg = postgresCpuBetween(cpuPg0, postgresCpu());
    await backends.sample();
    const cpuBackends = backends.used();
    const cpuAll = machineCpu();
    const machineBusy = (cpuAll.busy - cpuAll0.busy) / (cpuAll.total - cpuAll0.total);
    const peakKb = procStatusKb(gateway.pid, 'VmHWM');
    const rssEnd = procStatusKb(gateway.pid, 'VmRSS');

    const byType = await adminQuery<{ resource_type: string; n: string }>(schema.url, 'SELECT resource_type, count(*) AS n FROM resource_version GROUP BY 1 ORDER BY 2 DESC');
    const resources = byType.reduce((n, r) => n + Number(r.n), 0);
    const gwRate = resources / seconds;
    log(`stored ${resources} resource versions: ${byType.map((r) => `${r.resource_type} ${r.n}`).join(', ')}`);
    if (firstRejections.length) log(`first rejections:\n  ${firstRejections.join('\n  ')}`);

    // Ceiling: the same rows, COPY FROM STDIN into a table of the same shape.
    const rowsFile = path.join(dir, 'resource_version.copy');
    await psql(DATABASE_URL, `\\copy (SELECT resource_type, id, version_id, last_updated, method, deleted, content FROM ${schema.name}.resource_version) TO '${rowsFile}'`);
    await adminQuery(DATABASE_URL, `CREATE TABLE ${schema.name}.scratch_copy (LIKE ${schema.name}.resource_version INCLUDING ALL)`);
    const copyStarted = performance.now();
    await psql(DATABASE_URL, `\\copy ${schema.name}.scratch_copy (resource_type, id, version_id, last_updated, method, deleted, content) FROM '${rowsFile}'`);
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const copied = Number((await adminQuery<{ n: string }>(schema.url, 'SELECT count(*) AS n FROM scratch_copy'))[0]!.n);
    const ceiling = copied / copySeconds;
    const avgBytes = statSync(rowsFile).size / copied;

    const sorted = [...samples].sort((a, b) => a - b);
    const q = Math.max(1, Math.floor(samples.length / 4));
    const firstQ = samples.slice(0, q);
    const lastQ = samples.slice(-q);
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

    const rows: [string, string][] = [
      ['records (lines)', `${totals.lines} (${totals.created} created, ${totals.updated} updated, ${totals.unchanged} unchanged, ${totals.rejected} rejected)`],
      ['resources stored (incl. Provenance)', `${resources} (${(resources / Math.max(1, totals.lines)).toFixed(2)} per record)`],
      ['wall time', `${seconds.toFixed(1)} s`],
      ['records/s', (totals.lines / seconds).toFixed(0)],
      ['resources/s, gateway end to end', gwRate.toFixed(0)],
      ['resources/s, ceiling (COPY FROM STDIN, same rows)', `${ceiling.toFixed(0)} (${copied} rows, ${avgBytes.toFixed(0)} B/row, ${copySeconds.toFixed(2)} s)`],
      ['gateway / ceiling', gwRate / ceiling >= 0.01 ? (gwRate / ceiling).toFixed(3) : (gwRate / ceiling).toExponential(2)],
      ['gateway CPU per resource', `${((cpuGw * 1e6) / resources).toFixed(0)} µs (${((cpuGw * 1e6) / Math.max(1, totals.lines)).toFixed(0)} µs per record; ${(cpuGw / seconds).toFixed(2)} cores busy)`],
      ['PostgreSQL CPU per resource, gateway backends', `${((cpuBackends.seconds * 1e6) / resources).toFixed(0)} µs (${(cpuBackends.seconds / seconds).toFixed(2)} cores busy; ${cpuBackends.backends} backends)`],
      ['PostgreSQL CPU, all postgres processes', `${((cpuPg * 1e6) / resources).toFixed(0)} µs per resource (${(cpuPg / seconds).toFixed(2)} cores busy; includes other work on this server)`],
      ['machine busy (all processes)', `${(machineBusy * 100).toFixed(0)} % of ${os.availableParallelism()} cpus`],
      ['gateway RSS start / end', `${mib(rssStart)} / ${mib(rssEnd)} MiB`],
      ['gateway RSS sampled 1/s', samples.length ? `min ${mib(sorted[0])}, median ${mib(sorted[Math.floor(sorted.length / 2)])}, max ${mib(sorted.at(-1))} MiB (${samples.length} samples)` : 'n/a'],
      ['gateway RSS first / last quarter (mean)', samples.length ? `${mib(avg(firstQ))} / ${mib(avg(lastQ))} MiB` : 'n/a'],
      ['gateway peak RSS (VmHWM)', `${mib(peakKb)} MiB`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nCouncil import, ${RECORDS} records, ${new Date().toISOString().slice(0, 10)}:\n`);
    console.log(`| ${'measure'.padEnd(w)} | value |`);
    console.log(`|${'-'.repeat(w + 2)}|-------|`);
    for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
    console.log(`\nRSS samples (MiB, every ${Math.max(1, Math.ceil(samples.length / 30))} s): ${samples.filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 30)) === 0).map((k) => mib(k)).join(' ')}`);
    console.log(`\nGoal >= ${GOAL} resources/s end to end: ${gwRate >= GOAL ? 'met' : 'MISSED'} (${gwRate.toFixed(0)} resources/s)`);
    if (totals.lines !== RECORDS || totals.rejected > 0) {
      console.error(`\nFAILED: ${totals.lines} of ${RECORDS} lines answered, ${totals.rejected} rejected; the numbers are not valid.`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
  }
}

interface Part {
  start: number;
  /** Inclusive, as createReadStream takes it. */
  end: number;
  lines: number;
}

/** Writes the caseload and returns the byte ranges of its parts (whole lines, at most `batch` each). */
async function writeCaseload(file: string, n: number, batch: number): Promise<Part[]> {
  const fh = await open(file, 'w');
  const parts: Part[] = [];
  let offset = 0;
  let partStart = 0;
  let partLines = 0;
  let buf: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const line = `${JSON.stringify(caseloadLine(i, MIX))}\n`;
      buf.push(line);
      offset += Buffer.byteLength(line);
      partLines++;
      if (partLines === batch || i === n - 1) {
        parts.push({ start: partStart, end: offset - 1, lines: partLines });
        partStart = offset;
        partLines = 0;
      }
      if (buf.length >= 1000) {
        await fh.write(buf.join(''));
        buf = [];
      }
    }
    if (buf.length) await fh.write(buf.join(''));
  } finally {
    await fh.close();
  }
  return parts;
}

async function registerCouncilClient(url: string): Promise<SigningKey> {
  const pair = await generateClientKeyPair('ES384');
  const db = await openPostgres(url, 1);
  try {
    await new ClientRegistry(db).register({
      clientId: 'bench-council',
      organisation: { ods: COUNCIL_ODS, name: 'Bench County Council (synthetic)', kind: 'local-authority' },
      jwks: pair.publicJwks,
      scopes: ['system/council.write'],
      purposes: ['CAREMGT'],
    });
  } finally {
    await db.close();
  }
  return signingKeyFromJwk(pair.privateJwk);
}

async function discoverTokenUrl(base: string): Promise<string> {
  const doc = (await (await fetch(`${base}/.well-known/smart-configuration`)).json()) as { token_endpoint?: string };
  if (!doc.token_endpoint) throw new Error('the gateway advertises no token_endpoint');
  return doc.token_endpoint;
}

type Summary = Partial<Record<'lines' | 'created' | 'updated' | 'unchanged' | 'deleted' | 'rejected', number>>;

/** Streams one part of the file to the import and reads the answer line by line; resolves with its summary line. */
function sendPart(base: string, token: string, file: string, part: Part): Promise<{ summary: Summary; rejections: string[] }> {
  return new Promise((resolve, reject) => {
    const u = new URL('/council/v1/import', base);
    const req = request(
      u,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/x-ndjson',
          'content-length': String(part.end - part.start + 1),
          accept: 'application/x-ndjson',
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => reject(new Error(`import answered HTTP ${res.statusCode}: ${text.slice(0, 1000)}`)));
          return;
        }
        let rest = '';
        let summary: Summary | undefined;
        const rejections: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          rest += chunk;
          let nl: number;
          while ((nl = rest.indexOf('\n')) !== -1) {
            const text = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            if (!text) continue;
            // Most lines are results; only parse the ones that matter.
            if (text.startsWith('{"summary"')) summary = (JSON.parse(text) as { summary: Summary }).summary;
            else if (text.startsWith('{"error"') || text.includes('"status":"rejected"')) {
              if (rejections.length < 5) rejections.push(text.slice(0, 600));
            }
          }
        });
        res.on('end', () => (summary ? resolve({ summary, rejections }) : reject(new Error(`the import ended without a summary line; ${rejections.join('\n')}`))));
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    createReadStream(file, { start: part.start, end: part.end }).pipe(req);
  });
}

function psql(url: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${err}`))));
  });
}

function procStatusKb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by each process named postgres (server and backends) on this machine, by pid. */
function postgresCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (!/^\d+ \(postgres\)/.test(stat)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}:${fields[19]}`, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return out;
}

/**
 * CPU the postgres processes used between two samples: the processes alive at
 * both (keyed by pid and start time), so a backend of another client ending
 * meanwhile does not subtract its whole life, plus those started meanwhile.
 */
function postgresCpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [k, v] of after) total += v - (before.get(k) ?? 0);
  return total;
}

/**
 * CPU used by the PostgreSQL backends serving the gateway's connections:
 * found once a second as the backends (pg_stat_activity) whose client port is
 * a TCP socket the gateway process holds (/proc/<pid>/fd, /proc/net/tcp).
 */
class BackendCpu {
  private readonly start = new Map<string, number>();
  private readonly last = new Map<string, number>();
  constructor(private readonly gatewayPid: number) {}

  async sample(): Promise<void> {
    const ports = socketPorts(this.gatewayPid);
    if (!ports.size) return;
    const rows = await adminQuery<{ pid: number; client_port: number }>(DATABASE_URL, `SELECT pid, client_port FROM pg_stat_activity WHERE client_port = ANY($1::int[])`, [[...ports]]);
    for (const r of rows) {
      try {
        const stat = readFileSync(`/proc/${r.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        this.last.set(`${r.pid}:${fields[19]}`, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // Gone meanwhile.
      }
    }
  }

  markStart(): void {
    for (const [k, v] of this.last) this.start.set(k, v);
  }

  used(): { seconds: number; backends: number } {
    let seconds = 0;
    for (const [k, v] of this.last) seconds += v - (this.start.get(k) ?? 0);
    return { seconds, backends: this.last.size };
  }
}

/** Local TCP ports of the sockets a process holds. */
function socketPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // Closed meanwhile.
      }
    }
  } catch {
    return new Set();
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

function mib(kb: number | undefined): string {
  return kb === undefined ? 'n/a' : (kb / 1024).toFixed(0);
}

function log(message: string): void {
  console.log(`[bench:import] ${message}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:import failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
);
