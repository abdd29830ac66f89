import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { decide } from '../../src/gate/decide.ts';
import type { ConsentFact, DataClass, GateQuery, PersonFacts, Policy, SharingAgreement } from '../../src/gate/types.ts';
import { winningConsent } from '../../src/gate/consent-provisions.ts';
import { oracle, pickConsent } from './oracle.ts';

/**
 * Random consents, agreements, relationships and queries: the engine must
 * agree with the brute-force oracle on the outcome and on the rule that
 * settled it. Small pools (four organisations, a handful of instants) make
 * collisions — ties, overlaps, boundaries — likely.
 */

const ORGS = ['X9C01', 'X9C02', 'X99001', 'X9H01'] as const;
const CLASSES: DataClass[] = ['assessments', 'services', 'person', 'carer-data', 'safeguarding'];
const INSTANTS = ['2025-06-01T00:00:00Z', '2026-01-01', '2026-03-01T12:00:00Z', '2026-06-01T10:00:00Z', '2026-06-01', '2026-12-31'];
const NOWS = ['2026-06-01T10:00:00Z', '2026-06-01T13:59:59.999Z', '2026-06-01T14:00:00Z', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'];
const JUSTIFICATIONS = [undefined, '', '  ', 'j1', 'j2'];
const WINDOW_MS = 4 * 3600 * 1000;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const orgs = fc.subarray([...ORGS]);
function weighted<A, B>(wa: number, a: fc.Arbitrary<A>, wb: number, b: fc.Arbitrary<B>): fc.Arbitrary<A | B> {
  return fc.oneof({ weight: wa, arbitrary: a as fc.Arbitrary<A | B> }, { weight: wb, arbitrary: b as fc.Arbitrary<A | B> });
}
const instant = fc.constantFrom(...INSTANTS);
const period = fc.option(fc.record({ start: fc.option(instant, { nil: undefined }), end: fc.option(instant, { nil: undefined }) }, { requiredKeys: [] }), { nil: undefined });

const provision = fc.record({
  type: fc.constantFrom('permit' as const, 'deny' as const),
  actors: orgs,
  purposes: fc.subarray([...PURPOSE_CODES], { maxLength: 3 }),
  classes: fc.subarray(CLASSES, { maxLength: 2 }),
  period,
});

const consent: fc.Arbitrary<ConsentFact> = fc.record({
  ref: fc.constantFrom('Consent/a', 'Consent/b', 'Consent/c'),
  // Few decision times, so ties between consents are common.
  dateTime: fc.constantFrom('2026-01-01', '2026-03-01T12:00:00Z', '2026-06-01T10:00:00Z'),
  period,
  decision: fc.constantFrom('given' as const, 'given' as const, 'refused' as const, 'withdrawn' as const),
  authority: fc.constantFrom('person' as const, 'person' as const, 'lpa-health-welfare' as const, 'deputy' as const, 'best-interests' as const, 'parental-responsibility' as const),
  provisions: fc.array(provision, { minLength: 1, maxLength: 3 }),
  capacity: weighted(6, fc.constant(undefined), 1, fc.record({ hasCapacity: fc.boolean(), assessedOn: fc.option(instant, { nil: undefined }) })),
});

const person: fc.Arbitrary<PersonFacts> = fc.record({
  patientId: fc.constant('p'),
  birthDate: fc.constantFrom(undefined, '1950-01-01', '2012-05-05', '2008-06-01', '2008-06-02'),
  isCarer: weighted(3, fc.constant(false), 1, fc.constant(true)),
  registeredGp: orgs,
  careTeamOrgs: orgs,
  referralOrgs: orgs,
  recordHolders: orgs,
  servicesArrangedBy: orgs,
  consents: fc.array(consent, { maxLength: 4 }),
  openSafeguarding: fc.subarray([{ ref: 'Flag/1', kind: 's42' as const }, { ref: 'Flag/2', kind: 's47' as const }]),
  nationalDataOptOut: fc.boolean(),
  breakGlass: fc.array(
    fc.record({
      userId: fc.constantFrom('u1', 'u2'),
      clientId: fc.constantFrom('client'),
      justificationHash: fc.constantFrom('j1', 'j2').map(sha),
      openedAt: fc.constantFrom('2026-06-01T10:00:00Z', '2026-06-01T06:00:00Z', '2026-06-01T09:59:00Z'),
    }),
    { maxLength: 2 },
  ),
});

const agreement: fc.Arbitrary<SharingAgreement> = fc.record({
  id: fc.constantFrom('isa-1', 'isa-2', 'isa-3'),
  version: fc.integer({ min: 1, max: 3 }),
  title: fc.constant('t'),
  parties: fc.subarray([...ORGS], { minLength: 2 }).map((o) => o.map((ods) => ({ ods, name: ods }))),
  purposes: fc.subarray([...PURPOSE_CODES]),
  dataClasses: fc.subarray(CLASSES),
  lawfulBasis: fc.record({ art6: fc.constant('art6-1-e' as const), art9: fc.constant('art9-2-h' as const), legalDuty: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ['art6', 'art9'] }),
  period: fc.record({ start: instant, end: fc.option(instant, { nil: undefined }) }, { requiredKeys: ['start'] }),
  endedAt: fc.option(instant, { nil: undefined, freq: 4 }),
});

const BROAD: SharingAgreement = {
  id: 'isa-broad',
  version: 1,
  title: 'broad',
  parties: ORGS.map((ods) => ({ ods, name: ods })),
  purposes: [...PURPOSE_CODES],
  dataClasses: CLASSES,
  lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' },
  period: { start: '2020-01-01' },
};

const query: fc.Arbitrary<[GateQuery, Policy]> = fc
  .record({
    ods: fc.constantFrom(...ORGS),
    userId: fc.constantFrom('u1', 'u2'),
    purpose: weighted(1, fc.constantFrom(...PURPOSE_CODES), 1, fc.constantFrom('TREAT' as const, 'CAREMGT' as const)),
    justification: fc.constantFrom(...JUSTIFICATIONS),
    operation: fc.constantFrom('read' as const, 'search' as const, 'write' as const),
    person,
    dataClass: weighted(6, fc.constantFrom('assessments' as const, 'services' as const, 'person' as const), 1, fc.constantFrom('carer-data' as const, 'safeguarding' as const)),
    controller: fc.constantFrom(undefined, ...ORGS),
    thirdParty: weighted(8, fc.constant(null), 3, fc.option(fc.array(consent, { maxLength: 2 }), { nil: undefined })),
    now: fc.constantFrom(...NOWS),
    // Half the time a broad agreement is in force, so the rules after rule 1 are reached often.
    agreements: fc.tuple(fc.boolean(), fc.array(agreement, { maxLength: 3 })).map(([broad, list]) => (broad ? [BROAD, ...list] : list)),
  })
  .map((r) => {
    const q: GateQuery = {
      requester: { clientId: 'client', ods: r.ods, kind: 'nhs-trust', userId: r.userId, role: 'R8000', purpose: r.purpose, ...(r.justification !== undefined ? { justification: r.justification } : {}) },
      operation: r.operation,
      person: r.person,
      data: {
        resourceType: 'CarePlan',
        dataClass: r.dataClass,
        ...(r.controller !== undefined ? { controller: r.controller } : {}),
        ...(r.thirdParty === null
          ? {}
          : { thirdParty: r.thirdParty === undefined ? { kind: 'carer' as const } : { kind: 'carer' as const, facts: { ...r.person, consents: r.thirdParty } } }),
      },
      now: new Date(r.now),
    };
    return [q, { agreements: r.agreements, breakGlassWindowMs: WINDOW_MS }];
  });

describe('gate property: engine agrees with the brute-force oracle', () => {
  it('outcome and settling rule agree on random exchanges', () => {
    fc.assert(
      fc.property(query, ([q, policy]) => {
        const d = decide(q, policy);
        expect({ outcome: d.outcome, rule: d.rules[0]?.rule }).toEqual(oracle(q, policy));
      }),
      { numRuns: 5000 },
    );
  });

  it('consent resolution (most recent applicable wins, deny beats permit, ties deny) agrees with the oracle', () => {
    const authorities = ['person', 'lpa-health-welfare'] as const;
    fc.assert(
      fc.property(fc.array(consent, { maxLength: 6 }), fc.constantFrom(...ORGS), fc.constantFrom('TREAT' as const, 'HRESCH' as const), fc.constantFrom(...CLASSES), fc.constantFrom(...NOWS), (cs, actor, purpose, dataClass, now) => {
        const nowMs = new Date(now).getTime();
        const v = winningConsent(cs, { actor, purpose, dataClass, nowMs }, authorities);
        const o = pickConsent(cs, [...authorities], actor, purpose, dataClass, nowMs);
        expect(v ? { deny: v.effect === 'deny', names: v.namesActor } : undefined).toEqual(o ? { deny: o.deny, names: o.names } : undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('is deterministic and every decision is well formed', () => {
    fc.assert(
      fc.property(query, ([q, policy]) => {
        const a = decide(q, policy);
        expect(decide(q, policy)).toEqual(a);
        expect(a.rules.length).toBeGreaterThan(0);
        expect(a.explanation.length).toBeGreaterThan(0);
        if (a.outcome === 'permit') expect(a.lawfulBasis).toBeDefined();
        else expect(a.lawfulBasis).toBeUndefined();
        // s251B is never cited for a child or against an applicable objection.
        if (a.lawfulBasis?.statutoryGateway === 'hsca-2012-s251b') {
          expect(a.rules[0]?.rule === 'R10-children').toBe(false);
        }
        // Break-glass never permits a write; every override is flagged.
        if (q.operation === 'write' && (q.requester.purpose === 'BTG' || q.requester.purpose === 'ETREAT')) expect(a.outcome).toBe('deny');
        if (a.outcome === 'permit' && (a.rules[0]?.rule === 'R5-safeguarding' || a.rules[0]?.rule === 'R9-break-glass')) {
          expect(a.obligations).toContain('flag-for-review');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
