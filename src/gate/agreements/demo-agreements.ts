import type { AgreementFile } from './agreement-schema.ts';

/**
 * The demo sharing agreements (synthetic, like every demo organisation: X9...
 * ODS codes belong to no real body). They follow the shape of a real local
 * shared care record: one broad direct-care ISA, a narrower one with the
 * mental health trust, safeguarding ISAs that rest on a different lawful
 * basis, a planning agreement the National Data Opt-out applies to, and an
 * expired pilot so "expired" can be seen in `agreement list`.
 * docs/examples/agreements/ holds the same files (a test keeps them equal).
 */
const COUNCIL = { ods: 'X9C01', name: 'Midshire County Council (demo)' };
const GP_1 = { ods: 'X99001', name: 'Riverside Surgery (demo)' };
const GP_2 = { ods: 'X99002', name: 'Hillside Medical Centre (demo)' };
const ACUTE = { ods: 'X9H01', name: 'Northgate Hospitals NHS Trust (demo)' };
const MENTAL_HEALTH = { ods: 'X9M01', name: 'Midshire Mental Health NHS Foundation Trust (demo)' };

/** Direct care for health and adult social care: the s251B duty to share, with implied consent. */
const DIRECT_CARE_BASIS = {
  art6: 'art6-1-e',
  art9: 'art9-2-h',
  dpaSchedule1: 'dpa-sch1-pt1-para2',
  commonLaw: 'implied-consent',
  statutoryGateway: 'hsca-2012-s251b',
} as const;

export const DEMO_AGREEMENTS: readonly AgreementFile[] = [
  {
    id: 'midshire-direct-care',
    title: 'Midshire shared care record: direct care between the council, GP practices and Northgate Hospitals (demo)',
    parties: [COUNCIL, GP_1, GP_2, ACUTE],
    purposes: ['TREAT', 'CAREMGT'],
    dataClasses: ['person', 'contacts', 'assessments', 'services', 'reviews', 'care-plan', 'care-team', 'related-people', 'safeguarding'],
    lawfulBasis: DIRECT_CARE_BASIS,
    period: { start: '2025-04-01', end: '2028-03-31' },
  },
  {
    // Narrower on purpose: the trust needs the plan and who is involved, not the council's contact history or safeguarding files.
    id: 'midshire-mental-health-direct-care',
    title: 'Community mental health and adult social care: joint care coordination (demo)',
    parties: [COUNCIL, MENTAL_HEALTH],
    purposes: ['TREAT', 'CAREMGT'],
    dataClasses: ['person', 'assessments', 'services', 'reviews', 'care-plan', 'care-team'],
    lawfulBasis: DIRECT_CARE_BASIS,
    period: { start: '2025-06-01', end: '2027-05-31' },
  },
  {
    id: 'midshire-safeguarding-adults',
    title: 'Midshire Safeguarding Adults Partnership: information sharing for Care Act s42 enquiries (demo)',
    parties: [COUNCIL, GP_1, GP_2, ACUTE, MENTAL_HEALTH],
    purposes: ['safeguarding-adults'],
    dataClasses: ['person', 'contacts', 'assessments', 'services', 'care-plan', 'care-team', 'related-people', 'safeguarding'],
    lawfulBasis: {
      art6: 'art6-1-e',
      art9: 'art9-2-g',
      dpaSchedule1: 'dpa-sch1-pt2-para18',
      commonLaw: 'overriding-public-interest',
      statutoryGateway: 'care-act-2014-s42',
    },
    period: { start: '2025-04-01' },
  },
  {
    id: 'midshire-safeguarding-children',
    title: 'Midshire Safeguarding Children Partnership: information sharing for Children Act s47 enquiries (demo)',
    parties: [COUNCIL, GP_1, GP_2, ACUTE, MENTAL_HEALTH],
    purposes: ['safeguarding-children'],
    dataClasses: ['person', 'contacts', 'assessments', 'care-team', 'related-people', 'safeguarding'],
    lawfulBasis: {
      art6: 'art6-1-e',
      art9: 'art9-2-g',
      dpaSchedule1: 'dpa-sch1-pt2-para18',
      commonLaw: 'overriding-public-interest',
      statutoryGateway: 'children-act-1989-s47',
    },
    period: { start: '2025-04-01' },
  },
  {
    // Beyond individual care: the National Data Opt-out applies (rule 11), and the common law needs s251 support.
    id: 'midshire-population-health-planning',
    title: 'Population health planning: hospital discharge and home care demand (demo)',
    parties: [COUNCIL, ACUTE],
    purposes: ['HOPERAT'],
    dataClasses: ['person', 'services'],
    lawfulBasis: {
      art6: 'art6-1-e',
      art9: 'art9-2-h',
      dpaSchedule1: 'dpa-sch1-pt1-para2',
      commonLaw: 'section-251-support',
    },
    period: { start: '2026-04-01', end: '2027-03-31' },
  },
  {
    id: 'northgate-discharge-to-assess-pilot',
    title: 'Discharge to assess pilot: Northgate Hospitals and the council (demo, expired)',
    parties: [COUNCIL, ACUTE],
    purposes: ['TREAT', 'CAREMGT'],
    dataClasses: ['person', 'contacts', 'assessments', 'services', 'care-plan'],
    lawfulBasis: DIRECT_CARE_BASIS,
    period: { start: '2023-01-09', end: '2024-03-31' },
  },
];
