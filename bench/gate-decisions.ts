/**
 * npm run bench:gate — what one lawful-basis decision costs, in-process.
 *
 * A person with 5 consents and a policy with 3 agreements; a mix of queries
 * covering implied consent, objection, explicit consent, capacity, research,
 * break-glass, safeguarding, need to know and a write. Each round runs every
 * query the same number of times; the table shows the median rate over the
 * rounds, p99 per-decision latency, and a baseline measured the same way in
 * the same run: JSON.stringify of the query (the cheapest thing an enforcement
 * point does with it anyway).
 *
 * Goals (issue #5): ≥ 100,000 decisions/s on one core, p99 ≤ 50 µs.
 * Settings (environment): BENCH_GATE_ROUNDS (7), BENCH_GATE_DECISIONS (200000 per round).
 */
import { createHash } from 'node:crypto';
import { decide } from '../src/gate/decide.ts';
import type { ConsentFact, GateQuery, PersonFacts, Policy, Requester } from '../src/gate/types.ts';

const ROUNDS = Number(process.env.BENCH_GATE_ROUNDS ?? 7);
const PER_ROUND = Number(process.env.BENCH_GATE_DECISIONS ?? 200_000);
const JUST = 'Unconscious in ED';

const consents: ConsentFact[] = [
  { ref: 'Consent/1', dateTime: '2025-03-01T09:00:00Z', decision: 'given', authority: 'person', provisions: [{ type: 'permit', actors: [], purposes: [], classes: [] }] },
  { ref: 'Consent/2', dateTime: '2025-09-01T09:00:00Z', decision: 'refused', authority: 'person', provisions: [{ type: 'deny', actors: ['X9H01'], purposes: [], classes: [] }] },
  { ref: 'Consent/3', dateTime: '2026-01-10T09:00:00Z', decision: 'given', authority: 'person', provisions: [{ type: 'permit', actors: [], purposes: ['TREAT'], classes: [] }, { type: 'deny', actors: [], purposes: [], classes: ['safeguarding'] }] },
  { ref: 'Consent/4', dateTime: '2026-02-01T09:00:00Z', decision: 'refused', authority: 'person', period: { end: '2026-03-01' }, provisions: [{ type: 'deny', actors: [], purposes: [], classes: [] }] },
  { ref: 'Consent/5', dateTime: '2026-03-01T09:00:00Z', decision: 'given', authority: 'person', provisions: [{ type: 'permit', actors: ['X9M01'], purposes: ['CAREMGT'], classes: ['care-plan'] }], capacity: { hasCapacity: true } },
];

const person: PersonFacts = {
  patientId: 'bench', birthDate: '1950-04-12', isCarer: false, registeredGp: ['X99001'], careTeamOrgs: ['X9H01', 'X9M01'], referralOrgs: [],
  recordHolders: ['X9C01'], servicesArrangedBy: ['X9C01'], consents, openSafeguarding: [{ ref: 'Flag/1', kind: 's42' }], nationalDataOptOut: false,
  breakGlass: [{ userId: 'u1', clientId: 'c-X9H01', justificationHash: createHash('sha256').update(JUST).digest('hex'), openedAt: '2026-06-01T08:00:00Z' }],
};

const all = ['person', 'assessments', 'services', 'reviews', 'care-plan', 'care-team', 'contacts'] as const;
const policy: Policy = {
  breakGlassWindowMs: 4 * 3600_000,
  agreements: [
    { id: 'isa-care', version: 2, title: 'direct care', parties: ['X9C01', 'X99001', 'X9H01', 'X9M01'].map((ods) => ({ ods, name: ods })), purposes: ['TREAT', 'CAREMGT'], dataClasses: [...all], lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' }, period: { start: '2025-01-01', end: '2027-12-31' } },
    { id: 'isa-research', version: 1, title: 'research', parties: [{ ods: 'X9C01', name: 'c' }, { ods: 'X9H01', name: 'h' }], purposes: ['HRESCH'], dataClasses: ['assessments'], lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-j' }, period: { start: '2026-01-01' } },
    { id: 'isa-old', version: 1, title: 'expired', parties: [{ ods: 'X9C01', name: 'c' }, { ods: 'X9C02', name: 'c2' }], purposes: ['CAREMGT'], dataClasses: [...all], lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' }, period: { start: '2023-01-01', end: '2025-12-31' } },
  ],
};

const now = new Date('2026-06-01T10:00:00Z');
const req = (ods: string, purpose: Requester['purpose'], justification?: string): Requester => ({
  clientId: `c-${ods}`, ods, kind: 'nhs-trust', userId: 'u1', role: 'R8000', purpose, ...(justification ? { justification } : {}),
});
const q = (requester: Requester, dataClass: GateQuery['data']['dataClass'], operation: GateQuery['operation'] = 'read'): GateQuery => ({
  requester, operation, person, data: { resourceType: 'CarePlan', dataClass, controller: 'X9C01' }, now,
});

const QUERIES: GateQuery[] = [
  q(req('X99001', 'TREAT'), 'assessments'), // explicit consent (Consent/3)
  q(req('X99001', 'CAREMGT'), 'services'), // explicit consent (Consent/1)
  q(req('X9H01', 'CAREMGT'), 'care-plan'), // objection (Consent/2)
  q(req('X9M01', 'CAREMGT'), 'care-plan'), // explicit consent (Consent/5)
  q(req('X9H01', 'HRESCH'), 'assessments'), // objection to the acute trust beats research
  q(req('X9H01', 'BTG', JUST), 'assessments'), // open break-glass window
  q(req('X9H01', 'safeguarding-adults', 'concern'), 'safeguarding'), // R5
  q(req('X9C01', 'CAREMGT'), 'services'), // need to know (R8)
  q(req('X9C02', 'CAREMGT'), 'care-plan'), // expired agreement: R2 first
  q(req('X9C01', 'CAREMGT'), 'care-plan', 'write'), // controller write
];

function timeRound(fn: (query: GateQuery) => unknown): number {
  const n = QUERIES.length;
  const start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) fn(QUERIES[i % n] as GateQuery);
  return PER_ROUND / (Number(process.hrtime.bigint() - start) / 1e9);
}

function p99Micros(fn: (query: GateQuery) => unknown, samples: number): number {
  const lat = new Float64Array(samples);
  const n = QUERIES.length;
  for (let i = 0; i < samples; i++) {
    const query = QUERIES[i % n] as GateQuery;
    const t0 = process.hrtime.bigint();
    fn(query);
    lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  lat.sort();
  return lat[Math.floor(samples * 0.99)] as number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const decideFn = (query: GateQuery) => decide(query, policy);
const baselineFn = (query: GateQuery) => JSON.stringify(query);

// Warm up both (JIT), then alternate within each round so both see the same machine.
timeRound(decideFn);
timeRound(baselineFn);
const rates: number[] = [];
const baseRates: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    rates.push(timeRound(decideFn));
    baseRates.push(timeRound(baselineFn));
  } else {
    baseRates.push(timeRound(baselineFn));
    rates.push(timeRound(decideFn));
  }
}
const p99 = p99Micros(decideFn, 100_000);
const baseP99 = p99Micros(baselineFn, 100_000);
const rate = median(rates);
const baseRate = median(baseRates);

const outcomes = QUERIES.map((query) => `${decide(query, policy).outcome} ${decide(query, policy).rules[0]?.rule}`);
console.log(`gate decisions — person with ${consents.length} consents, ${policy.agreements.length} agreements, ${QUERIES.length} queries in the mix`);
console.log(`  mix: ${outcomes.join(', ')}`);
console.log(`  rounds: ${ROUNDS} x ${PER_ROUND.toLocaleString('en-GB')} decisions`);
console.log('');
console.log('| measure | decide | baseline (JSON.stringify of the query) | decide rate / baseline rate |');
console.log('|---|---|---|---|');
console.log(`| decisions/s (median) | ${Math.round(rate).toLocaleString('en-GB')} | ${Math.round(baseRate).toLocaleString('en-GB')} | ${(rate / baseRate).toFixed(2)}x |`);
console.log(`| p99 latency (µs) | ${p99.toFixed(2)} | ${baseP99.toFixed(2)} | |`);
console.log('');
const ok = rate >= 100_000 && p99 <= 50;
console.log(`goal ≥ 100,000/s and p99 ≤ 50 µs: ${ok ? 'met' : 'NOT met'}`);
