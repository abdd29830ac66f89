import type { SharingAgreement } from '../../src/gate/types.ts';

/**
 * The sharing agreements scenarios can load, by id. Realistic shapes: one
 * direct-care ISA across the council, two GP practices, an acute trust and a
 * mental health trust, plus agreements chosen to exercise rule 1 and rule 11.
 */

const C = { ods: 'X9C01', name: 'Exampleshire County Council' };
const C2 = { ods: 'X9C02', name: 'Neighbouring Borough Council' };
const GP = { ods: 'X99001', name: 'High Street Surgery' };
const GP2 = { ods: 'X99002', name: 'Riverside Medical Centre' };
const ACUTE = { ods: 'X9H01', name: 'Exampleshire Hospitals NHS Trust' };
const MH = { ods: 'X9M01', name: 'Exampleshire Mental Health NHS Trust' };
const IG = { ods: 'X9G01', name: 'Exampleshire ICB analytics' };

const CARE_CLASSES = ['person', 'contacts', 'assessments', 'services', 'reviews', 'care-plan', 'care-team', 'related-people', 'carer-data'] as const;
const CARE_BASIS = { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' } as const;

export const SCENARIO_AGREEMENTS = {
  'isa-direct-care': {
    id: 'isa-direct-care', version: 2, title: 'Exampleshire shared care record: direct care',
    parties: [C, GP, GP2, ACUTE, MH], purposes: ['TREAT', 'CAREMGT'], dataClasses: [...CARE_CLASSES],
    lawfulBasis: { ...CARE_BASIS }, period: { start: '2025-01-01', end: '2027-12-31' },
  },
  'isa-councils-expired': {
    id: 'isa-councils-expired', version: 1, title: 'Cross-border councils: direct care (expired)',
    parties: [C, C2], purposes: ['TREAT', 'CAREMGT'], dataClasses: [...CARE_CLASSES],
    lawfulBasis: { ...CARE_BASIS }, period: { start: '2023-01-01', end: '2025-12-31' },
  },
  'isa-mh-ended': {
    id: 'isa-mh-ended', version: 3, title: 'Mental health joint team (ended early)',
    parties: [C, MH], purposes: ['TREAT', 'CAREMGT'], dataClasses: [...CARE_CLASSES],
    lawfulBasis: { ...CARE_BASIS }, period: { start: '2024-01-01', end: '2028-12-31' }, endedAt: '2026-03-01T00:00:00Z',
  },
  'isa-gp2-future': {
    id: 'isa-gp2-future', version: 1, title: 'Riverside onboarding (from 2027)',
    parties: [C, GP2], purposes: ['TREAT', 'CAREMGT'], dataClasses: [...CARE_CLASSES],
    lawfulBasis: { ...CARE_BASIS }, period: { start: '2027-01-01' },
  },
  'isa-research': {
    id: 'isa-research', version: 1, title: 'Falls prevention research (CAG-approved)',
    parties: [C, ACUTE], purposes: ['HRESCH'], dataClasses: ['person', 'assessments', 'services'],
    lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-j', dpaSchedule1: 'dpa-sch1-pt1-para4', commonLaw: 'section-251-support' },
    period: { start: '2026-01-01', end: '2026-12-31' },
  },
  'isa-public-health-duty': {
    id: 'isa-public-health-duty', version: 1, title: 'Notifiable disease surveillance (legal duty)',
    parties: [C, ACUTE], purposes: ['PUBHLTH'], dataClasses: ['person', 'assessments'],
    lawfulBasis: { art6: 'art6-1-c', art9: 'art9-2-i', dpaSchedule1: 'dpa-sch1-pt1-para3', commonLaw: 'legal-duty', legalDuty: true },
    period: { start: '2025-01-01' },
  },
  'isa-public-health': {
    id: 'isa-public-health', version: 1, title: 'Population health needs assessment',
    parties: [C, MH], purposes: ['PUBHLTH'], dataClasses: ['person', 'assessments'],
    lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-i', dpaSchedule1: 'dpa-sch1-pt1-para3' },
    period: { start: '2025-01-01' },
  },
  'isa-planning': {
    id: 'isa-planning', version: 1, title: 'ICB service planning',
    parties: [C, IG], purposes: ['HOPERAT'], dataClasses: ['person', 'services'],
    lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2' },
    period: { start: '2025-01-01' },
  },
  'isa-patient-requests': {
    id: 'isa-patient-requests', version: 1, title: 'Requests on behalf of the person',
    parties: [C, GP], purposes: ['PATRQT', 'PWATRNY'], dataClasses: [...CARE_CLASSES],
    lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', commonLaw: 'explicit-consent' },
    period: { start: '2025-01-01' },
  },
} satisfies Record<string, SharingAgreement>;

export type AgreementId = keyof typeof SCENARIO_AGREEMENTS;
