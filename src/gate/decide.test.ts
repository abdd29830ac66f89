import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import { justificationHash } from './rules/break-glass.ts';
import type { GateQuery, PersonFacts, Policy } from './types.ts';

const person: PersonFacts = {
  patientId: 'p-123', birthDate: '1950-01-01', isCarer: false, registeredGp: ['X99001'], careTeamOrgs: [], referralOrgs: [],
  recordHolders: ['X9C01'], servicesArrangedBy: ['X9C01'], consents: [], openSafeguarding: [], nationalDataOptOut: false, breakGlass: [],
};
const policy: Policy = {
  breakGlassWindowMs: 4 * 3600_000,
  agreements: [{ id: 'isa', version: 1, title: 't', parties: [{ ods: 'X9C01', name: 'c' }, { ods: 'X99001', name: 'g' }], purposes: ['TREAT'], dataClasses: ['assessments'], lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h' }, period: { start: '2025-01-01' } }],
};
const query = (over: Partial<GateQuery['requester']> = {}, p: PersonFacts = person): GateQuery => ({
  requester: { clientId: 'cl', ods: 'X99001', kind: 'gp-practice', userId: 'u', role: 'R8000', purpose: 'TREAT', ...over },
  operation: 'read', person: p, data: { resourceType: 'CarePlan', dataClass: 'assessments', controller: 'X9C01' }, now: new Date('2026-06-01T10:00:00Z'),
});

describe('decide', () => {
  it('names the settling rule first, then the conditions it relied on, each with sources', () => {
    const d = decide(query(), policy);
    expect(d.rules.map((r) => [r.rule, r.effect])).toEqual([
      ['R3-implied-consent-direct-care', 'permit'],
      ['R2-relationship', 'condition'],
      ['R1-agreement', 'condition'],
    ]);
    expect(d.reliedOn).toEqual({ agreement: { id: 'isa', version: 1 } });
    for (const r of d.rules) expect(r.sources.length).toBeGreaterThan(0);
    expect(d.explanation).toMatch(/^Permitted: direct care/);
    expect(d.explanation).not.toContain('p-123');
  });

  it('break-glass hashes the justification to find the window (sha256 hex)', () => {
    expect(justificationHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const windowed = { ...person, breakGlass: [{ userId: 'u', clientId: 'cl', justificationHash: justificationHash('why'), openedAt: '2026-06-01T09:00:00Z' }] };
    expect(decide(query({ purpose: 'BTG', justification: 'why' }, windowed), policy).obligations).toEqual(['flag-for-review', 'read-only']);
    const expired = { ...windowed, breakGlass: windowed.breakGlass.map((w) => ({ ...w, openedAt: '2026-06-01T06:00:00Z' })) };
    const d = decide(query({ purpose: 'BTG', justification: 'why' }, expired), policy);
    expect(d.outcome).toBe('deny');
    expect(d.explanation).toContain('break-glass window expired; a new declaration is needed');
  });

  it('does not mutate its inputs and is deterministic', () => {
    const q = query();
    const before = JSON.stringify([q, policy]);
    expect(decide(q, policy)).toEqual(decide(q, policy));
    expect(JSON.stringify([q, policy])).toBe(before);
  });
});
