import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/gate/decide.ts';
import { renderScenarioTable } from './scenario-table.ts';
import { policyFromScenario, queryFromScenario, SCENARIOS } from './scenarios.ts';

describe('gate scenario table', () => {
  it('has at least 70 cases with unique names', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(70);
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
  });

  it('is plain data (survives JSON)', () => {
    expect(JSON.parse(JSON.stringify(SCENARIOS))).toEqual(SCENARIOS);
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const d = decide(queryFromScenario(s), policyFromScenario(s));
    const e = s.expect;
    expect({ outcome: d.outcome, rule: d.rules[0]?.rule }).toEqual({ outcome: e.outcome, rule: e.rule });
    if (e.outcome === 'deny') {
      expect(d.lawfulBasis).toBeUndefined();
      expect(d.reliedOn).toEqual({});
    } else {
      expect(d.lawfulBasis).toBeDefined();
    }
    const b = d.lawfulBasis;
    if (e.art6) expect(b?.art6).toBe(e.art6);
    if (e.art9) expect(b?.art9).toBe(e.art9);
    if (e.dpaSchedule1) expect(b?.dpaSchedule1).toBe(e.dpaSchedule1);
    if (e.commonLaw) expect(b?.commonLaw).toBe(e.commonLaw);
    if (e.statutoryGateway !== undefined) expect(b?.statutoryGateway).toBe(e.statutoryGateway ?? undefined);
    if (e.consent !== undefined) expect(d.reliedOn.consent).toBe(e.consent === null ? undefined : `Consent/${e.consent}`);
    if (e.agreement) expect(d.reliedOn.agreement?.id).toBe(e.agreement);
    if (e.obligations) expect(d.obligations).toEqual(e.obligations);
    // Every firing cites its sources; the explanation never carries the person's id.
    for (const f of d.rules) expect(f.sources.length).toBeGreaterThan(0);
    expect(d.explanation).not.toContain('scenario-person');
    expect(d.explanation).not.toMatch(/X9\w+|X99\w+/);
  });
});

describe('docs/lawful-basis.md', () => {
  it('carries the scenario table generated from this file (npx tsx scripts/lawful-basis-table.ts)', () => {
    const doc = readFileSync(new URL('../../docs/lawful-basis.md', import.meta.url), 'utf8');
    expect(doc).toContain(renderScenarioTable());
  });
});
