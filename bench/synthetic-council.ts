/**
 * Pieces of synthetic council records shared by the benchmarks that load
 * caseloads (bench/council-import.ts, bench/gate-fixture.ts): invented
 * people and organisations only (docs/examples/council/*.json show the shapes).
 */
import { makeTestNhsNumber } from '../src/fhir/validation/nhs-number.ts';

export const ELIGIBILITY = ['personal-hygiene', 'home-safety', 'community-facilities', 'managing-nutrition', 'toilet-needs', 'being-clothed', 'relationships', 'habitable-home'];
export const COMPONENTS = ['HS', 'EQ', 'DS', 'R', 'M'];

/** The ISO date `plusDays` after `base` (a date). */
export function day(base: string, plusDays: number): string {
  return new Date(Date.parse(`${base}T00:00:00Z`) + plusDays * 86_400_000).toISOString().slice(0, 10);
}

/** The body of an active care and support plan for person `p` with needs, goals and activities numbered 1..needs. */
export function carePlanBody(p: number, start: string, author: Record<string, unknown>, needs: number): Record<string, unknown> {
  const n = Array.from({ length: needs }, (_, k) => k + 1);
  return {
    status: 'active',
    title: `Care and support plan ${p}`,
    created: start,
    period: { start, end: day(start, 364) },
    author,
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
  };
}

/** The council used by the caseload benchmarks (invented ODS code). */
export const COUNCIL_ODS = 'X9C01';

/** Six weeks' short-term reablement, ended as planned: the service every synthetic person has. */
export function reablementService(p: number, start: string): Record<string, unknown> {
  return {
    serviceType: 'STS-STMAX',
    serviceComponent: 'R',
    deliveryMechanism: 'CCS',
    provider: { ods: 'X9P01', name: 'Midshire Reablement Team (synthetic)' },
    hoursPerWeek: 2 + (p % 20),
    startDate: start,
    endDate: day(start, 25),
    endReason: 'PRO-SUP',
  };
}

/**
 * How the lines of a synthetic caseload are made, one person's case after
 * another (resource versions per line include each record's Provenance):
 *
 * - `dense` (default, issue 4 item 9's "~8 resources each"): per person a
 *   `person` (Patient + Condition for the primary support reason), an
 *   `assessment` (Task + eligibility QuestionnaireResponse + an answers
 *   QuestionnaireResponse of 8 answers) and a `care-plan` with 13-17 needs,
 *   goals and activities (CarePlan + one Goal per goal): 3 + 4 + 17 = 24
 *   versions per 3 lines, 8.0 per line. The council format maps every other
 *   record type to one resource, so ~8 per line is only reached by the
 *   record types that fan out.
 * - `case` (the first and second passes' caseload): `person`, `care-plan`
 *   (5-7 goals), `care-team` (3 members), `assessment` (3 answers), `service`
 *   and `consent` per person: 21 versions per 6 lines, 3.5 per line.
 */
export type CaseloadMix = 'dense' | 'case';
export type CouncilRecordType = 'person' | 'care-plan' | 'care-team' | 'assessment' | 'service' | 'consent';
export const CASELOAD_MIXES: Record<CaseloadMix, readonly CouncilRecordType[]> = {
  dense: ['person', 'assessment', 'care-plan'],
  case: ['person', 'care-plan', 'care-team', 'assessment', 'service', 'consent'],
};

/** Line `i` (0-based) of a caseload of `mix`, as an object (JSON.stringify it for NDJSON). */
export function caseloadLine(i: number, mix: CaseloadMix = 'dense'): Record<string, unknown> {
  const types = CASELOAD_MIXES[mix];
  return makeRecord(types[i % types.length]!, Math.floor(i / types.length), mix);
}

/** Assessment questions and person p's answers (text, number, true/false, as the format allows). */
const ANSWERS: ((p: number) => Record<string, unknown>)[] = [
  (p) => ({ questionId: 'Q-MOB-01', question: 'Can you walk indoors without help?', answer: p % 2 ? 'With a frame, short distances' : 'Yes' }),
  (p) => ({ questionId: 'Q-FALL-02', question: 'Falls in the last 12 months', answer: p % 4 }),
  (p) => ({ questionId: 'Q-CARER-01', question: 'Does an unpaid carer support you?', answer: p % 3 !== 0 }),
  (p) => ({ questionId: 'Q-MEAL-01', question: 'Can you prepare a hot meal?', answer: p % 5 ? 'With prompting' : 'No' }),
  (p) => ({ questionId: 'Q-MED-01', question: 'Do you manage your own medication?', answer: p % 2 === 0 }),
  (p) => ({ questionId: 'Q-STAIRS-01', question: 'Stairs at home', answer: (p % 3) + 1 }),
  (p) => ({ questionId: 'Q-ISOL-01', question: 'How often do you see friends or family?', answer: ['Daily', 'Weekly', 'Rarely'][p % 3]! }),
  (p) => ({ questionId: 'Q-GOAL-01', question: 'What matters most to you?', answer: `Staying at home with my garden (${p % 13}).` }),
];

const GIVEN = ['Arthur', 'Edith', 'Mohammed', 'Aisha', 'Gwen', 'Tomasz', 'Priya', 'Desmond', 'Nia', 'Callum', 'Irene', 'Kwame'];
const FAMILY = ['Pemberton', 'Okafor', 'Kowalski', 'Hughes', 'Begum', 'Fraser', 'Lindqvist', 'Adeyemi', 'Marsh', 'Quinn'];

/** The invented demographics of a `person` record for person number `p` (names, dates and phone varied by `p`). */
export function personDetails(p: number, gpPracticeOds: string): Record<string, unknown> {
  return {
    name: { prefix: p % 2 ? 'Mr' : 'Ms', given: [GIVEN[p % GIVEN.length]!], family: `${FAMILY[p % FAMILY.length]}-Testcase` },
    birthDate: day('1930-01-01', (p * 37) % 25_000),
    gender: p % 2 ? 'male' : 'female',
    ethnicity: 'A',
    postcode: 'ZZ99 3CZ',
    contact: { phone: `01632 ${String(960000 + (p % 1000)).slice(0, 6)}` },
    gpPracticeOds,
    clientType: 'service-user',
    primarySupportReason: 'PS-PCS',
    accommodationStatus: 'OWN',
    hasUnpaidCarer: p % 3 ? 'yes' : 'no',
  };
}

/** One synthetic council record of `type` for person number `p` (shapes as docs/examples/council/*.json), sized for `mix`. */
export function makeRecord(type: CouncilRecordType, p: number, mix: CaseloadMix = 'dense'): Record<string, unknown> {
  const nhsNumber = makeTestNhsNumber(p);
  const localId = `BEN-${String(p).padStart(7, '0')}`;
  const v = p % 97;
  const start = day('2025-01-06', p % 600);
  const source = (prefix: string) => ({ system: 'mosaic-bench', recordId: `${prefix}-${p}`, lastUpdated: `${day(start, 3)}T${String(8 + (p % 10)).padStart(2, '0')}:${String(p % 60).padStart(2, '0')}:00Z` });
  const personRef = { localId, nhsNumber };
  const worker = { name: `Sam Testworker${v}`, localId: `STAFF-${v}`, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS };
  const base = { formatVersion: '1', recordType: type };
  switch (type) {
    case 'person':
      return {
        ...base,
        source: source('PER'),
        person: personRef,
        ...personDetails(p, 'X99001'),
      };
    case 'care-plan':
      return { ...base, source: source('CSP'), person: personRef, ...carePlanBody(p, start, worker, mix === 'case' ? 5 + (p % 3) : 13 + (p % 5)) };
    case 'assessment':
      return {
        ...base,
        source: source('ASM'),
        person: personRef,
        assessmentType: 'CN',
        method: 'F2F',
        status: 'completed',
        startDate: start,
        endDate: day(start, 3),
        assessor: { name: worker.name, localId: worker.localId, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS },
        outcome: 'PRO-SUP',
        eligibility: {
          outcomes: ELIGIBILITY.map((outcome, k) => ({ outcome, unableToAchieve: (p + k) % 3 === 0, ...((p + k) % 3 === 0 ? { note: `Needs support (${k}) for person ${p}.` } : {}) })),
          significantImpactOnWellbeing: true,
          eligible: true,
        },
        answers: mix === 'case' ? ANSWERS.slice(0, 3).map((q) => q(p)) : ANSWERS.map((q) => q(p)),
      };
    case 'care-team':
      return {
        ...base,
        source: source('CT'),
        person: personRef,
        name: `Team for person ${p}`,
        status: 'active',
        period: { start },
        members: [
          { ...worker, organisationName: 'Midshire County Council (synthetic)', jobTitle: 'Social worker', role: 'primary-contact', period: { start } },
          { name: `Dr Testdoc${v}`, organisationOds: 'X99001', organisationName: 'Greenway Surgery (synthetic)', jobTitle: 'GP', role: 'chair', period: { start } },
          { name: `Jo Testnurse${v}`, organisationOds: 'X9H01', jobTitle: 'Community nurse', role: 'member', period: { start } },
        ],
      };
    case 'consent':
      return {
        ...base,
        source: source('CNS'),
        person: personRef,
        status: 'given',
        decidedBy: 'person',
        scope: { organisations: ['X99001', 'X9H01'], purposes: ['TREAT', 'CAREMGT'], dataClasses: ['person', 'assessments', 'services', 'care-plan', 'care-team', 'contacts'] },
        capacity: { hasCapacity: true, assessedOn: start, assessor: { name: worker.name, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS } },
        date: start,
        reviewDate: day(start, 365),
        recordedBy: { name: worker.name, localId: worker.localId, organisationOds: COUNCIL_ODS },
      };
    case 'service':
      return {
        ...base,
        source: source('SRV'),
        person: personRef,
        ...reablementService(p, start),
      };
  }
}
