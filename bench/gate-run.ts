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
 * Data: BENCH_PATIENTS people (300) pushed as council records by a council
 * client (ODS X9C01, so the council controls every resource) through
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
import { readFileSync } from 'node:fs';
import { ClientRegistry } from '../src/auth/client-registry.ts';
import { generateClientKeyPair } from '../src/auth/key-generation.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../src/cli/client-assertion-builder.ts';
import type { AssertionContext, SigningKey } from '../src/cli/client-assertion-builder.ts';
import { loadConfig } from '../src/config.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { makeTestNhsNumber } from '../src/fhir/validation/nhs-number.ts';
import { addAgreement } from '../src/gate/agreements/agreement-store.ts';
import { measureRequests, median } from './measure.ts';
import type { BenchRequest, Measurement } from './measure.ts';
import { startService } from './processes.ts';
import type { Service } from './processes.ts';
import { adminQuery, createBenchSchema } from './schema.ts';
import { CONNECTIONS, DATABASE_URL, POOL, ROUNDS, SECONDS, WARMUP, benchNumber } from './settings.ts';

const PATIENTS = Math.floor(benchNumber('BENCH_PATIENTS', 300));
const GOAL = 0.8;
const COUNCIL_ODS = 'X9C01';
const GP_ODS = 'X99001';
const STRANGER_ODS = 'X99977';
const REVIEWS = 8;
const ASSESSMENTS = 2;
const FHIR_JSON = { accept: 'application/fhir+json' };
const AGREEMENT_FILE = 'docs/examples/agreements/midshire-direct-care.json';

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
    const common = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: schema.url, DB_POOL_SIZE: POOL, DEMO_DATA: 'off', AUTH_MODE: 'smart' };
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
    const loaded = await loadCaseload(loader, keys.council, schema.url);
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

interface Keys {
  council: SigningKey;
  gp: SigningKey;
  stranger: SigningKey;
}

/** Registers the council, the GP and a GP outside every agreement (as `joinedup client register` would) and adds the agreement. */
async function registerClientsAndAgreement(url: string): Promise<Keys> {
  const db = await openPostgres(url, 1);
  try {
    const registry = new ClientRegistry(db);
    const register = async (clientId: string, ods: string, name: string, kind: 'local-authority' | 'gp-practice', scopes: string[], purposes: ('TREAT' | 'CAREMGT')[]): Promise<SigningKey> => {
      const pair = await generateClientKeyPair('ES384');
      await registry.register({ clientId, organisation: { ods, name, kind }, jwks: pair.publicJwks, scopes, purposes });
      return signingKeyFromJwk(pair.privateJwk);
    };
    const council = await register('bench-council', COUNCIL_ODS, 'Midshire County Council (synthetic)', 'local-authority', ['system/council.write'], ['CAREMGT']);
    const gp = await register('bench-gp', GP_ODS, 'Riverside Surgery (synthetic)', 'gp-practice', ['system/*.rs'], ['TREAT']);
    const stranger = await register('bench-stranger', STRANGER_ODS, 'Faraway Surgery (synthetic, no agreement)', 'gp-practice', ['system/*.rs'], ['TREAT']);
    await addAgreement(db, JSON.parse(readFileSync(AGREEMENT_FILE, 'utf8')));
    return { council, gp, stranger };
  } finally {
    await db.close();
  }
}

async function tokenContext(server: Service, clientId: string, ods: string, purpose: 'TREAT' | 'CAREMGT'): Promise<AssertionContext> {
  const doc = (await (await fetch(`${server.url}/.well-known/smart-configuration`)).json()) as { token_endpoint?: string };
  if (!doc.token_endpoint) throw new Error(`${server.name} advertises no token_endpoint`);
  return { clientId, tokenUrl: doc.token_endpoint, ods, user: { id: `${clientId}-user-1`, role: purpose === 'CAREMGT' ? 'R1330' : 'R8000' }, purpose, lifetimeSeconds: 280 };
}

/** A token from `server`'s own token endpoint (each gateway names itself as issuer and audience). */
async function getToken(signer: SigningKey, context: AssertionContext, server: Service): Promise<string> {
  const res = await fetch(`${server.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: buildClientAssertion(signer, context),
    }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token request to ${server.name} failed: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

function day(base: string, plusDays: number): string {
  return new Date(Date.parse(`${base}T00:00:00Z`) + plusDays * 86_400_000).toISOString().slice(0, 10);
}

const GIVEN = ['Arthur', 'Edith', 'Mohammed', 'Aisha', 'Gwen', 'Tomasz', 'Priya', 'Desmond', 'Nia', 'Callum', 'Irene', 'Kwame'];
const FAMILY = ['Pemberton', 'Okafor', 'Kowalski', 'Hughes', 'Begum', 'Fraser', 'Lindqvist', 'Adeyemi', 'Marsh', 'Quinn'];
const ELIGIBILITY = ['personal-hygiene', 'home-safety', 'community-facilities', 'managing-nutrition', 'toilet-needs', 'being-clothed', 'relationships', 'habitable-home'];
const COMPONENTS = ['HS', 'EQ', 'DS', 'R', 'M'];
const GP_CLASSES = ['person', 'contacts', 'assessments', 'services', 'reviews', 'care-plan', 'care-team'];

/** One person's council records (shapes as docs/examples/council/*.json), dates and sizes varied by `p`. */
function personRecords(p: number): Record<string, unknown>[] {
  const nhsNumber = makeTestNhsNumber(p);
  const person = { localId: `GATE-${String(p).padStart(7, '0')}`, nhsNumber };
  const v = p % 97;
  const start = day('2025-01-06', p % 300);
  const worker = { name: `Sam Testworker${v}`, localId: `STAFF-${v}`, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS };
  // lastUpdated after the event it records (a Task's lastModified may not precede its authoredOn).
  const source = (prefix: string, k = 0, on = day(start, 3)) => ({ system: 'mosaic-bench', recordId: `${prefix}-${p}-${k}`, lastUpdated: `${day(on, 1)}T${String(8 + (p % 10)).padStart(2, '0')}:${String(p % 60).padStart(2, '0')}:00Z` });
  const rec = (recordType: string, body: Record<string, unknown>) => ({ formatVersion: '1', recordType, person, ...body });
  const capacity = (on: string) => ({ hasCapacity: true, assessedOn: on, assessor: { name: worker.name, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS } });
  const consent = (k: number, status: string, organisations: string[] | 'any', purposes: string[], dataClasses: string[]) => {
    const date = day(start, 10 * k);
    return rec('consent', { source: source('CNS', k, date), status, decidedBy: 'person', scope: { organisations, purposes, dataClasses }, capacity: capacity(date), date, reviewDate: day(date, 365), recordedBy: { name: worker.name, localId: worker.localId, organisationOds: COUNCIL_ODS } });
  };
  const needs = 2 + (p % 3);
  const n = Array.from({ length: needs }, (_, k) => k + 1);
  return [
    rec('person', {
      source: source('PER'),
      name: { prefix: p % 2 ? 'Mr' : 'Ms', given: [GIVEN[p % GIVEN.length]!], family: `${FAMILY[p % FAMILY.length]}-Testcase` },
      birthDate: day('1930-01-01', (p * 37) % 25_000),
      gender: p % 2 ? 'male' : 'female',
      ethnicity: 'A',
      postcode: 'ZZ99 3CZ',
      contact: { phone: `01632 ${String(960000 + (p % 1000)).slice(0, 6)}` },
      gpPracticeOds: GP_ODS,
      clientType: 'service-user',
      primarySupportReason: 'PS-PCS',
      accommodationStatus: 'OWN',
      hasUnpaidCarer: p % 3 ? 'yes' : 'no',
    }),
    rec('care-plan', {
      source: source('CSP'),
      status: 'active',
      title: `Care and support plan ${p}`,
      created: start,
      period: { start, end: day(start, 364) },
      author: worker,
      needs: n.map((k) => ({ id: `N${k}`, description: `Need ${k} of person ${p}.`, eligibilityOutcome: ELIGIBILITY[(p + k) % ELIGIBILITY.length] })),
      goals: n.map((k) => ({ id: `G${k}`, description: `Goal ${k}: living well at home.`, status: 'active', targetDate: day(start, 90 + k * 30), needIds: [`N${k}`] })),
      activities: n.map((k) => ({
        id: `A${k}`,
        description: `Activity ${k} for goal ${k}.`,
        serviceComponent: COMPONENTS[(p + k) % COMPONENTS.length],
        status: 'in-progress',
        deliveredBy: { kind: 'organisation', name: 'Brightcare Homecare (synthetic)', ods: 'X9P02' },
        frequency: 'daily',
        goalIds: [`G${k}`],
      })),
      personalBudget: { weeklyAmountGbp: 100 + (p % 300), deliveryMechanism: 'CMPB', clientContributionWeeklyGbp: p % 50 },
      reviewDate: day(start, 180),
    }),
    rec('care-team', {
      source: source('CT'),
      name: `Team for person ${p}`,
      status: 'active',
      period: { start },
      members: [
        { ...worker, organisationName: 'Midshire County Council (synthetic)', jobTitle: 'Social worker', role: 'primary-contact', period: { start } },
        { name: `Dr Testdoc${v}`, organisationOds: GP_ODS, organisationName: 'Riverside Surgery (synthetic)', jobTitle: 'GP', role: 'chair', period: { start } },
        { name: `Jo Testnurse${v}`, organisationOds: 'X9H01', jobTitle: 'Community nurse', role: 'member', period: { start } },
      ],
    }),
    rec('service', {
      source: source('SRV'),
      serviceType: 'STS-STMAX',
      serviceComponent: 'R',
      deliveryMechanism: 'CCS',
      provider: { ods: 'X9P01', name: 'Midshire Reablement Team (synthetic)' },
      hoursPerWeek: 2 + (p % 20),
      startDate: start,
      endDate: day(start, 25),
      endReason: 'PRO-SUP',
    }),
    rec('contact', {
      source: source('CON'),
      date: day(start, -5),
      routeOfAccess: 'DH',
      reason: 'HD',
      requester: { type: 'SH', organisation: { ods: 'X9H01', name: 'Northgate Hospitals NHS Trust (synthetic)' }, practitioner: { name: 'Priya Testward', organisationOds: 'X9H01' } },
      description: `Discharge to assess referral for person ${p}.`,
      status: 'completed',
      outcome: 'PRO-R',
      outcomeDate: day(start, -4),
    }),
    // Five consents, oldest first; the most recent applicable one decides.
    consent(0, 'given', [GP_ODS, 'X9H01'], ['TREAT', 'CAREMGT'], GP_CLASSES),
    consent(1, 'refused', ['X9H01'], ['HOPERAT'], ['assessments']),
    consent(2, 'given', ['X99002'], ['TREAT'], ['person', 'care-plan']),
    consent(3, 'refused', 'any', ['HRESCH'], ['person', 'assessments', 'services', 'care-plan']),
    consent(4, 'given', [GP_ODS], ['TREAT', 'CAREMGT'], GP_CLASSES),
    ...Array.from({ length: ASSESSMENTS }, (_, k) =>
      rec('assessment', {
        source: source('ASM', k, day(start, -1 + k * 60)),
        assessmentType: 'CN',
        method: 'F2F',
        status: 'completed',
        startDate: day(start, -3 + k * 60),
        endDate: day(start, -1 + k * 60),
        assessor: worker,
        outcome: 'PRO-SUP',
        eligibility: {
          outcomes: ELIGIBILITY.slice(0, 4).map((o, j) => ({ outcome: o, unableToAchieve: (p + j) % 2 === 0, ...((p + j) % 2 === 0 ? { note: `Needs support with ${o}.` } : {}) })),
          significantImpactOnWellbeing: true,
          eligible: true,
        },
        answers: [
          { questionId: 'Q-MOB-01', question: 'Can you walk indoors without help?', answer: 'With a frame, short distances' },
          { questionId: 'Q-FALL-02', question: 'Falls in the last 12 months', answer: p % 4 },
        ],
      })
    ),
    ...Array.from({ length: REVIEWS }, (_, k) =>
      rec('review', {
        source: source('REV', k, day(start, 20 + k * 30)),
        reviewType: k === 0 ? 'planned' : k % 3 ? 'planned' : 'unplanned',
        method: k % 2 ? 'TEL' : 'F2F',
        date: day(start, 20 + k * 30),
        reviewer: worker,
        outcome: 'NCP',
        nextReviewDate: day(start, 50 + k * 30),
      })
    ),
  ];
}

/** Pushes the caseload in one NDJSON import as the council; returns the Patient ids. */
async function loadCaseload(gateway: Service, council: SigningKey, schemaUrl: string): Promise<{ patientIds: string[]; seconds: number; byType: string }> {
  const started = performance.now();
  const lines = Array.from({ length: PATIENTS }, (_, p) => personRecords(p))
    .flat()
    .map((r) => JSON.stringify(r))
    .join('\n');
  const token = await getToken(council, await tokenContext(gateway, 'bench-council', COUNCIL_ODS, 'CAREMGT'), gateway);
  const res = await fetch(`${gateway.url}/council/v1/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' },
    body: `${lines}\n`,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`import answered HTTP ${res.status}: ${text.slice(0, 2000)}`);
  const out = text.split('\n').filter(Boolean);
  const summaryLine = out.find((l) => l.startsWith('{"summary"'));
  const summary = summaryLine ? (JSON.parse(summaryLine) as { summary: Record<string, number> }).summary : undefined;
  const rejected = out.filter((l) => l.startsWith('{"error"') || l.includes('"status":"rejected"'));
  if (!summary || rejected.length || (summary.rejected ?? 0) > 0) {
    throw new Error(`import rejected records (${JSON.stringify(summary)}):\n${rejected.slice(0, 5).map((l) => l.slice(0, 800)).join('\n')}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const byType = await adminQuery<{ resource_type: string; n: string }>(schemaUrl, 'SELECT resource_type, count(*) AS n FROM resource WHERE NOT deleted GROUP BY 1 ORDER BY 2 DESC');
  const rows = await adminQuery<{ id: string }>(schemaUrl, "SELECT id FROM resource WHERE resource_type = 'Patient' AND NOT deleted ORDER BY id");
  if (rows.length !== PATIENTS) throw new Error(`expected ${PATIENTS} Patients, found ${rows.length}`);
  const unlabelled = await adminQuery<{ n: string }>(schemaUrl, "SELECT count(*) AS n FROM resource WHERE resource_type IN ('Patient','CarePlan','Task') AND (controller IS DISTINCT FROM $1 OR patient_id IS NULL)", [COUNCIL_ODS]);
  if (Number(unlabelled[0]!.n) > 0) throw new Error(`${unlabelled[0]!.n} Patient/CarePlan/Task rows lack the council as controller or a patient label`);
  // Shuffled deterministically, so consecutive requests are not for neighbouring rows.
  const ids = rows.map((r) => r.id).sort((a, b) => hash(a) - hash(b));
  return { patientIds: ids, seconds, byType: byType.map((r) => `${r.resource_type} ${r.n}`).join(', ') };
}
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
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
