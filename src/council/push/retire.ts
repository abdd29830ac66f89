import type { Resource } from '@medplum/fhirtypes';

const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

/** Types whose `status` has an 'entered-in-error' code in R4 (others are handled one by one below). */
const ENTERED_IN_ERROR = new Set(['ServiceRequest', 'Task', 'QuestionnaireResponse', 'EpisodeOfCare', 'CarePlan', 'CareTeam', 'Consent']);

/**
 * The resource as it should read once its source record is deleted: ended
 * where the type can say so (a person is not erroneous, only no longer
 * active in the council's records), entered-in-error where that is the only
 * way to take it out of use. Never deletes: history stays readable.
 * Returns undefined for a type we do not know how to retire.
 */
export function retireResource(resource: Resource): Resource | undefined {
  const r = structuredClone(resource) as Resource & Record<string, unknown>;
  switch (r.resourceType) {
    case 'Patient':
    case 'RelatedPerson':
      r.active = false;
      return r;
    case 'Flag':
      r.status = 'inactive';
      return r;
    case 'Condition':
      // clinicalStatus inactive rather than verificationStatus entered-in-error: the
      // latter forbids clinicalStatus (con-5) and would claim the need was never real.
      r.clinicalStatus = { coding: [{ system: CONDITION_CLINICAL, code: 'inactive', display: 'Inactive' }] };
      return r;
    case 'Goal':
      r.lifecycleStatus = 'entered-in-error';
      return r;
    default:
      if (ENTERED_IN_ERROR.has(r.resourceType)) {
        r.status = 'entered-in-error';
        return r;
      }
      return undefined;
  }
}
