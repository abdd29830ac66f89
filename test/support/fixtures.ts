import type { CarePlan, Patient } from '@medplum/fhirtypes';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';

/** Invented people only; NHS numbers from the 999 test range with valid check digits. */
export function testPatient(seed: number, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: makeTestNhsNumber(seed) }],
    name: [{ family: `Testperson${seed}`, given: ['Alex'] }],
    gender: seed % 2 ? 'female' : 'male',
    birthDate: `19${40 + (seed % 50)}-0${1 + (seed % 9)}-1${seed % 9}`,
    generalPractitioner: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X99001' } }],
    ...extra,
  };
}

export function testCarePlan(patientId: string, extra: Partial<CarePlan> = {}): CarePlan {
  return {
    resourceType: 'CarePlan',
    status: 'active',
    intent: 'plan',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '734163000', display: 'Care plan' }] }],
    subject: { reference: `Patient/${patientId}` },
    period: { start: '2025-01-01' },
    ...extra,
  };
}
