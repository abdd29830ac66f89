import { readFileSync } from 'node:fs';
import type { CareTeam } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { checkCareTeam } from './care-team-rules.ts';
import { loadJointWorkConfig } from './config.ts';
import { addWorkingDays, isOverdue, isWorkingDay, londonDate, responseDeadline } from './deadlines.ts';
import { checkRequestTask } from './workflow-rules.ts';

const config = loadJointWorkConfig();
const H = config.bankHolidays;

describe('working days (England and Wales)', () => {
  it('skip weekends and bank holidays, including substitute days', () => {
    expect(isWorkingDay('2026-08-31', H)).toBe(false); // summer bank holiday
    expect(isWorkingDay('2026-12-28', H)).toBe(false); // Boxing Day substitute
    expect(isWorkingDay('2026-09-01', H)).toBe(true);
    expect(addWorkingDays('2026-08-28', 2, H)).toBe('2026-09-02'); // Fri → weekend, bank holiday → Wed
    expect(addWorkingDays('2026-12-24', 2, H)).toBe('2026-12-30'); // Thu → Christmas, weekend, substitute Boxing Day
    expect(addWorkingDays('2027-12-24', 1, H)).toBe('2027-12-29');
    expect(addWorkingDays('2026-11-20', 0, H)).toBe('2026-11-20');
  });

  it('count from the English calendar date of the request', () => {
    // 23:30 UTC on Sunday 29 March 2026 is already Monday 30 March in England (BST).
    expect(londonDate(new Date('2026-03-29T23:30:00Z'))).toBe('2026-03-30');
    expect(responseDeadline('discharge-assessment', new Date('2026-03-29T23:30:00Z'), config)).toBe('2026-04-01');
    expect(responseDeadline('no-such-kind', new Date('2026-11-16T10:00:00Z'), config)).toBe(addWorkingDays('2026-11-16', config.defaultResponseWorkingDays, H));
  });

  it('a request is overdue once its deadline day has ended and only while unanswered', () => {
    const t = { status: 'requested' as const, restriction: { period: { end: '2026-09-02' } } };
    expect(isOverdue(t, new Date('2026-09-02T22:59:00Z'))).toBe(false);
    expect(isOverdue(t, new Date('2026-09-02T23:00:00Z'))).toBe(true); // midnight BST
    expect(isOverdue({ ...t, status: 'accepted' }, new Date('2027-01-01'))).toBe(false);
  });
});

describe('care team rules', () => {
  it('the council mapping golden care team passes', () => {
    const golden = JSON.parse(readFileSync(new URL('../../test/mapping/golden/older-man-care-team.expected.json', import.meta.url), 'utf8')) as { resources: CareTeam[] };
    const team = golden.resources.find((r) => r.resourceType === 'CareTeam') as CareTeam;
    expect(checkCareTeam(team, '2026-11-21')).toEqual([]);
  });
});

describe('request Task workflow', () => {
  const base = {
    resourceType: 'Task' as const,
    status: 'requested' as const,
    intent: 'order' as const,
    code: { coding: [{ system: 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-request-kind', code: 'chc-checklist' }] },
    basedOn: [{ reference: 'ServiceRequest/sr1' }],
    for: { reference: 'Patient/p1' },
    owner: { type: 'Organization' as const, identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X9C01' } },
  };
  it('a decline needs written reasons (Care Act 2014 s7(3))', () => {
    const r = checkRequestTask({ ...base, status: 'rejected' }, base, 'X9C01', config, new Date());
    expect(r.issues[0]?.expression).toEqual(['Task.statusReason']);
    expect(r.issues[0]?.details?.text).toMatch(/s7\(3\)/);
    expect(checkRequestTask({ ...base, status: 'rejected', statusReason: { text: 'No capacity' } }, base, 'X9C01', config, new Date()).issues).toEqual([]);
  });
  it('a Task that is not a joint work request is left alone', () => {
    expect(checkRequestTask({ ...base, code: { text: 'anything' }, status: 'rejected' }, undefined, 'X9C01', config, new Date())).toEqual({ issues: [] });
  });
});
