import type { Measure, MeasureGroup } from '@medplum/fhirtypes';

/**
 * Our Measure definitions for joint working (issue #7 item 5; seed 000
 * "Measuring the Success of Joint Working": faster discharge from hospital,
 * fewer duplicated assessments). Read-only, published like our CodeSystems;
 * docs/measures.md says how each is counted. Populations are defined in
 * text: the logic is the SQL in src/measures/, not CQL, which we do not run.
 */

export const MEASURE_BASE = 'https://joinedup.org.uk/fhir/Measure';
const POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';
const SCORING = 'http://terminology.hl7.org/CodeSystem/measure-scoring';
/** Our codes for a group's statistic and our stratifiers: HL7 R4 has none for them. */
export const MEASURE_GROUP_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/measure-group';
export const STRATIFIER_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/measure-stratifier';

export const MEASURE_IDS = ['referral-response-time', 'referral-declines', 'overdue-requests', 'duplicate-assessments-avoided', 'discharge-to-service-start'] as const;
export type MeasureId = (typeof MEASURE_IDS)[number];

type Pop = 'initial-population' | 'denominator' | 'numerator' | 'measure-population' | 'measure-observation';
/** Criteria in words (language text/plain: R4's binding is extensible, though the types list only three): the executable logic is our SQL, not CQL. */
const pop = (code: Pop, description: string) => ({
  code: { coding: [{ system: POPULATION, code: code as string }] },
  description,
  criteria: { language: 'text/plain' as 'text/cql', description },
});

/** A group; `code` names the statistic when a measure reports several (median, 90th percentile). */
function group(code: string, unit: string, population: ReturnType<typeof pop>[], stratifier?: MeasureGroup['stratifier']): MeasureGroup {
  return {
    code: { coding: [{ system: MEASURE_GROUP_SYSTEM, code }] },
    // R4 Measure has no element for units: the group says them, and the report's measureScore carries them.
    description: `${code}; unit: ${unit}`,
    population,
    ...(stratifier ? { stratifier } : {}),
  };
}

function measure(id: MeasureId, title: string, description: string, scoring: 'proportion' | 'cohort' | 'continuous-variable', improvement: 'increase' | 'decrease', groups: MeasureGroup[]): Measure {
  return {
    resourceType: 'Measure',
    id,
    url: `${MEASURE_BASE}/${id}`,
    version: '1.0.0',
    name: id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
    title,
    status: 'active',
    experimental: false,
    publisher: 'JoinedUp',
    description,
    // Reports are about an organisation's joint working, never about a person.
    subjectCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/resource-types', code: 'Organization' }] },
    scoring: { coding: [{ system: SCORING, code: scoring }] },
    improvementNotation: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-improvement-notation', code: improvement }] },
    group: groups,
  };
}

const REQUESTS = 'Joint work requests: Tasks whose code carries joint-work-request-kind, made of the organisation (Task.owner, or the organisation of the PractitionerRole named on acceptance).';
const ANSWERED = 'Requests made of the organisation first accepted or declined in the period';
const responseTime = (stat: string) => [
  pop('initial-population', ANSWERED),
  pop('measure-population', 'The same'),
  pop('measure-observation', `Working days from request to first answer; ${stat}`),
];

export const MEASURES: readonly Measure[] = [
  measure(
    'referral-response-time',
    'Referral response time',
    `${REQUESTS} For each request first accepted or declined in the period: the working days (Monday to Friday, not an England and Wales bank holiday, Europe/London dates) after the day it was made (Task.authoredOn) up to and including the day its first accepted or rejected version was stored; 0 = answered the same day. Median and 90th percentile (nearest rank).`,
    'continuous-variable',
    'decrease',
    [group('median', 'working days', responseTime('median')), group('90th-percentile', 'working days', responseTime('90th percentile, nearest rank'))]
  ),
  measure(
    'referral-declines',
    'Requests declined, by reason',
    `${REQUESTS} The proportion of requests first answered in the period that were declined (rejected), stratified by coded reason (Task.statusReason.coding, first coding, as system|code; "uncoded" when only written reasons were given). Written reasons are never reported: they may name people.`,
    'proportion',
    'decrease',
    [
      group('declined', 'proportion of requests answered', [pop('initial-population', ANSWERED), pop('denominator', 'The same'), pop('numerator', 'Those declined')], [
        { code: { coding: [{ system: STRATIFIER_SYSTEM, code: 'decline-reason' }] }, description: 'Task.statusReason.coding[0] as system|code, or "uncoded"' },
      ]),
    ]
  ),
  measure(
    'overdue-requests',
    'Overdue requests at the end of the period',
    `${REQUESTS} The number of requests that, as the record stood at the end of the period (the last version stored by then, or now if the period has not ended), were still requested or received after their response deadline (Task.restriction.period.end) had ended.`,
    'cohort',
    'decrease',
    [group('overdue', 'requests', [pop('initial-population', 'Requests made of the organisation still unanswered after their deadline at the end of the period')])]
  ),
  measure(
    'duplicate-assessments-avoided',
    'Duplicate assessments avoided',
    'Assessments (Tasks) started within the configured window of a live one of the same kind for the same person (table joint_work_duplicate), noticed in the period, where the organisation started the second or holds the first. Numerator: those whose writer was pointed at the existing assessment (the gate let it see it). The score is the numerator: the count avoided.',
    'proportion',
    'increase',
    [group('avoided', 'assessments', [pop('initial-population', 'Second assessments of the same kind for the same person noticed in the period'), pop('denominator', 'The same'), pop('numerator', 'Those whose writer was pointed at the existing assessment')])]
  ),
  measure(
    'discharge-to-service-start',
    'Hospital discharge referral to service start',
    'Referrals from hospital discharge made to the organisation in the period: ServiceRequests with joint-work-request-kind discharge-assessment whose performer is the organisation, and council contacts with route of access DH (cld-route-of-access) that the organisation holds. For each: calendar days (Europe/London dates) from the referral (authoredOn, else occurrenceDateTime) to the start of the first service for the same person on or after it (EpisodeOfCare.period.start) that the organisation holds or manages. Median over those followed by a service.',
    'continuous-variable',
    'decrease',
    [group('median', 'days', [pop('initial-population', 'Discharge referrals made to the organisation in the period'), pop('measure-population', 'Those followed by a service start'), pop('measure-observation', 'Calendar days from referral to service start; median')])]
  ),
];

export function measureById(id: string): Measure | undefined {
  return MEASURES.find((m) => m.id === id);
}
