import { beforeAll, describe, expect, it } from 'vitest';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';
import { DATA_CLASS_SYSTEM } from '../../src/cds/request-schema.ts';
import { GATE_DECISION_EXTENSION, LAWFUL_BASIS_EXTENSION } from '../../src/cds/cards.ts';
import { buildScenario, NHS, registerClients, resetAgreements, tokenFor } from './http-scenario-setup.ts';
import { decide } from '../../src/gate/decide.ts';
import { DEFAULT_NOW, policyFromScenario, queryFromScenario, SCENARIOS, type Scenario } from './scenarios.ts';

/**
 * Issue #5: "every scenario in the table passes through the real HTTP API as
 * well as in-process". Each scenario gets a fresh person stored as FHIR (so
 * the facts loader, not the test, derives the facts), the scenario's
 * agreements and clock, and one exchange through the API: a read (200 / 404
 * indistinguishable from a never-existing id), a search by _id (total 1 / 0)
 * or a write (PUT, or POST for a new record: 200/201 / 403, or 404 when the
 * requester may not even read the record it tries to overwrite).
 */

/**
 * Scenarios whose facts cannot be stored faithfully: storing a record makes its
 * controller a record holder (load-facts.ts), so "controls the record but
 * holds none" does not exist over HTTP.
 */
const NOT_EXPRESSIBLE: Record<string, string> = {
  'same organisation that neither holds a record nor arranges a service':
    'the item controlled by X9C02 makes X9C02 a record holder over HTTP (facts.recordHolders is every controller of a stored row), so the R12 premise cannot be stored',
};

/** 404 bodies with the asked id blanked: a withheld resource must answer exactly like one that never existed. */
function shape(r: TestResponse, id: string): unknown {
  return { status: r.status, contentType: r.headers.get('content-type'), body: JSON.parse(r.text.replaceAll(id, '{id}')) };
}

describe.each(backends())('gate scenarios over HTTP ($name)', (backend) => {
  const s = suiteServer(backend);
  let realNow: () => Date;
  let n = 0;

  beforeAll(async () => {
    realNow = s.gate.now;
    await registerClients(s);
  });

  async function run(sc: Scenario): Promise<void> {
    n += 1;
    await resetAgreements(s, sc.agreements);
    s.gate.now = () => new Date(sc.now ?? DEFAULT_NOW);
    s.gate.facts.clear();
    try {
      const built = await buildScenario(s, sc, n, (k) => makeTestNhsNumber(1000 + k));
      const token = await tokenFor(s, sc.requester);
      const auth = { authorization: `Bearer ${token}` };
      const { item } = built;
      const type = item.resourceType;
      const permit = sc.expect.outcome === 'permit';
      // Before the exchange: the consult opens no window, the exchange may.
      if (sc.ask.operation !== 'write' && sc.ask.controller === undefined && sc.ask.thirdPartyCarer === undefined) {
        await expectConsultAgrees(sc, built.nhs, built.patientId, auth);
      }
      if (sc.ask.operation === 'read') {
        const r = await s.request('GET', `${type}/${item.id}`, undefined, auth);
        expect(r.status, r.text).toBe(permit ? 200 : 404);
        if (permit) expect(r.body.id).toBe(item.id);
        else {
          const never = await s.request('GET', `${type}/never-${item.id}`, undefined, auth);
          expect(shape(r, item.id)).toEqual(shape(never, `never-${item.id}`));
        }
      } else if (sc.ask.operation === 'search') {
        const r = await s.request('GET', `${type}?_id=${item.id}`, undefined, auth);
        expect(r.status, r.text).toBe(200);
        expect(r.body.total).toBe(permit ? 1 : 0);
        expect((r.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id)).toEqual(permit ? [item.id] : []);
      } else if (built.stored) {
        const r = await s.request('PUT', `${type}/${item.id}`, { ...item, meta: undefined }, auth);
        // A record the requester may not even read is, for them, not there (404, like a read);
        // one they may read but not write is refused with the engine's own explanation (403).
        const readable = decide({ ...queryFromScenario(sc), operation: 'read' }, policyFromScenario(sc)).outcome === 'permit';
        const same = (sc.ask.controller ?? 'X9C01') === sc.requester.ods;
        expect(r.status, r.text).toBe(permit ? 200 : same || readable ? 403 : 404);
        if (!permit && r.status === 403) expect(r.body.issue[0].details.text).toBe(decide(queryFromScenario(sc), policyFromScenario(sc)).explanation);
      } else {
        const { id: _id, ...fresh } = item;
        const r = await s.request('POST', type, fresh, auth);
        expect(r.status, r.text).toBe(permit ? 201 : 403);
      }
      if (permit && sc.expect.rule === 'R9-break-glass') {
        const w = await s.db.query('SELECT user_id FROM break_glass_window WHERE patient_id = $1 AND client_id = $2 AND user_id = $3', [
          built.patientId,
          `client-${sc.requester.ods}`,
          sc.requester.userId ?? 'user-1',
        ]);
        expect(w.rows.length).toBeGreaterThan(0);
      }
      if (sc.ask.operation === 'read' && sc.expect.obligations?.includes('open-break-glass-window')) {
        const again = await s.request('GET', `${type}/${item.id}`, undefined, auth);
        expect(again.status).toBe(200);
      }
    } finally {
      s.gate.now = realNow;
    }
  }

  /**
   * The rule, lawful basis and what was relied on are not visible in a FHIR
   * answer; the CDS Hooks consult decides on the same stored facts and policy
   * as a read of the council's record, so it shows them over HTTP too.
   */
  async function expectConsultAgrees(sc: Scenario, nhs: string, pid: string, auth: Record<string, string>): Promise<void> {
    const body = {
      hook: 'patient-consent-consult',
      hookInstance: `hi-${pid}`,
      context: { patientId: [{ system: NHS, value: nhs }], class: [{ system: DATA_CLASS_SYSTEM, code: sc.ask.dataClass }] },
    };
    const r = await s.request('POST', `${s.baseUrl}/cds-services/patient-consent-consult`, body, { ...auth, 'content-type': 'application/json' });
    expect(r.status, r.text).toBe(200);
    const card = r.body.cards[0];
    const gate = card.extension[GATE_DECISION_EXTENSION];
    const e = sc.expect;
    expect({ outcome: gate.classes[0].outcome, rule: gate.classes[0].rules[0] }).toEqual({ outcome: e.outcome, rule: e.rule });
    const b = card.extension[LAWFUL_BASIS_EXTENSION];
    for (const k of ['art6', 'art9', 'dpaSchedule1', 'commonLaw'] as const) if (e[k]) expect(b[k], k).toBe(e[k]);
    if (e.statutoryGateway !== undefined) expect(b.statutoryGateway).toBe(e.statutoryGateway ?? undefined);
    if (e.agreement) expect(gate.agreement?.id).toBe(e.agreement);
    if (e.consent) expect(card.extension.basedOn).toBe(`Consent/${pid}-${e.consent}`);
    if (e.consent === null) expect(String(card.extension.basedOn ?? '')).not.toMatch(/^Consent\//);
    if (e.obligations && e.outcome === 'permit') {
      const codes = card.extension.obligations.map((o: { id: { code: string } }) => o.id.code).sort();
      expect(codes).toEqual([...e.obligations].sort());
    }
  }

  it('replays every scenario of the table (none forgotten)', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(70);
    expect(Object.keys(NOT_EXPRESSIBLE).every((name) => SCENARIOS.some((sc) => sc.name === name))).toBe(true);
    expect(Object.keys(NOT_EXPRESSIBLE).length).toBeLessThanOrEqual(3);
  });

  for (const sc of SCENARIOS) {
    const why = NOT_EXPRESSIBLE[sc.name];
    if (why) it.skip(`${sc.name} — skipped over HTTP: ${why}`, () => {});
    else it(`${sc.name} → ${sc.expect.outcome} (${sc.expect.rule})`, () => run(sc));
  }
});
