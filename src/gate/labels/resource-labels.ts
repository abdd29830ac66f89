import type { Reference, Resource } from '@medplum/fhirtypes';
import type { DataClass } from '../types.ts';

/**
 * What the gate needs to know of a stored resource without parsing it again:
 * whose record it is part of, which data class it belongs to and, for a
 * carer's details held in someone else's record, who that carer is. Stored
 * beside every version (resource.patient_id, data_class, third_party) so that
 * searches can be decided row by row before any content is read.
 */
export interface ResourceLabels {
  /** The Patient id the resource is about; undefined when it is not about a person, or the reference cannot be resolved here. */
  patientId?: string;
  /** Inherit patient and class from this resource (Provenance: from its first target). */
  inheritFrom?: { type: string; id: string };
  dataClass?: DataClass;
  /** "system|value" of the carer a RelatedPerson describes (rule 7: carers are separate people). */
  thirdParty?: string;
}

/** Types that hold no one's care record: directories and forms. Everything else is personal data. */
export const DIRECTORY_TYPES: ReadonlySet<string> = new Set(['Organization', 'Practitioner', 'PractitionerRole', 'Questionnaire']);

const CLASS_BY_TYPE: Readonly<Record<string, DataClass>> = {
  Patient: 'person',
  Condition: 'person',
  RelatedPerson: 'related-people',
  CarePlan: 'care-plan',
  Goal: 'care-plan',
  CareTeam: 'care-team',
  Consent: 'consents',
  ServiceRequest: 'contacts',
  Task: 'assessments',
  QuestionnaireResponse: 'assessments',
  EpisodeOfCare: 'services',
  Flag: 'safeguarding',
};

const CLD_EVENT_TYPE = 'https://joinedup.org.uk/fhir/CodeSystem/cld-event-type';
const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
/** Relationship codes that make a RelatedPerson a carer (ours and UK Core's). */
const CARER_CODES: ReadonlySet<string> = new Set(['main-unpaid-carer', 'unpaid-carer', 'carer', 'Carer', 'young-carer', 'parent-carer']);

type AnyResource = Resource & Record<string, unknown>;

/** The reference that names the person a resource is about (its Patient compartment link). */
function subjectReference(r: AnyResource): Reference | undefined {
  switch (r.resourceType) {
    case 'RelatedPerson':
    case 'Consent':
    case 'EpisodeOfCare':
      return r.patient as Reference | undefined;
    case 'Task':
      return r.for as Reference | undefined;
    default:
      return r.subject as Reference | undefined;
  }
}

/** "Patient/{id}" or "{ourBase}/Patient/{id}" → id; anything else (identifier-only, other servers) → undefined. */
export function localPatientId(ref: Reference | undefined, localBase?: string): string | undefined {
  const s = ref?.reference;
  if (!s) return undefined;
  const local = localBase && s.startsWith(`${localBase}/`) ? s.slice(localBase.length + 1) : s;
  const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(local);
  return m?.[1];
}

export function resourceLabels(resource: Resource, localBase?: string): ResourceLabels {
  const r = resource as AnyResource;
  if (DIRECTORY_TYPES.has(r.resourceType) || r.resourceType === 'AuditEvent') return {};
  if (r.resourceType === 'Patient') return { patientId: r.id, dataClass: 'person' };
  if (r.resourceType === 'Provenance') return provenanceLabels(r, localBase);
  const labels: ResourceLabels = { patientId: localPatientId(subjectReference(r), localBase), dataClass: dataClassOf(r) };
  if (r.resourceType === 'RelatedPerson' && isCarer(r)) labels.thirdParty = carerIdentifier(r);
  return labels;
}

function dataClassOf(r: AnyResource): DataClass | undefined {
  if (r.resourceType === 'Task') {
    const codings = (r.code as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? [];
    return codings.some((c) => c.system === CLD_EVENT_TYPE && c.code === 'review') ? 'reviews' : 'assessments';
  }
  return CLASS_BY_TYPE[r.resourceType];
}

/** A Provenance is part of the record it describes: the Patient it targets, else its first target's labels. */
function provenanceLabels(r: AnyResource, localBase?: string): ResourceLabels {
  const targets = (r.target as Reference[] | undefined) ?? [];
  const patientId = targets.map((t) => localPatientId(t, localBase)).find((x) => x);
  if (patientId) return { patientId, dataClass: 'person' };
  for (const t of targets) {
    const m = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(t.reference ?? '');
    if (m) return { inheritFrom: { type: m[1] as string, id: m[2] as string } };
  }
  return {};
}

function isCarer(r: AnyResource): boolean {
  const rels = (r.relationship as { coding?: { code?: string }[] }[] | undefined) ?? [];
  return rels.some((cc) => (cc.coding ?? []).some((c) => c.code !== undefined && CARER_CODES.has(c.code)));
}

/** The carer's NHS number if known, else their first identifier: how their own record is found. */
function carerIdentifier(r: AnyResource): string | undefined {
  const ids = (r.identifier as { system?: string; value?: string }[] | undefined) ?? [];
  const best = ids.find((i) => i.system === NHS_NUMBER && i.value) ?? ids.find((i) => i.system && i.value);
  return best ? `${best.system}|${best.value}` : undefined;
}
