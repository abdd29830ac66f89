/**
 * The social care profiles (ServiceRequest, Task, QuestionnaireResponse,
 * EpisodeOfCare, Goal, Condition, CareTeam, Consent, RelatedPerson, Flag,
 * Provenance) and the JoinedUp extension definitions. Synthetic data only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ElementDefinition, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { parseProfilesConfig } from './profiles-config.ts';
import { createValidator, DEFAULT_PROFILES_DIR } from './validator.ts';

const validator = createValidator();
const SD = 'https://joinedup.org.uk/fhir/StructureDefinition/';
const UKCORE = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-';
const SOCIAL_CARE_CATEGORY = 'https://joinedup.org.uk/fhir/CodeSystem/social-care-category';
const PATIENT_REF = { reference: 'Patient/p-1' };
const GROUP_REF = { reference: 'Group/g-1' };
const PATIENT_PRIVACY = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] };

function errors(resource: unknown): OperationOutcomeIssue[] {
  return validator.validate(resource as Resource).filter((i) => i.severity === 'error');
}

function texts(resource: unknown): string[] {
  return errors(resource).map((i) => `${i.expression?.join(',')}: ${i.details?.text}`);
}

/** A minimal valid resource of each profiled type, with the reference that names the person. */
const valid: Record<string, { resource: Record<string, unknown>; subject: string; key: string }> = {
  ServiceRequest: {
    resource: { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: PATIENT_REF },
    subject: 'subject',
    key: 'jup-sr-1',
  },
  Task: { resource: { resourceType: 'Task', status: 'in-progress', intent: 'plan', for: PATIENT_REF }, subject: 'for', key: 'jup-task-1' },
  QuestionnaireResponse: {
    resource: { resourceType: 'QuestionnaireResponse', status: 'completed', subject: PATIENT_REF, item: [{ linkId: 'eligible', answer: [{ valueBoolean: true }] }] },
    subject: 'subject',
    key: 'jup-qr-1',
  },
  EpisodeOfCare: { resource: { resourceType: 'EpisodeOfCare', status: 'active', patient: PATIENT_REF }, subject: 'patient', key: 'jup-eoc-1' },
  Goal: {
    resource: { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'Make a hot meal independently' }, subject: PATIENT_REF },
    subject: 'subject',
    key: 'jup-goal-1',
  },
  Condition: {
    resource: {
      resourceType: 'Condition',
      category: [{ coding: [{ system: SOCIAL_CARE_CATEGORY, code: 'social-care-support-reason' }] }],
      code: { text: 'Physical support: personal care support' },
      subject: PATIENT_REF,
    },
    subject: 'subject',
    key: 'jup-cond-1',
  },
  CareTeam: {
    resource: {
      resourceType: 'CareTeam',
      status: 'active',
      subject: PATIENT_REF,
      participant: [{ role: [{ text: 'Primary contact' }], member: { reference: 'Practitioner/pr-1' } }],
    },
    subject: 'subject',
    key: 'jup-ct-1',
  },
  Consent: {
    resource: {
      resourceType: 'Consent',
      status: 'active',
      scope: PATIENT_PRIVACY,
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: PATIENT_REF,
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    },
    subject: 'patient',
    key: 'jup-cons-1',
  },
  RelatedPerson: {
    resource: { resourceType: 'RelatedPerson', patient: PATIENT_REF, name: [{ family: 'Testcarer', given: ['Margaret'] }] },
    subject: 'patient',
    key: 'jup-rp-1',
  },
  Flag: {
    resource: {
      resourceType: 'Flag',
      status: 'active',
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'safety' }] },
        { coding: [{ system: SOCIAL_CARE_CATEGORY, code: 'safeguarding' }] },
      ],
      code: { text: 'Open safeguarding enquiry' },
      subject: PATIENT_REF,
    },
    subject: 'subject',
    key: 'jup-flag-1',
  },
};

describe('profiles.json', () => {
  const config = parseProfilesConfig(JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'profiles.json'), 'utf8')));

  it.each([...Object.keys(valid), 'Provenance'])('applies JoinedUp-%s to every write and aliases UK Core to it', (type) => {
    expect(config.byType[type]).toBe(`${SD}JoinedUp-${type}`);
    if (type === 'Goal') {
      expect(Object.keys(config.aliases).filter((a) => a.endsWith('-Goal'))).toEqual([]); // UK Core has no Goal profile
    } else {
      expect(config.aliases[`${UKCORE}${type}`]).toBe(`${SD}JoinedUp-${type}`);
    }
  });
});

describe.each(Object.entries(valid))('%s', (type, { resource, subject, key }) => {
  it('accepts a minimal valid resource', () => {
    expect(texts(resource)).toEqual([]);
  });

  it(`requires ${subject}`, () => {
    const { [subject]: _dropped, ...without } = resource;
    expect(errors(without).map((i) => i.expression?.[0])).toContain(`${type}.${subject}`);
  });

  it(`requires ${subject} to be a Patient (${key})`, () => {
    expect(texts({ ...resource, [subject]: GROUP_REF })).toContain(
      `${type}.${subject}: Constraint ${key} not met: The ${constraintHuman(type)} SHALL be a Patient`
    );
  });

  it('applies to a UK Core claim as well', () => {
    const claimed = { ...resource, meta: { profile: [`${UKCORE}${type}|1.0.0`] } };
    expect(validator.validate(claimed as Resource).filter((i) => i.severity !== 'information')).toEqual(
      type === 'Goal'
        ? [expect.objectContaining({ severity: 'warning', code: 'not-supported' })]
        : []
    );
  });
});

function constraintHuman(type: string): string {
  const sd = builtProfile(`JoinedUp-${type}`);
  const key = valid[type]?.key;
  const constraint = sd.differential?.element?.flatMap((e) => e.constraint ?? []).find((c) => c.key === key);
  return (constraint?.human ?? '').replace(/^The /, '').replace(/ SHALL be a Patient$/, '');
}

describe('Consent', () => {
  it('requires scope patient-privacy', () => {
    const research = { ...valid.Consent?.resource, scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] } };
    expect(errors(research).map((i) => i.expression?.[0])).toContain('Consent.scope');
  });

  it('accepts patient-privacy with a display and text', () => {
    const scope = { coding: [{ ...PATIENT_PRIVACY.coding[0], display: 'Privacy Consent' }], text: 'Consent to share' };
    expect(texts({ ...valid.Consent?.resource, scope })).toEqual([]);
  });
});

describe('CareTeam', () => {
  it('requires a member on every participant', () => {
    const team = { ...valid.CareTeam?.resource, participant: [{ role: [{ text: 'Chair' }] }] };
    expect(errors(team).map((i) => i.expression?.[0])).toEqual(['CareTeam.participant[0].member']);
  });

  it('accepts a team without participants', () => {
    const { participant: _p, ...team } = valid.CareTeam?.resource ?? {};
    expect(texts(team)).toEqual([]);
  });
});

describe('Condition', () => {
  it('accepts other categories, with or without the social care one', () => {
    const problem = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] };
    expect(texts({ ...valid.Condition?.resource, category: [problem] })).toEqual([]);
    expect(texts({ ...valid.Condition?.resource, category: [problem, ...(valid.Condition?.resource.category as unknown[])] })).toEqual([]);
  });

  it('allows the social care support reason category at most once', () => {
    const category = valid.Condition?.resource.category as unknown[];
    expect(errors({ ...valid.Condition?.resource, category: [...category, ...category] }).map((i) => i.expression?.[0])).toEqual([
      'Condition.category',
    ]);
  });
});

describe('Flag', () => {
  it('allows the safeguarding category at most once', () => {
    const safeguarding = { coding: [{ system: SOCIAL_CARE_CATEGORY, code: 'safeguarding' }] };
    expect(errors({ ...valid.Flag?.resource, category: [safeguarding, safeguarding] }).map((i) => i.expression?.[0])).toEqual(['Flag.category']);
  });

  it('requires a code', () => {
    const { code: _c, ...flag } = valid.Flag?.resource ?? {};
    expect(errors(flag).map((i) => i.expression?.[0])).toEqual(['Flag.code']);
  });
});

describe('Provenance', () => {
  const provenance = {
    resourceType: 'Provenance',
    target: [{ reference: 'Patient/p-1' }],
    recorded: '2026-11-20T10:00:00Z',
    agent: [{ who: { type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X9C01' } } }],
  };

  it('accepts a provenance naming its targets', () => {
    expect(texts(provenance)).toEqual([]);
  });

  it('requires at least one target', () => {
    expect(errors({ ...provenance, target: [] }).length).toBeGreaterThan(0);
    const { target: _t, ...untargeted } = provenance;
    expect(errors(untargeted).map((i) => i.expression?.[0])).toContain('Provenance.target');
  });
});

function builtProfile(id: string): StructureDefinition {
  return JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, `StructureDefinition-${id}.json`), 'utf8')) as StructureDefinition;
}

function element(sd: StructureDefinition, id: string): ElementDefinition | undefined {
  return sd.snapshot?.element?.find((e) => e.id === id);
}

describe('extension definitions', () => {
  it.each([
    ['social-care-client-type', 'CodeableConcept', ['Patient']],
    ['accommodation-status', 'CodeableConcept', ['Patient']],
    ['has-unpaid-carer', 'boolean', ['Patient']],
    ['restates-profile', 'canonical', ['StructureDefinition']],
    ['review-date', 'date', ['CarePlan', 'Consent']],
    ['addresses-care-need', 'string', ['Goal']],
    ['consent-decision', 'code', ['Consent']],
    ['recorded-by', 'Reference', ['Consent']],
    ['social-care-requester-type', 'CodeableConcept', ['ServiceRequest']],
    ['social-care-delivery-mechanism', 'CodeableConcept', ['EpisodeOfCare']],
    ['social-care-hours-per-week', 'Quantity', ['EpisodeOfCare']],
  ])('%s is a simple extension with a %s value', (id, valueType, contexts) => {
    const sd = builtProfile(id);
    expect(sd).toMatchObject({ url: `${SD}${id}`, kind: 'complex-type', type: 'Extension', derivation: 'constraint' });
    expect(sd.context?.map((c) => c.expression)).toEqual(contexts);
    expect(element(sd, 'Extension.url')?.fixedUri).toBe(`${SD}${id}`);
    expect(element(sd, 'Extension.value[x]')).toMatchObject({ min: 1, type: [{ code: valueType }] });
    expect(element(sd, 'Extension.extension')?.max).toBe('0');
  });

  it.each([
    ['legal-authority', { kind: ['code', 1], reference: ['string', 0], registeredOn: ['date', 0] }, ['RelatedPerson', 'Consent']],
    ['mapping', { format: ['string', 1], name: ['string', 1], version: ['string', 1] }, ['Provenance']],
    ['care-need', { id: ['string', 0], description: ['string', 0], eligibilityOutcome: ['Coding', 0] }, ['CarePlan']],
    ['personal-budget', { weeklyAmount: ['Money', 0], deliveryMechanism: ['Coding', 0], weeklyClientContribution: ['Money', 0] }, ['CarePlan']],
    ['mental-capacity', { hasCapacity: ['boolean', 0], assessedOn: ['date', 0], assessor: ['Reference', 0] }, ['Consent']],
    ['social-care-event-outcome', { outcome: ['CodeableConcept', 0], date: ['date', 0] }, ['ServiceRequest', 'EpisodeOfCare']],
  ] as const)('%s is a complex extension with typed sub-extensions', (id, subs, contexts) => {
    const sd = builtProfile(id);
    expect(sd.context?.map((c) => c.expression)).toEqual(contexts);
    expect(element(sd, 'Extension.value[x]')?.max).toBe('0');
    expect(element(sd, 'Extension.extension')?.slicing?.discriminator).toEqual([{ type: 'value', path: 'url' }]);
    for (const [name, [valueType, min]] of Object.entries(subs)) {
      expect(element(sd, `Extension.extension:${name}`)).toMatchObject({ sliceName: name, min, max: '1' });
      expect(element(sd, `Extension.extension:${name}.url`)?.fixedUri).toBe(name);
      expect(element(sd, `Extension.extension:${name}.value[x]`)).toMatchObject({ min: 1, type: [{ code: valueType }] });
    }
  });

  it('defines every JoinedUp extension the mappings use today', () => {
    const ids = [
      'social-care-client-type', 'accommodation-status', 'has-unpaid-carer', 'legal-authority', 'mapping', 'care-need', 'personal-budget',
      'review-date', 'addresses-care-need', 'consent-decision', 'mental-capacity', 'recorded-by', 'social-care-requester-type',
      'social-care-event-outcome', 'social-care-delivery-mechanism', 'social-care-hours-per-week',
    ];
    for (const id of ids) {
      expect(validator.registry.resolve(`${SD}${id}`), id).toBe(`${SD}${id}`);
    }
  });

  it('cannot be claimed as the profile of a resource', () => {
    const patient = { resourceType: 'Patient', meta: { profile: [`${SD}has-unpaid-carer`] } };
    expect(texts(patient)).toEqual([`Patient.meta.profile[0]: Profile ${SD}has-unpaid-carer constrains Extension, not Patient`]);
  });
});
