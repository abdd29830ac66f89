/**
 * Synthetic resources for validation tests. Every name, number and code here
 * is invented: NHS numbers come from the 999 test range, ODS codes are made up.
 */
import type { CarePlan, Patient } from '@medplum/fhirtypes';
import { makeTestNhsNumber, NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM } from './nhs-number.ts';

export const UKCORE_PATIENT = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient';
export const UKCORE_CAREPLAN = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-CarePlan';
export const JOINEDUP_PATIENT = 'https://joinedup.org.uk/fhir/StructureDefinition/JoinedUp-Patient';
export const JOINEDUP_CAREPLAN = 'https://joinedup.org.uk/fhir/StructureDefinition/JoinedUp-CarePlan';
export const VERIFICATION_STATUS_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';
export const SOCIAL_CARE_PLAN = { system: 'http://snomed.info/sct', code: '734163000', display: 'Care plan' };

/** A Patient shaped like the UK Core examples: NHS number with verification status, GP practice by ODS code. */
export function ukCorePatient(seed = 1): Patient {
  return {
    resourceType: 'Patient',
    id: `patient-${seed}`,
    meta: { profile: [UKCORE_PATIENT] },
    extension: [
      {
        url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory',
        valueCodeableConcept: {
          coding: [
            {
              system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland',
              code: 'Z',
              display: 'Not stated',
            },
          ],
        },
      },
    ],
    identifier: [
      {
        extension: [
          {
            url: VERIFICATION_STATUS_URL,
            valueCodeableConcept: {
              coding: [
                {
                  system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland',
                  code: '01',
                  display: 'Number present and verified',
                },
              ],
            },
          },
        ],
        system: NHS_NUMBER_SYSTEM,
        value: makeTestNhsNumber(seed),
      },
      { system: 'https://council.example.org.uk/Id/case-number', value: `CASE-${seed}` },
    ],
    active: true,
    name: [{ use: 'official', family: 'Quillfeather', given: ['Morwenna', 'Ada'], prefix: ['Ms'] }],
    telecom: [{ system: 'phone', value: '01632 960000', use: 'home' }],
    gender: 'female',
    birthDate: '1948-03-17',
    address: [{ use: 'home', line: ['1 Imaginary Row'], city: 'Exampleton', postalCode: 'ZZ99 3WZ' }],
    generalPractitioner: [
      {
        reference: 'Organization/gp-practice-1',
        identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'Z99001' },
        display: 'Exampleton Health Centre',
      },
    ],
    managingOrganization: {
      reference: 'Organization/council-1',
      identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'ZZ901' },
    },
  };
}

/** A social care CarePlan for `patient-<seed>`. */
export function socialCarePlan(seed = 1): CarePlan {
  return {
    resourceType: 'CarePlan',
    id: `careplan-${seed}`,
    status: 'active',
    intent: 'plan',
    category: [{ coding: [SOCIAL_CARE_PLAN] }],
    title: 'Support at home',
    subject: { reference: `Patient/patient-${seed}`, display: 'Morwenna Quillfeather' },
    period: { start: '2025-01-06' },
    author: { reference: 'Organization/council-1' },
  };
}
