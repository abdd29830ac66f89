import { describe, expect, test } from 'vitest';
import { toCard } from '../../src/cds/cards.ts';
import { consult } from '../../src/cds/consult.ts';
import { emptyFacts } from '../../src/gate/facts/load-facts.ts';
import type { PersonFacts, Policy, Requester, SharingAgreement } from '../../src/gate/types.ts';

// The consult and its cards without HTTP: how several controllers, purposes and classes combine.
const NOW = new Date('2026-06-01T10:00:00Z');
const AGREEMENT: SharingAgreement = {
  id: 'direct-care',
  version: 1,
  title: 'Direct care',
  parties: [
    { ods: 'X9C01', name: 'Council' },
    { ods: 'X99001', name: 'GP' },
  ],
  purposes: ['TREAT', 'CAREMGT'],
  dataClasses: ['person', 'assessments'],
  lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' },
  period: { start: '2025-01-01' },
};
const POLICY: Policy = { agreements: [AGREEMENT], breakGlassWindowMs: 4 * 3600_000 };
const gp = (purpose: Requester['purpose'], justification?: string): Requester => ({
  clientId: 'gp-client',
  ods: 'X99001',
  kind: 'gp-practice',
  userId: 'u1',
  role: 'R8000',
  purpose,
  ...(justification ? { justification } : {}),
});
function adult(holders: string[]): PersonFacts {
  return { ...emptyFacts('p1'), birthDate: '1960-01-01', registeredGp: ['X99001'], recordHolders: holders };
}

describe('consult', () => {
  test('unknown person and a person with no records: NO_CONSENT', () => {
    const none = consult({ people: [], requesters: [gp('TREAT')], classes: ['person'], policy: POLICY, now: NOW });
    expect(toCard(none, 'u', 'http://x').summary).toBe('NO_CONSENT');
    const empty = consult({ people: [adult([])], requesters: [gp('TREAT')], classes: ['person'], policy: POLICY, now: NOW });
    expect(empty).toEqual({ kind: 'no-consent', reason: 'no-records' });
  });

  test('a class is released when some controller permits it', () => {
    // X9C02 is no party to the agreement; the council X9C01 is.
    const r = consult({ people: [adult(['X9C02', 'X9C01'])], requesters: [gp('TREAT')], classes: ['assessments'], policy: POLICY, now: NOW });
    expect(r.kind === 'decided' && r.classes[0]?.permitted).toBe(true);
  });

  test('with several purposes a class is released only when every purpose permits it', () => {
    const r = consult({ people: [adult(['X9C01'])], requesters: [gp('TREAT'), gp('HRESCH')], classes: ['person'], policy: POLICY, now: NOW });
    const card = toCard(r, 'u', 'http://x');
    expect(card.summary).toBe('CONSENT_DENY');
    expect(card.indicator).toBe('critical');
  });

  test('permit with parts withheld: REDACT lists the withheld classes, the lawful basis is the permit\'s', () => {
    const r = consult({ people: [adult(['X9C01'])], requesters: [gp('TREAT')], classes: ['person', 'carer-data', 'assessments'], policy: POLICY, now: NOW });
    const card = toCard(r, 'u', 'http://x');
    expect(card.summary).toBe('CONSENT_PERMIT');
    expect(card.extension.obligations[0]).toEqual({
      id: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'REDACT' },
      parameters: { codes: [{ system: 'https://joinedup.org.uk/fhir/CodeSystem/data-class', code: 'carer-data' }] },
    });
    expect(card.extension['https://joinedup.org.uk/fhir/StructureDefinition/gate-decision']).toMatchObject({ outcome: 'permit-withheld' });
  });

  test('break-glass: our obligations (flag for review, read only) in LEAP\'s obligation shape, and a warning', () => {
    const r = consult({ people: [adult(['X9C01'])], requesters: [gp('BTG', 'unconscious in A&E, no history available')], classes: ['person'], policy: POLICY, now: NOW });
    const card = toCard(r, 'u', 'http://x');
    expect(card.summary).toBe('CONSENT_PERMIT');
    expect(card.indicator).toBe('warning');
    const codes = card.extension.obligations.map((o) => o.id.code);
    expect(codes).toContain('flag-for-review');
    expect(card.extension.obligations.every((o) => o.id.system === 'https://joinedup.org.uk/fhir/CodeSystem/gate-obligation')).toBe(true);
    expect(card.extension['https://joinedup.org.uk/fhir/StructureDefinition/lawful-basis']).toMatchObject({ art6: 'art6-1-d' });
  });
});
