/**
 * Purposes of use a request may declare (legal-rules.md, "Purposes of use").
 * HL7 v3 PurposeOfUse codes where they exist; safeguarding has no standard
 * code, so it is ours.
 */
export const HL7_PURPOSE_OF_USE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const JOINEDUP_PURPOSE_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/purpose-of-use';

export const PURPOSES = {
  TREAT: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'treatment (direct care)' },
  ETREAT: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'emergency treatment' },
  CAREMGT: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'care management' },
  PUBHLTH: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'public health' },
  HRESCH: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'healthcare research' },
  HOPERAT: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'healthcare operations' },
  PATRQT: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'patient requested' },
  PWATRNY: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'power of attorney' },
  BTG: { system: HL7_PURPOSE_OF_USE_SYSTEM, display: 'break the glass' },
  'safeguarding-adults': { system: JOINEDUP_PURPOSE_SYSTEM, display: 'safeguarding adults (Care Act 2014 s42)' },
  'safeguarding-children': { system: JOINEDUP_PURPOSE_SYSTEM, display: 'safeguarding children (Children Act 1989 s47)' },
} as const;

export type PurposeOfUse = keyof typeof PURPOSES;

export const PURPOSE_CODES = Object.keys(PURPOSES) as [PurposeOfUse, ...PurposeOfUse[]];

export function isPurposeOfUse(code: string): code is PurposeOfUse {
  return Object.hasOwn(PURPOSES, code);
}
