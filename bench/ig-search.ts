/**
 * npm run bench:ig — issue 6's "IG search over 1,000,000 audit events p99 <= 100 ms".
 *
 * 1. A fresh schema on BENCH_DATABASE_URL (else postgresql://postgres@127.0.0.1:5432/test),
 *    migrated, then BENCH_IG_EVENTS (1,000,000) synthetic audit rows inserted
 *    by ONE generate_series INSERT: realistic content (an exchange's facts as
 *    buildExchangeAuditRecord stores them, ~0.7 kB), 50,000 patients, 200 organisations, 5,000
 *    users, 90 days, 10% denials, one break-glass override per 2,000 events
 *    (half of them reviewed). The hashes are filler: the chain does NOT
 *    verify, which a search benchmark does not need (bench:audit measures
 *    verify). Then ANALYZE.
 * 2. In-process, against the IG query functions the API calls (src/ig), with
 *    _count 50, each search page also rendered as the API's Bundle (every
 *    AuditEvent rendered from its facts): by patient; by organisation + a 7-day range; the pending
 *    review queue; outcome=deny over the last 7 days; page 2 of an
 *    organisation's search (cursor); override=break-glass over all time;
 *    by user, purpose=BTG and lawful-basis=art6-1-d over all time (rare
 *    values: until a migration adds PROPOSED_INDEXES, measured without them
 *    and again after creating them here, with the cost to a bulk append);
 *    and the baseline, a plain SELECT ... WHERE seq = $1.
 *    BENCH_IG_ITERATIONS (400) each after 40 warm-up runs, random values;
 *    p50 and p99 in ms, and p99 / baseline p99.
 * 3. Drops the schema (BENCH_KEEP=1 keeps it).
 */
import { availableParallelism, loadavg } from 'node:os';
import { buildExchangeAuditRecord } from '../src/audit/balp.ts';
import { storedEventText } from '../src/audit/event-text.ts';
import { migrate } from '../src/db/migrations.ts';
import { openPostgres } from '../src/db/postgres.ts';
import type { Database } from '../src/db/sql-client.ts';
import { parseQueueQuery, reviewQueue } from '../src/ig/reviews.ts';
import { searchAuditRows } from '../src/ig/audit-query.ts';
import { searchBundle } from '../src/ig/audit-bundle.ts';
import type { AuditFilters } from '../src/ig/audit-filters.ts';
import { createBenchSchema } from './schema.ts';

const N = Number(process.env.BENCH_IG_EVENTS ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_IG_ITERATIONS ?? 400);
const WARMUP = 40;
const PATIENTS = 50_000;
const ORGS = 200;
const USERS = 5_000;
const DAYS = 90;
const URL_ = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** A real event's canonical JSON with placeholders the INSERT fills per row. */
function contentTemplate(): string {
  const record = buildExchangeAuditRecord({
    recorded: new Date('2026-01-01T00:00:00Z'),
    requestId: '00000000-0000-4000-8000-000000000000',
    actor: {
      clientId: 'client-__O__',
      organisation: { ods: '__O__', name: 'Org', kind: 'gp-practice' },
      user: { id: '__U__', role: 'R8000' },
      purposeOfUse: 'TREAT',
      scopes: [],
      tokenId: '00000000-0000-4000-8000-000000000001',
    },
    interaction: 'read',
    patientId: '__P__',
    resources: ['CarePlan/__P__-cp', 'CareTeam/__P__-ct'],
    outcome: 'permit',
    decision: {
      outcome: 'permit',
      rules: [{ rule: 'R2-direct-care', effect: 'permit' }],
      lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' },
      reliedOn: { agreement: { id: 'midshire-direct-care', version: 1 } },
      obligations: [],
      explanation: 'Direct care under the Midshire agreement.',
    } as never,
  });
  // As an exchange's record stores it: its facts (src/audit/exchange-facts.ts).
  return storedEventText(record);
}

async function load(db: Database): Promise<void> {
  const started = performance.now();
  // i runs oldest to newest, so seq order follows recorded as it does live.
  await db.query(
    `INSERT INTO audit_event (recorded, patient_id, client_id, org_ods, user_id, purpose, outcome, action, subtype,
                              lawful_basis, override, review_state, content, prev_hash, hash)
     SELECT now() - make_interval(secs => ($2::int - i) * ($3::float8 * 86400 / $2::int)),
            'p' || ((i::bigint * 7919) % $4::int), 'client-X' || lpad((i % $5::int)::text, 5, '0'), 'X' || lpad((i % $5::int)::text, 5, '0'),
            'u' || (i % $6::int),
            CASE WHEN i % 2000 = 0 THEN 'BTG' WHEN i % 7 = 0 THEN 'CAREMGT' ELSE 'TREAT' END,
            CASE WHEN i % 10 = 3 THEN 'deny' WHEN i % 17 = 0 THEN 'permit-withheld' ELSE 'permit' END,
            CASE WHEN i % 3 = 0 THEN 'E' ELSE 'R' END, CASE WHEN i % 3 = 0 THEN 'search-type' ELSE 'read' END,
            CASE WHEN i % 2000 = 0 THEN 'art6-1-d' WHEN i % 10 = 3 THEN NULL ELSE 'art6-1-e' END,
            CASE WHEN i % 2000 = 0 THEN 'break-glass' END, CASE WHEN i % 2000 = 0 THEN 'pending' END,
            replace(replace(replace($1, '__P__', 'p' || ((i::bigint * 7919) % $4::int)), '__O__', 'X' || lpad((i % $5::int)::text, 5, '0')), '__U__', 'u' || (i % $6::int)),
            repeat('0', 64), md5(i::text) || md5((i + 1)::text)
       FROM generate_series(1, $2::int) AS i`,
    [contentTemplate(), N, DAYS, PATIENTS, ORGS, USERS]
  );
  // Half the overrides reviewed: a review row pointing back at each.
  await db.query(
    `INSERT INTO audit_event (recorded, patient_id, client_id, org_ods, user_id, purpose, outcome, action, subtype, review_state, reviews_seq, content, prev_hash, hash)
     SELECT recorded + interval '1 day', patient_id, 'client-X9G01', 'X9G01', 'ig-lead', 'HOPERAT', 'permit', 'U', 'override-review', 'reviewed', seq, '{}', repeat('0', 64), repeat('1', 64)
       FROM audit_event WHERE override IS NOT NULL AND seq % 4000 = 0`
  );
  await db.query('ANALYZE audit_event');
  console.log(`loaded ${N.toLocaleString('en-GB')} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Indexes for filters whose rare values v5's indexes cannot find quickly; proposed as a migration. */
const PROPOSED_INDEXES = [
  ['audit_event_user_idx', 'user_id, recorded'],
  ['audit_event_purpose_idx', 'purpose, recorded'],
  ['audit_event_lawful_basis_idx', 'lawful_basis, recorded'],
] as const;

async function missingIndexes(db: Database): Promise<(typeof PROPOSED_INDEXES)[number][]> {
  const r = await db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_event'`);
  return PROPOSED_INDEXES.filter(([, cols]) => !r.rows.some((x) => x.indexdef.includes(`(${cols})`)));
}

/** Searches on user, a rare purpose and a rare lawful basis, over all time. */
async function rareValueSearches(db: Database, label: 'with' | 'without') {
  const search = async (f: AuditFilters) => {
    const rows = await searchAuditRows(db, f, 50);
    searchBundle(rows, 'http://localhost', {}, 50);
    return rows;
  };
  const note = (label === 'without' && (await missingIndexes(db)).length ? ' [v5 indexes]' : ' [+ proposed]');
  return [
    await measure(`by user${note}`, () => search({ user: `u${pick(USERS)}` })),
    await measure(`purpose=BTG, all time${note}`, () => search({ purpose: 'BTG' })),
    await measure(`lawful-basis=art6-1-d, all time${note}`, () => search({ 'lawful-basis': 'art6-1-d' })),
  ];
}

/** 50,000 more rows in one statement (a rough measure of what each extra index costs the write path). */
async function timedAppend(db: Database): Promise<number> {
  const t = performance.now();
  await db.query(
    `INSERT INTO audit_event (recorded, patient_id, org_ods, user_id, purpose, outcome, action, subtype, content, prev_hash, hash)
     SELECT now(), 'p' || i, 'X00001', 'u' || (i % 5000), 'TREAT', 'permit', 'R', 'read', $1, repeat('0', 64), md5(i::text)
       FROM generate_series(1, 50000) AS i`,
    [contentTemplate()]
  );
  return performance.now() - t;
}

const pick = (n: number) => Math.floor(Math.random() * n);
const org = () => `X${String(pick(ORGS)).padStart(5, '0')}`;
const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();

async function measure(name: string, run: () => Promise<unknown>): Promise<{ name: string; p50: number; p99: number }> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { name, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const schema = await createBenchSchema(URL_);
  const db = await openPostgres(schema.url, 4);
  try {
    await migrate(db);
    await load(db);
    // As the API answers: the rows, then the searchset Bundle with each AuditEvent rendered from its facts.
    const search = async (f: AuditFilters, cursor?: number) => {
      const rows = await searchAuditRows(db, f, 50, cursor);
      searchBundle(rows, 'http://localhost', {}, 50);
      return rows;
    };
    const maxSeq = Number((await db.query<{ m: string }>('SELECT max(seq) AS m FROM audit_event')).rows[0]!.m);
    const results = [
      await measure('baseline: SELECT ... WHERE seq = $1', () => db.query('SELECT seq, content, hash FROM audit_event WHERE seq = $1', [1 + pick(maxSeq)])),
      await measure('by patient', () => search({ patient: `p${pick(PATIENTS)}` })),
      await measure('by organisation + 7-day range', () => {
        const start = 7 + pick(DAYS - 14);
        return search({ organisation: org(), from: daysAgo(start + 7), to: daysAgo(start) });
      }),
      await measure('pending reviews (queue, oldest first)', () => reviewQueue(db, parseQueueQuery({ state: 'pending' }))),
      await measure('review=pending (search, newest first)', () => search({ review: 'pending' })),
      await measure('outcome=deny, last 7 days', () => search({ outcome: 'deny', from: daysAgo(7) })),
      await measure('by organisation, page 2 (cursor)', async () => {
        const f = { organisation: org() };
        const page1 = await search(f);
        return search(f, page1[page1.length - 1]!.seq);
      }),
      await measure('override=break-glass (all time)', () => search({ override: 'break-glass' })),
      ...(await rareValueSearches(db, 'without')),
    ];
    const missing = await missingIndexes(db);
    if (missing.length) {
      // What the proposed migration would give (docs/ig-api.md, "Performance"), and what it costs appends.
      const before = await timedAppend(db);
      for (const [name, cols] of missing) await db.query(`CREATE INDEX ${name} ON audit_event (${cols})`);
      await db.query('ANALYZE audit_event');
      const after = await timedAppend(db);
      console.log(`bulk append of 50,000 rows: ${before.toFixed(0)} ms without, ${after.toFixed(0)} ms with ${missing.map(([n]) => n).join(', ')}`);
      results.push(...(await rareValueSearches(db, 'with')));
    }
    const base = results[0]!.p99;
    console.log(`\nIG search, ${N.toLocaleString('en-GB')} events, _count 50, ${ITERATIONS} runs each; ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('query'.padEnd(42), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'p99/baseline'.padStart(13));
    for (const r of results) console.log(r.name.padEnd(42), r.p50.toFixed(2).padStart(8), r.p99.toFixed(2).padStart(8), (r.p99 / base).toFixed(1).padStart(13));
    const worst = Math.max(...results.slice(1).filter((r) => !r.name.includes('[v5 indexes]')).map((r) => r.p99));
    console.log(`\ngoal p99 <= 100 ms (issue #6): worst of the IG searches ${worst.toFixed(1)} ms -> ${worst <= 100 ? 'met' : 'NOT met'}`);
  } finally {
    await db.close();
    if (process.env.BENCH_KEEP !== '1') await schema.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
