import { describe, expect, it } from 'vitest';
import { b2b } from '../../test/support/assertions.ts';
import { parseHl7B2b } from './hl7-b2b.ts';

const ok = (v: unknown) => {
  const r = parseHl7B2b(v);
  if (!r.ok) throw new Error(r.description);
  return r.context;
};
const why = (v: unknown) => {
  const r = parseHl7B2b(v);
  if (r.ok) throw new Error('expected a refusal');
  return r.description;
};

describe('hl7-b2b', () => {
  it('reads the organisation, user and purpose', () => {
    expect(ok(b2b())).toEqual({ ods: 'A12345', subjectId: 'user-0001', subjectName: 'Test User', subjectRole: 'R1330', purposeOfUse: 'TREAT' });
  });

  it.each([
    ['TREAT', 'TREAT'],
    [['CAREMGT'], 'CAREMGT'],
    ['urn:oid:2.16.840.1.113883.5.8#TREAT', 'TREAT'],
    ['http://terminology.hl7.org/CodeSystem/v3-ActReason|PUBHLTH', 'PUBHLTH'],
    ['https://joinedup.org.uk/fhir/CodeSystem/purpose-of-use#safeguarding-adults', 'safeguarding-adults'],
  ])('accepts purpose_of_use %j', (pou, code) => {
    const justification = code.startsWith('safeguarding') ? 'Section 42 enquiry' : undefined;
    expect(ok(b2b({ purpose_of_use: pou, justification })).purposeOfUse).toBe(code);
  });

  it.each([
    [[], 'exactly one'],
    [['TREAT', 'CAREMGT'], 'exactly one'],
    ['treat', 'purpose of use'],
    ['http://terminology.hl7.org/CodeSystem/v3-ActReason|safeguarding-adults', 'purpose of use'],
    ['https://example.org/other#TREAT', 'purpose of use'],
    [7, 'purpose_of_use'],
  ])('refuses purpose_of_use %j', (pou, text) => {
    expect(why(b2b({ purpose_of_use: pou }))).toContain(text);
  });

  it.each(['BTG', 'ETREAT', 'safeguarding-children'])('requires a justification for %s', (pou) => {
    expect(why(b2b({ purpose_of_use: [pou] }))).toContain('justification');
    expect(why(b2b({ purpose_of_use: [pou], justification: '   ' }))).toContain('justification');
    expect(ok(b2b({ purpose_of_use: [pou], justification: 'Seen in A&E, unconscious' })).justification).toBe('Seen in A&E, unconscious');
  });

  it('limits justification to 1000 characters', () => {
    expect(why(b2b({ purpose_of_use: ['BTG'], justification: 'x'.repeat(1001) }))).toContain('justification');
  });

  it.each(['R123', 'r1330', 'R13300', 'doctor', 'R0000'])('refuses subject_role %j', (role) => {
    expect(why(b2b({ subject_role: role }))).toContain('subject_role');
  });

  it.each(['R8000', 'R9575', 'R0260'])('accepts SDS job role %s', (role) => {
    expect(ok(b2b({ subject_role: role })).subjectRole).toBe(role);
  });

  it.each([
    'A12345',
    'https://fhir.nhs.uk/Id/ods-organization-code|a12345',
    'https://fhir.nhs.uk/Id/ods-organization-code|',
    'https://example.org/ods|A12345',
  ])('refuses organization_id %j', (org) => {
    expect(why(b2b({ organization_id: org }))).toContain('organization_id');
  });

  it('requires subject_id and refuses control characters', () => {
    expect(why(b2b({ subject_id: undefined }))).toContain('subject_id');
    expect(why(b2b({ subject_id: 'a\nb' }))).toContain('subject_id');
    expect(why(b2b({ subject_name: 'x'.repeat(201) }))).toContain('subject_name');
  });

  it('takes consent_reference as a string or a one-element array', () => {
    expect(ok(b2b({ consent_reference: 'https://example.org/Consent/1' })).consentReference).toBe('https://example.org/Consent/1');
    expect(ok(b2b({ consent_reference: ['urn:uuid:2'] })).consentReference).toBe('urn:uuid:2');
    expect(why(b2b({ consent_reference: ['a', 'b'] }))).toContain('consent_reference');
  });

  it('refuses non-objects and ignores members it does not use', () => {
    expect(why('TREAT')).toContain('hl7-b2b');
    expect(why(null)).toContain('hl7-b2b');
    expect(ok(b2b({ organization_name: 'Anywhere', consent_policy: ['x'] })).ods).toBe('A12345');
  });

  it('never quotes the value it refuses', () => {
    expect(why(b2b({ subject_role: 'Jane Doe 9990001234' }))).not.toContain('Jane');
    expect(why(b2b({ organization_id: 'Jane Doe 9990001234' }))).not.toContain('Jane');
  });
});
