import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { makeTestNhsNumber, NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM } from './nhs-number.ts';
import {
  JOINEDUP_CAREPLAN,
  JOINEDUP_PATIENT,
  SOCIAL_CARE_PLAN,
  socialCarePlan,
  UKCORE_CAREPLAN,
  ukCorePatient,
  VERIFICATION_STATUS_URL,
} from './test-fixtures.ts';
import { createValidator } from './validator.ts';

const validator = createValidator();

function errors(resource: unknown): OperationOutcomeIssue[] {
  return validator.validate(resource as Resource).filter((i) => i.severity === 'error');
}

/** The issues, reduced to `expression: text` lines for readable assertions. */
function summary(issues: OperationOutcomeIssue[]): string[] {
  return issues.map((i) => `${i.severity} ${i.expression?.join(',')}: ${i.details?.text}`);
}

describe('Patient', () => {
  it('accepts a valid UK Core style patient', () => {
    expect(summary(validator.validate(ukCorePatient()))).toEqual([]);
  });

  it('accepts a patient with no profile claim and no NHS number', () => {
    const { meta: _meta, ...patient } = ukCorePatient();
    patient.identifier = [{ system: 'https://council.example.org.uk/Id/case-number', value: 'CASE-7' }];
    expect(summary(validator.validate(patient))).toEqual([]);
  });

  it('rejects a bad NHS check digit at the identifier value', () => {
    const patient = ukCorePatient();
    patient.identifier = [patient.identifier?.[1] ?? {}, { system: NHS_NUMBER_SYSTEM, value: '9434765918' }];
    expect(summary(errors(patient))).toEqual([
      'error Patient.identifier[1].value: NHS number fails the modulus 11 check digit',
    ]);
  });

  it('rejects an NHS number that is not ten digits', () => {
    const patient = ukCorePatient();
    patient.identifier = [{ system: NHS_NUMBER_SYSTEM, value: '943 476 5919' }];
    expect(summary(errors(patient))).toEqual(['error Patient.identifier[0].value: NHS number must be exactly 10 digits']);
  });

  it('does not echo the NHS number in messages', () => {
    const patient = ukCorePatient();
    patient.identifier = [{ system: NHS_NUMBER_SYSTEM, value: '9434765918' }];
    expect(JSON.stringify(validator.validate(patient))).not.toContain('9434765918');
  });

  it('rejects gender x', () => {
    const patient = { ...ukCorePatient(), gender: 'x' };
    expect(summary(errors(patient))).toEqual([
      "error Patient.gender: Value 'x' is not allowed (required binding to http://hl7.org/fhir/ValueSet/administrative-gender)",
    ]);
  });

  it('rejects more than one NHS number', () => {
    const patient = ukCorePatient();
    patient.identifier = [
      { system: NHS_NUMBER_SYSTEM, value: makeTestNhsNumber(1) },
      { system: NHS_NUMBER_SYSTEM, value: makeTestNhsNumber(2) },
    ];
    expect(summary(errors(patient))).toEqual([
      "error Patient.identifier: Incorrect number of values provided for slice 'nhsNumber': expected 0..1, but found 2",
    ]);
  });

  it('requires a value on an NHS number identifier', () => {
    const patient = ukCorePatient();
    patient.identifier = [{ system: NHS_NUMBER_SYSTEM }];
    expect(summary(errors(patient))).toEqual([
      "error Patient.identifier[0].value: Slice 'nhsNumber' requires 1..1 value, but found 0",
    ]);
  });

  it('checks the NHS number verification status code', () => {
    const patient = ukCorePatient();
    patient.identifier = [
      {
        system: NHS_NUMBER_SYSTEM,
        value: makeTestNhsNumber(3),
        extension: [
          {
            url: VERIFICATION_STATUS_URL,
            valueCodeableConcept: {
              coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '99' }],
            },
          },
        ],
      },
    ];
    expect(summary(errors(patient))).toEqual([
      'error Patient.identifier[0].extension[0].valueCodeableConcept: NHS number verification status is not in https://joinedup.org.uk/fhir/ValueSet/JoinedUp-NHSNumberVerificationStatus',
    ]);
  });

  it('accepts a Welsh verification status and rejects two statuses', () => {
    const status = (code: string) => ({
      url: VERIFICATION_STATUS_URL,
      valueCodeableConcept: {
        coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusWales', code }],
      },
    });
    const patient = ukCorePatient();
    patient.identifier = [{ system: NHS_NUMBER_SYSTEM, value: makeTestNhsNumber(4), extension: [status('nn')] }];
    expect(errors(patient)).toEqual([]);
    patient.identifier = [
      { system: NHS_NUMBER_SYSTEM, value: makeTestNhsNumber(4), extension: [status('nn'), status('01')] },
    ];
    expect(summary(errors(patient))).toEqual([
      'error Patient.identifier[0].extension[1]: At most one NHS number verification status is allowed',
    ]);
  });

  it('requires GP identifiers to be ODS codes', () => {
    const patient = ukCorePatient();
    patient.generalPractitioner = [
      { reference: 'Organization/gp-1', identifier: { system: 'https://example.org/gp', value: 'G1' } },
    ];
    expect(summary(errors(patient))).toEqual([
      'error Patient.generalPractitioner[0]: Constraint jup-pat-1 not met: A general practitioner identifier SHALL be an ODS organisation code',
    ]);
  });

  it('requires GP references to point at an Organization', () => {
    const patient = ukCorePatient();
    patient.generalPractitioner = [{ reference: 'Practitioner/dr-1' }];
    expect(summary(errors(patient))).toEqual([
      'error Patient.generalPractitioner[0]: Constraint jup-pat-2 not met: A general practitioner reference SHALL point to an Organization',
    ]);
    for (const reference of ['Organization/x-1', 'https://gp.example.org/fhir/Organization/x-1/_history/2', 'urn:uuid:0b5f3c5e-4c55-4f2b-9a35-2a8e4bcf3f11', 'Organization?identifier=Z99001']) {
      patient.generalPractitioner = [{ reference }];
      expect(errors(patient), reference).toEqual([]);
    }
  });

  it('rejects malformed ODS codes anywhere', () => {
    const patient = ukCorePatient();
    patient.managingOrganization = { identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'Z9-9' } };
    expect(summary(errors(patient))).toEqual([
      'error Patient.managingOrganization.identifier.value: ODS organisation code must be 3 to 10 letters or digits',
    ]);
  });

  it('rejects unknown properties, wrong types and impossible dates, all at once', () => {
    const patient = { ...ukCorePatient(), favouriteColour: 'teal', active: 'yes', birthDate: '1948-02-30' };
    expect(summary(errors(patient))).toEqual(
      expect.arrayContaining([
        'error Patient.favouriteColour: Invalid additional property "favouriteColour"',
        'error Patient.active: Invalid JSON type: expected boolean, but got string',
        'error Patient.birthDate: Invalid date value',
      ])
    );
  });
});

describe('CarePlan', () => {
  it('accepts a social care plan', () => {
    expect(summary(validator.validate(socialCarePlan()))).toEqual([]);
  });

  it('accepts two categories including 734163000 (pattern on the slice, not the repeating element)', () => {
    const plan = socialCarePlan();
    plan.category = [
      { coding: [{ system: 'http://snomed.info/sct', code: '736353004', display: 'Inpatient care plan' }] },
      { coding: [SOCIAL_CARE_PLAN], text: 'Social care plan' },
    ];
    expect(summary(validator.validate(plan))).toEqual([]);
  });

  it('accepts a plan with no social care category', () => {
    const plan = { ...socialCarePlan(), category: [{ text: 'Reablement' }] };
    expect(errors(plan)).toEqual([]);
  });

  it('allows the social care category at most once', () => {
    const plan = { ...socialCarePlan(), category: [{ coding: [SOCIAL_CARE_PLAN] }, { coding: [SOCIAL_CARE_PLAN] }] };
    expect(summary(errors(plan))).toEqual([
      "error CarePlan.category: Incorrect number of values provided for slice 'socialCarePlan': expected 0..1, but found 2",
    ]);
  });

  it('rejects a plan without subject', () => {
    const { subject: _subject, ...plan } = socialCarePlan();
    expect(summary(errors(plan))).toEqual(['error CarePlan.subject: Missing required property']);
  });

  it('rejects a plan for a Group under the profile', () => {
    const plan = { ...socialCarePlan(), subject: { reference: 'Group/household-1' } };
    expect(summary(errors(plan))).toEqual([
      'error CarePlan.subject: Constraint jup-cp-1 not met: The subject of a care plan SHALL be a Patient',
    ]);
  });

  it("rejects status 'bogus' and a bad intent", () => {
    const plan = { ...socialCarePlan(), status: 'bogus', intent: 'wish' };
    expect(summary(errors(plan))).toEqual([
      "error CarePlan.status: Value 'bogus' is not allowed (required binding to http://hl7.org/fhir/ValueSet/request-status)",
      "error CarePlan.intent: Value 'wish' is not allowed (required binding to http://hl7.org/fhir/ValueSet/care-plan-intent)",
    ]);
  });

  it('checks NHS numbers in references', () => {
    const plan = {
      ...socialCarePlan(),
      subject: { identifier: { system: NHS_NUMBER_SYSTEM, value: '9434765918' } },
    };
    expect(summary(errors(plan))).toEqual([
      'error CarePlan.subject.identifier.value: NHS number fails the modulus 11 check digit',
    ]);
  });

  it('checks NHS numbers inside contained resources', () => {
    const plan = socialCarePlan();
    plan.contained = [{ resourceType: 'Patient', id: 'p', identifier: [{ system: NHS_NUMBER_SYSTEM, value: '9000000008' }] }];
    plan.subject = { reference: '#p' };
    expect(summary(errors(plan))).toEqual([
      'error CarePlan.contained[0].identifier[0].value: NHS number fails the modulus 11 check digit',
    ]);
  });
});

describe('required bindings on other resource types', () => {
  const PATIENT_PRIVACY = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] };

  it.each([
    ['Task.status', { resourceType: 'Task', status: 'bogus', intent: 'order', for: { reference: 'Patient/p' } }],
    ['Task.intent', { resourceType: 'Task', status: 'requested', intent: 'bogus', for: { reference: 'Patient/p' } }],
    ['Consent.status', { resourceType: 'Consent', status: 'bogus', scope: PATIENT_PRIVACY, category: [{ text: 'c' }], patient: { reference: 'Patient/p' }, policyRule: { text: 'p' } }],
    ['ServiceRequest.status', { resourceType: 'ServiceRequest', status: 'bogus', intent: 'order', subject: { reference: 'Patient/p' } }],
    ['ServiceRequest.intent', { resourceType: 'ServiceRequest', status: 'active', intent: 'bogus', subject: { reference: 'Patient/p' } }],
    ['Goal.lifecycleStatus', { resourceType: 'Goal', lifecycleStatus: 'bogus', description: { text: 'd' }, subject: { reference: 'Patient/p' } }],
    ['Flag.status', { resourceType: 'Flag', status: 'bogus', code: { text: 'c' }, subject: { reference: 'Patient/p' } }],
    ['EpisodeOfCare.status', { resourceType: 'EpisodeOfCare', status: 'bogus', patient: { reference: 'Patient/p' } }],
    ['CareTeam.status', { resourceType: 'CareTeam', status: 'bogus', subject: { reference: 'Patient/p' } }],
    ['Questionnaire.status', { resourceType: 'Questionnaire', status: 'bogus' }],
    ['QuestionnaireResponse.status', { resourceType: 'QuestionnaireResponse', status: 'bogus', subject: { reference: 'Patient/p' } }],
    ['AuditEvent.action', { resourceType: 'AuditEvent', action: 'Z', type: { code: 'rest' }, recorded: '2025-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'JoinedUp' } } }],
    ['Patient.name[0].use', { resourceType: 'Patient', name: [{ use: 'bogus', family: 'Quillfeather' }] }],
  ])('rejects a bad code at %s', (expression, resource) => {
    const issues = errors(resource);
    expect(issues.map((i) => i.expression?.[0])).toEqual([expression]);
    expect(issues[0]?.code).toBe('code-invalid');
  });

  it('accepts the same resources with valid codes', () => {
    expect(errors({ resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: 'Patient/p' } })).toEqual([]);
    expect(errors({ resourceType: 'Flag', status: 'active', code: { text: 'c' }, subject: { reference: 'Patient/p' } })).toEqual([]);
  });

  it('checks required CodeableConcept bindings by coding', () => {
    const condition = (code: string) => ({
      resourceType: 'Condition',
      subject: { reference: 'Patient/p' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code }] },
    });
    expect(errors(condition('active'))).toEqual([]);
    expect(errors(condition('bogus')).map((i) => i.expression?.[0])).toEqual(['Condition.clinicalStatus']);
  });
});

describe('meta.profile', () => {
  it('validates a UK Core claim against our restatement', () => {
    const plan = { ...socialCarePlan(), meta: { profile: [UKCORE_CAREPLAN] }, subject: { reference: 'Group/g' } };
    expect(errors(plan).map((i) => i.details?.text)).toEqual([
      'Constraint jup-cp-1 not met: The subject of a care plan SHALL be a Patient',
    ]);
  });

  it('accepts versioned claims of ours and of UK Core, and the base R4 profile, silently', () => {
    const patient = ukCorePatient();
    patient.meta = {
      profile: [`${JOINEDUP_PATIENT}|0.1.0`, 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient|2.6.1', 'http://hl7.org/fhir/StructureDefinition/Patient'],
    };
    expect(validator.validate(patient)).toEqual([]);
  });

  it('warns, without failing, on an unknown profile', () => {
    const patient = ukCorePatient();
    patient.meta = { profile: ['https://example.org/fhir/StructureDefinition/SomeoneElsesPatient'] };
    expect(summary(validator.validate(patient))).toEqual([
      'warning Patient.meta.profile[0]: Profile https://example.org/fhir/StructureDefinition/SomeoneElsesPatient is not known here; the resource was not checked against it',
    ]);
  });

  it('rejects a claim of a profile for another resource type', () => {
    const patient = ukCorePatient();
    patient.meta = { profile: [JOINEDUP_CAREPLAN] };
    expect(summary(errors(patient))).toEqual([
      `error Patient.meta.profile[0]: Profile ${JOINEDUP_CAREPLAN} constrains CarePlan, not Patient`,
    ]);
  });

  it('applies a claimed profile to a type that has none configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'joinedup-profiles-'));
    try {
      // Only aliases: nothing is applied unless claimed.
      const config = { aliases: { [UKCORE_CAREPLAN]: JOINEDUP_CAREPLAN } };
      writeFileSync(join(dir, 'profiles.json'), JSON.stringify(config));
      const profile = readFileSync(new URL('../../../profiles/StructureDefinition-JoinedUp-CarePlan.json', import.meta.url), 'utf8');
      writeFileSync(join(dir, 'StructureDefinition-JoinedUp-CarePlan.json'), profile);
      const local = createValidator({ profilesDir: dir });
      const plan = { ...socialCarePlan(), subject: { reference: 'Group/g' } };
      expect(local.validate(plan).filter((i) => i.severity === 'error')).toEqual([]);
      const claimed = { ...plan, meta: { profile: [UKCORE_CAREPLAN] } };
      expect(local.validate(claimed).map((i) => i.details?.text)).toContain(
        'Constraint jup-cp-1 not met: The subject of a care plan SHALL be a Patient'
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('robustness', () => {
  it.each([
    ['null', null],
    ['a string', 'Patient'],
    ['an array', [{ resourceType: 'Patient' }]],
    ['no resourceType', { id: 'x' }],
    ['an unknown resourceType', { resourceType: 'Pateint' }],
    ['a null property', { resourceType: 'Patient', gender: null }],
    ['a wrongly typed meta.profile', { resourceType: 'Patient', meta: { profile: 'x' } }],
    ['a non-object identifier', { resourceType: 'Patient', identifier: ['9000000009'] }],
    ['a wrongly typed extension list', { resourceType: 'Patient', identifier: [{ system: NHS_NUMBER_SYSTEM, value: '9000000009', extension: 'x' }] }],
    ['a string category', { ...socialCarePlan(), category: 'x' }],
  ])('reports, without throwing, %s', (_what, input) => {
    const issues = validator.validate(input as Resource);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(issue.expression?.length).toBeGreaterThan(0);
      expect(['error', 'warning']).toContain(issue.severity);
    }
  });

  it('reports the same base problems with and without a profile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'joinedup-profiles-'));
    try {
      writeFileSync(join(dir, 'profiles.json'), '{}');
      const baseOnly = createValidator({ profilesDir: dir });
      const { meta: _meta, ...patient } = ukCorePatient();
      const bad = [
        { ...patient, active: 1, telecom: [{ system: 'telepathy', value: '1' }] },
        { ...patient, _birthDate: { extension: [{ url: 'x' }] }, contained: [{ resourceType: 'Organization', id: 'o', name: 7 }] },
        { ...patient, contact: [{ gender: 'x' }], communication: [{}] },
        { ...socialCarePlan(), activity: [{ detail: { status: 'bogus' } }], period: { start: 'yesterday' } },
      ];
      for (const resource of bad) {
        const withProfile = summary(validator.validate(resource as Resource));
        expect(withProfile.length).toBeGreaterThan(0);
        expect(withProfile).toEqual(summary(baseOnly.validate(resource as Resource)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('caching', () => {
  it('parses each profile once however many resources it validates', () => {
    const fresh = createValidator();
    expect(fresh.registry.parseCount).toBe(0);
    for (let i = 0; i < 1000; i++) {
      expect(fresh.validate(socialCarePlan(i))).toEqual([]);
    }
    expect(fresh.registry.parseCount).toBe(1);
    for (let i = 0; i < 100; i++) {
      expect(fresh.validate(ukCorePatient(i))).toEqual([]);
    }
    expect(fresh.registry.parseCount).toBe(2);
  });
});
