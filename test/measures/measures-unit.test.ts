import { describe, expect, it } from 'vitest';
import { MANAGER_JOB_ROLES } from '../../src/measures/access.ts';
import { MEASURES } from '../../src/measures/definitions.ts';
import { parseEvaluateParams } from '../../src/measures/params.ts';
import { daysBetween, londonMidnight, periodOf, workingDaysBetween } from '../../src/measures/period.ts';
import { median, percentileNearestRank } from '../../src/measures/stats.ts';
import { isSdsJobRole } from '../../src/auth/sds-job-roles.ts';
import { HttpError } from '../../src/http/outcome.ts';

const H = new Set(['2026-12-25', '2026-12-28']);

describe('measure arithmetic', () => {
  it('median and nearest-rank 90th percentile', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 0, 1, 2])).toBe(1.5);
    expect(median([5, 1, 9])).toBe(5);
    expect(percentileNearestRank([0, 1, 2, 3], 90)).toBe(3);
    expect(percentileNearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentileNearestRank([7], 90)).toBe(7);
  });

  it('working days after the request day up to the answer day skip weekends and bank holidays', () => {
    expect(workingDaysBetween('2026-12-23', '2026-12-23', H)).toBe(0);
    // Wed 23 Dec → Tue 29 Dec: Thu 24 only (25 Christmas, weekend, 28 substitute), then Tue 29.
    expect(workingDaysBetween('2026-12-23', '2026-12-29', H)).toBe(2);
    expect(workingDaysBetween('2026-11-20', '2026-11-21', H)).toBe(0); // Friday → Saturday
    expect(daysBetween('2026-10-30', '2026-11-02')).toBe(3);
  });

  it('a period is whole London days: BST and GMT midnights', () => {
    expect(londonMidnight('2026-07-01').toISOString()).toBe('2026-06-30T23:00:00.000Z');
    expect(londonMidnight('2026-12-01').toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(londonMidnight('2026-03-29').toISOString()).toBe('2026-03-29T00:00:00.000Z'); // clocks go forward at 01:00 UTC
    expect(periodOf('2026-10-01', '2026-10-31').to.toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
});

describe('measure parameters and roles', () => {
  const bad = (q: Record<string, unknown>, body?: unknown) => {
    try {
      parseEvaluateParams(q, body);
    } catch (e) {
      return (e as HttpError).outcome.issue?.[0]?.expression?.[0];
    }
    return undefined;
  };
  it('names the bad parameter', () => {
    expect(bad({ periodEnd: '2026-01-01' })).toBe('periodStart');
    expect(bad({ periodStart: '2026-01-01', periodEnd: ['2026-01-02', '2026-01-03'] })).toBe('periodEnd');
    expect(bad({ periodStart: '2026-01-01', periodEnd: '2026-01-02', patient: 'x' })).toBe('patient');
    expect(bad({}, { resourceType: 'Patient' })).toBe('Parameters');
    expect(parseEvaluateParams({ organization: 'X9C01' }, { resourceType: 'Parameters', parameter: [{ name: 'periodStart', valueDate: '2026-01-01' }, { name: 'periodEnd', valueDate: '2026-01-31' }] })).toEqual({ periodStart: '2026-01-01', periodEnd: '2026-01-31', organization: 'X9C01' });
  });
  it('manager roles are real SDS job role codes; every Measure is ours and has its groups', () => {
    for (const r of MANAGER_JOB_ROLES) expect(isSdsJobRole(r), r).toBe(true);
    for (const m of MEASURES) {
      expect(m.url).toBe(`https://joinedup.org.uk/fhir/Measure/${m.id}`);
      expect(m.group?.length).toBeGreaterThan(0);
    }
  });
});
