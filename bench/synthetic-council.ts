/**
 * Pieces of synthetic council records shared by the benchmarks that load
 * caseloads (bench/council-import.ts, bench/gate-fixture.ts): invented
 * people and organisations only (docs/examples/council/*.json show the shapes).
 */
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
