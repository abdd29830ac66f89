import { describe, expect, it } from 'vitest';
import { GATE_CODE_SYSTEMS } from './codesystems.ts';
import { LAWFUL_BASIS_DISPLAY, LAWFUL_BASIS_SYSTEM } from './lawful-basis-codes.ts';

describe('gate CodeSystems', () => {
  const byId = new Map(GATE_CODE_SYSTEMS.map((cs) => [cs.id, cs]));

  it('publishes the four code systems with ids and complete content', () => {
    expect([...byId.keys()]).toEqual(['gate-rule', 'lawful-basis', 'gate-obligation', 'gate-outcome']);
    for (const cs of GATE_CODE_SYSTEMS) {
      expect(cs.resourceType).toBe('CodeSystem');
      expect(cs.status).toBe('active');
      expect(cs.content).toBe('complete');
      expect(cs.count).toBe(cs.concept?.length);
      for (const c of cs.concept ?? []) expect(c.display && c.definition).toBeTruthy();
    }
  });

  it('gate-rule has every rule, each definition citing sources', () => {
    const cs = byId.get('gate-rule');
    expect(cs?.url).toBe('https://joinedup.org.uk/fhir/CodeSystem/gate-rule');
    expect(cs?.concept).toHaveLength(13);
    for (const c of cs?.concept ?? []) expect(c.definition).toMatch(/Sources: .+/);
  });

  it('lawful-basis has every code of lawful-basis-codes.ts', () => {
    const cs = byId.get('lawful-basis');
    expect(cs?.url).toBe(LAWFUL_BASIS_SYSTEM);
    expect(cs?.concept?.map((c) => c.code).sort()).toEqual(Object.keys(LAWFUL_BASIS_DISPLAY).sort());
  });

  it('gate-outcome has permit, deny and permit-withheld', () => {
    expect(byId.get('gate-outcome')?.concept?.map((c) => c.code)).toEqual(['permit', 'deny', 'permit-withheld']);
  });
});
