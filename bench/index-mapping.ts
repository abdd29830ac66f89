/**
 * npx tsx bench/index-mapping.ts — CPU per resource of the two per-record
 * steps of the council import that run on the gateway's main thread besides
 * validation: mapRecord (council record → FHIR resources + Provenance, no
 * validation, as push-record.ts calls it) and extractIndexRows (search index
 * rows of one resource), each old vs new, interleaved, in one process.
 *
 * - mapRecord old: expressions compiled with plain-path shortcuts only
 *   (MappingRegistry.load(dir, { shortcuts: 'paths' })) and every id hashed
 *   on request (memoIds: false); new: the defaults.
 * - extractIndexRows old: every search parameter through evalFhirPathTyped
 *   ({ walkers: false }); new: the index-path walkers (the default).
 *
 * Before timing, both variants must agree byte for byte (JSON.stringify) on
 * every line and every resource, or the benchmark stops.
 *
 * Settings (environment): BENCH_LINES (600 caseload lines), BENCH_MIX
 * (dense: person, assessment, care-plan; or case), BENCH_ROUNDS (9).
 * Prints the median CPU µs (user + system, process.cpuUsage) per resource of
 * each variant over the rounds: CPU rather than wall time, as the machine is shared.
 */
import os from 'node:os';
import type { Resource } from '@medplum/fhirtypes';
import { loadBaseSchema } from '../src/fhir/schema.ts';
import { extractIndexRows } from '../src/fhir/search/index-values.ts';
import { mapRecord } from '../src/mapping/map-record.ts';
import type { MapOptions } from '../src/mapping/map-record.ts';
import { DEFAULT_MAPPINGS_DIR, MappingRegistry } from '../src/mapping/mapping-registry.ts';
import { benchNumber } from './settings.ts';
import { CASELOAD_MIXES, COUNCIL_ODS, caseloadLine } from './synthetic-council.ts';
import type { CaseloadMix } from './synthetic-council.ts';

const LINES = Math.floor(benchNumber('BENCH_LINES', 600));
const ROUNDS = Math.floor(benchNumber('BENCH_ROUNDS', 9));
const MIX = (process.env.BENCH_MIX ?? 'dense') as CaseloadMix;
if (!(MIX in CASELOAD_MIXES)) throw new Error(`BENCH_MIX must be one of ${Object.keys(CASELOAD_MIXES).join(', ')}`);
const LOCAL_BASE = 'https://gw.example.org/fhir';

loadBaseSchema();
const ctx = { councilOds: COUNCIL_ODS, receivedAt: '2026-11-21T09:00:00Z' };
const mapVariants: Record<'old' | 'new', MapOptions> = {
  old: { registry: MappingRegistry.load(DEFAULT_MAPPINGS_DIR, { shortcuts: 'paths' }), validator: false, memoIds: false },
  new: { registry: MappingRegistry.load(DEFAULT_MAPPINGS_DIR), validator: false },
};
const lines = Array.from({ length: LINES }, (_, i) => caseloadLine(i, MIX));

function mapLine(line: Record<string, unknown>, variant: 'old' | 'new'): Resource[] {
  const r = mapRecord(line, String(line.recordType), ctx, mapVariants[variant]);
  return [...r.resources, r.provenance];
}

// Same bytes first: a faster wrong answer is no answer.
const resources: Resource[] = [];
for (const [i, line] of lines.entries()) {
  const a = JSON.stringify(mapLine(line, 'old'));
  const b = mapLine(line, 'new');
  if (JSON.stringify(b) !== a) throw new Error(`mapRecord old and new differ on line ${i} (${String(line.recordType)})`);
  resources.push(...b);
}
for (const r of resources) {
  const a = JSON.stringify(extractIndexRows(r, LOCAL_BASE, { walkers: false }));
  if (JSON.stringify(extractIndexRows(r, LOCAL_BASE, { walkers: true })) !== a) throw new Error(`extractIndexRows old and new differ on ${r.resourceType}/${r.id}`);
}
const types = new Map<string, number>();
for (const r of resources) types.set(r.resourceType, (types.get(r.resourceType) ?? 0) + 1);
console.log(`${LINES} ${MIX} lines -> ${resources.length} resources (${[...types].map(([t, n]) => `${t} ${n}`).join(', ')}); old and new agree byte for byte`);

/** CPU µs (user + system) of this process since `start`: on a shared machine wall time counts other people's work. */
function cpuMicros(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/** CPU µs per resource of one pass. */
function timeMap(variant: 'old' | 'new'): number {
  const t = process.cpuUsage();
  let n = 0;
  for (const line of lines) n += mapLine(line, variant).length;
  return cpuMicros(t) / n;
}

function timeIndex(walkers: boolean): number {
  const t = process.cpuUsage();
  for (const r of resources) extractIndexRows(r, LOCAL_BASE, { walkers });
  return cpuMicros(t) / resources.length;
}

const samples = { mapOld: [] as number[], mapNew: [] as number[], indexOld: [] as number[], indexNew: [] as number[] };
// One untimed pass of each warms the JIT; then alternate which variant goes first.
timeMap('old');
timeMap('new');
timeIndex(false);
timeIndex(true);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
  for (const v of order) (v === 'old' ? samples.mapOld : samples.mapNew).push(timeMap(v));
  for (const v of order) (v === 'old' ? samples.indexOld : samples.indexNew).push(timeIndex(v === 'new'));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const row = (name: string, old: number[], now: number[]): string =>
  `${name.padEnd(18)} old ${median(old).toFixed(1).padStart(6)} µs   new ${median(now).toFixed(1).padStart(6)} µs   ${(median(old) / median(now)).toFixed(2)}x   (rounds old ${old.map((x) => x.toFixed(0)).join('/')}; new ${now.map((x) => x.toFixed(0)).join('/')})`;
console.log(`median CPU µs per resource over ${ROUNDS} interleaved rounds (load average ${os.loadavg()[0]!.toFixed(1)}):`);
console.log(row('mapRecord', samples.mapOld, samples.mapNew));
console.log(row('extractIndexRows', samples.indexOld, samples.indexNew));
