import { describe, expect, it } from 'vitest';
import { coveringAgreements, inForce } from './agreement-match.ts';
import type { Policy, SharingAgreement } from './types.ts';

const a = (over: Partial<SharingAgreement>): SharingAgreement => ({
  id: 'isa',
  version: 1,
  title: 't',
  parties: [{ ods: 'X9C01', name: 'council' }, { ods: 'X99001', name: 'gp' }],
  purposes: ['TREAT'],
  dataClasses: ['assessments'],
  lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' },
  period: { start: '2026-01-01', end: '2026-12-31' },
  ...over,
});
const ms = (s: string) => Date.parse(s);
const ask = { requester: 'X99001', controller: 'X9C01', purpose: 'TREAT' as const, dataClass: 'assessments' as const, nowMs: ms('2026-06-01T10:00:00Z') };

describe('agreements in force', () => {
  it('period start and end are inclusive; endedAt ends it from that instant', () => {
    expect(inForce(a({}), ms('2026-01-01T00:00:00Z'))).toBe(true);
    expect(inForce(a({}), ms('2026-12-31T23:59:59Z'))).toBe(true);
    expect(inForce(a({}), ms('2027-01-01T00:00:00Z'))).toBe(false);
    expect(inForce(a({}), ms('2025-12-31T23:59:59Z'))).toBe(false);
    expect(inForce(a({ endedAt: '2026-06-01T10:00:00Z' }), ms('2026-06-01T10:00:00Z'))).toBe(false);
    expect(inForce(a({ endedAt: '2026-06-01T10:00:01Z' }), ms('2026-06-01T10:00:00Z'))).toBe(true);
  });

  it('covers only requester + controller + purpose + class', () => {
    const policy: Policy = { agreements: [a({})], breakGlassWindowMs: 1 };
    expect(coveringAgreements(policy, ask)).toHaveLength(1);
    expect(coveringAgreements(policy, { ...ask, requester: 'X9H01' })).toHaveLength(0);
    expect(coveringAgreements(policy, { ...ask, controller: 'X9C02' })).toHaveLength(0);
    expect(coveringAgreements(policy, { ...ask, controller: undefined })).toHaveLength(0);
    expect(coveringAgreements(policy, { ...ask, purpose: 'CAREMGT' })).toHaveLength(0);
    expect(coveringAgreements(policy, { ...ask, dataClass: 'services' })).toHaveLength(0);
  });

  it('is deterministic: id ascending, newest version first', () => {
    const policy: Policy = { agreements: [a({ id: 'b' }), a({ id: 'a', version: 1 }), a({ id: 'a', version: 3 })], breakGlassWindowMs: 1 };
    expect(coveringAgreements(policy, ask).map((x) => `${x.id}@${x.version}`)).toEqual(['a@3', 'a@1', 'b@1']);
  });
});
