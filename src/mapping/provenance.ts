import type { Provenance, Resource } from '@medplum/fhirtypes';
import { deterministicId } from './ids.ts';

export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** Complex extension on Provenance naming the mapping that produced the targets (sub-extensions format, name, version). */
export const MAPPING_EXTENSION_URL = 'https://joinedup.org.uk/fhir/StructureDefinition/mapping';
/** Base of Provenance.policy: <base><format>/<name>|<version>. */
export const MAPPING_POLICY_BASE = 'https://joinedup.org.uk/fhir/mapping/';
/** Base of the identifier system of a source record: <base><ODS>/<source system>. */
export const SOURCE_RECORD_SYSTEM_BASE = 'https://joinedup.org.uk/fhir/Id/source-record/';

export interface ProvenanceInputs {
  councilOds: string;
  receivedAt: string;
  recordType: string;
  source: { system: string; recordId: string; lastUpdated?: string };
  mapping: { format: string; name: string; version: string };
  resources: Resource[];
}

/**
 * The Provenance of one push: targets every produced resource; recorded = when
 * the gateway received it; occurred = the source's last-updated time; agent =
 * the council by ODS code (author); entity = the source record (system + id);
 * policy and extension name the mapping and its version.
 * Its id is deterministic over the source record, its last-updated time and the
 * mapping version, so a re-push of the same source version gives the same id.
 */
export function buildProvenance(p: ProvenanceInputs): Provenance {
  const { source, mapping } = p;
  const id = deterministicId({
    councilOds: p.councilOds,
    sourceSystem: source.system,
    key: source.recordId,
    resourceType: 'Provenance',
    kind: `${p.recordType}|${source.lastUpdated ?? ''}|${mapping.format}/${mapping.name}|${mapping.version}`,
  });
  return {
    resourceType: 'Provenance',
    id,
    extension: [
      {
        url: MAPPING_EXTENSION_URL,
        extension: [
          { url: 'format', valueString: mapping.format },
          { url: 'name', valueString: mapping.name },
          { url: 'version', valueString: mapping.version },
        ],
      },
    ],
    target: p.resources.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
    ...(source.lastUpdated ? { occurredDateTime: source.lastUpdated } : {}),
    recorded: p.receivedAt,
    policy: [`${MAPPING_POLICY_BASE}${mapping.format}/${mapping.name}|${mapping.version}`],
    agent: [
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }],
        },
        who: { type: 'Organization', identifier: { system: ODS_SYSTEM, value: p.councilOds } },
      },
    ],
    entity: [
      {
        role: 'source',
        what: {
          identifier: { system: `${SOURCE_RECORD_SYSTEM_BASE}${p.councilOds}/${encodeURIComponent(source.system)}`, value: source.recordId },
          display: `${p.recordType} record ${source.recordId} in ${source.system}`,
        },
      },
    ],
  };
}
