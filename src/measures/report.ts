import type { Measure, MeasureReport, MeasureReportGroup } from '@medplum/fhirtypes';
import type { GroupResult } from './compute.ts';
import { MEASURE_GROUP_SYSTEM, STRATIFIER_SYSTEM } from './definitions.ts';
import type { Period } from './period.ts';

const POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';
const UCUM = 'http://unitsofmeasure.org';
/**
 * R4 MeasureReport.subject cannot be an Organization, and reporter means who
 * reports: the organisation measured goes in an extension of ours.
 */
export const MEASURED_ORGANISATION_EXT = 'https://joinedup.org.uk/fhir/StructureDefinition/measure-organization';

function group(g: GroupResult): MeasureReportGroup {
  return {
    code: { coding: [{ system: MEASURE_GROUP_SYSTEM, code: g.code }] },
    population: Object.entries(g.populations).map(([code, count]) => ({ code: { coding: [{ system: POPULATION, code }] }, count })),
    ...(g.score ? { measureScore: { value: g.score.value, unit: g.score.unit, ...(g.score.code ? { system: UCUM, code: g.score.code } : {}) } } : {}),
    ...(g.strata
      ? {
          stratifier: [
            {
              code: [{ coding: [{ system: STRATIFIER_SYSTEM, code: g.strata.stratifier }] }],
              stratum: g.strata.strata.map((s) => ({
                value: { text: s.value },
                population: Object.entries(s.populations).map(([code, count]) => ({ code: { coding: [{ system: POPULATION, code }] }, count })),
              })),
            },
          ],
        }
      : {}),
  };
}

/** An R4 summary MeasureReport: counts and statistics only, no person and no reference to anyone's record. */
export function measureReport(measure: Measure, period: Period, ods: string | undefined, groups: GroupResult[], now: Date): MeasureReport {
  return {
    resourceType: 'MeasureReport',
    ...(ods ? { extension: [{ url: MEASURED_ORGANISATION_EXT, valueReference: { type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods } } }] } : {}),
    status: 'complete',
    type: 'summary',
    measure: measure.url as string,
    date: now.toISOString(),
    period: { start: period.start, end: period.end },
    ...(measure.improvementNotation ? { improvementNotation: measure.improvementNotation } : {}),
    group: groups.map(group),
  };
}
