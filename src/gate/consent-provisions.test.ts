import { describe, expect, it } from 'vitest';
import { consentVerdict, lacksCapacity, winningConsent } from './consent-provisions.ts';
import type { ConsentFact } from './types.ts';

const nowMs = Date.parse('2026-06-01T10:00:00Z');
const ask = { actor: 'X99001', purpose: 'TREAT' as const, dataClass: 'assessments' as const, nowMs };
const c = (over: Partial<ConsentFact>): ConsentFact => ({
  ref: 'Consent/x',
  dateTime: '2026-01-01T00:00:00Z',
  decision: 'given',
  authority: 'person',
  provisions: [{ type: 'permit', actors: [], purposes: [], classes: [] }],
  ...over,
});

describe('consentVerdict', () => {
  it('applies when a provision matches; empty lists mean any', () => {
    expect(consentVerdict(c({}), ask)?.effect).toBe('permit');
    expect(consentVerdict(c({ provisions: [{ type: 'permit', actors: ['X9H01'], purposes: [], classes: [] }] }), ask)).toBeUndefined();
    expect(consentVerdict(c({ provisions: [{ type: 'permit', actors: [], purposes: ['HRESCH'], classes: [] }] }), ask)).toBeUndefined();
    expect(consentVerdict(c({ provisions: [{ type: 'permit', actors: [], purposes: [], classes: ['services'] }] }), ask)).toBeUndefined();
  });

  it('a matching deny beats a matching permit within one consent', () => {
    const v = consentVerdict(c({ provisions: [{ type: 'permit', actors: [], purposes: [], classes: [] }, { type: 'deny', actors: ['X99001'], purposes: [], classes: [] }] }), ask);
    expect(v).toMatchObject({ effect: 'deny', namesActor: true });
  });

  it('a refusal or withdrawal is a deny whatever its provisions say', () => {
    expect(consentVerdict(c({ decision: 'withdrawn' }), ask)?.effect).toBe('deny');
    expect(consentVerdict(c({ decision: 'refused' }), ask)?.effect).toBe('deny');
  });

  it('respects the consent period and provision periods; a date-only end covers the whole day', () => {
    expect(consentVerdict(c({ period: { end: '2026-05-31' } }), ask)).toBeUndefined();
    expect(consentVerdict(c({ period: { end: '2026-06-01' } }), ask)?.effect).toBe('permit');
    expect(consentVerdict(c({ period: { start: '2026-06-02' } }), ask)).toBeUndefined();
    expect(consentVerdict(c({ provisions: [{ type: 'permit', actors: [], purposes: [], classes: [], period: { end: '2026-01-01' } }] }), ask)).toBeUndefined();
  });
});

describe('winningConsent', () => {
  it('the most recent applicable consent wins', () => {
    const older = c({ ref: 'Consent/old', decision: 'refused', dateTime: '2025-01-01T00:00:00Z' });
    const newer = c({ ref: 'Consent/new', dateTime: '2026-01-01T00:00:00Z' });
    expect(winningConsent([newer, older], ask, ['person'])?.consent.ref).toBe('Consent/new');
    const later = c({ ref: 'Consent/withdrawn', decision: 'withdrawn', dateTime: '2026-04-01T00:00:00Z' });
    expect(winningConsent([newer, later], ask, ['person'])?.effect).toBe('deny');
  });

  it('a more recent consent that does not apply does not hide an older one that does', () => {
    const scoped = c({ ref: 'Consent/acute', dateTime: '2026-05-01T00:00:00Z', provisions: [{ type: 'deny', actors: ['X9H01'], purposes: [], classes: [] }] });
    expect(winningConsent([c({}), scoped], ask, ['person'])?.effect).toBe('permit');
  });

  it('ties on dateTime go to deny; other authorities are ignored', () => {
    const a = c({ ref: 'Consent/a' });
    const b = c({ ref: 'Consent/b', decision: 'refused' });
    expect(winningConsent([a, b], ask, ['person'])?.consent.ref).toBe('Consent/b');
    expect(winningConsent([c({ authority: 'deputy' })], ask, ['person'])).toBeUndefined();
  });
});

describe('lacksCapacity', () => {
  it('takes the most recent assessment', () => {
    expect(lacksCapacity([])).toBe(false);
    const lacking = c({ capacity: { hasCapacity: false, assessedOn: '2026-01-01' } });
    const regained = c({ capacity: { hasCapacity: true, assessedOn: '2026-03-01' } });
    expect(lacksCapacity([lacking])).toBe(true);
    expect(lacksCapacity([regained, lacking])).toBe(false);
    expect(lacksCapacity([c({ dateTime: '2026-05-01T00:00:00Z', capacity: { hasCapacity: false } }), regained])).toBe(true);
  });
});
