import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { SUPPORTED_RESOURCE_TYPES } from './resource-types.ts';
import { indexedParams } from './search/search-params.ts';

/**
 * States exactly what this server does (R4 capabilitystatement.html): every
 * type, interaction, search parameter, include and operation listed here is
 * implemented and tested, and nothing else is claimed.
 */
export function buildCapabilityStatement(
  baseUrl: string,
  version: string,
  authDescription: string,
  profileForType: (type: string) => string | undefined
): CapabilityStatement {
  const revIncludes = new Map<string, string[]>();
  for (const type of SUPPORTED_RESOURCE_TYPES) {
    for (const p of indexedParams(type).values()) {
      if (p.kind !== 'reference') continue;
      for (const target of p.targets) {
        revIncludes.set(target, [...(revIncludes.get(target) ?? []), `${type}:${p.code}`]);
      }
    }
  }
  const resource: CapabilityStatementRestResource[] = SUPPORTED_RESOURCE_TYPES.map((type) => {
    const params = [...indexedParams(type).values()];
    const r: CapabilityStatementRestResource = {
      type,
      // The profile every write of this type is validated against (profiles/profiles.json).
      profile: profileForType(type) ?? `http://hl7.org/fhir/StructureDefinition/${type}`,
      // AuditEvents are written by the gateway alone (its audit store); clients may only read them.
      interaction: (type === 'AuditEvent'
        ? ['read', 'vread', 'history-instance', 'history-type', 'search-type']
        : ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type']
      ).map((code) => ({ code: code as 'read' })),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'not-supported',
      conditionalUpdate: false,
      conditionalDelete: 'not-supported',
      searchInclude: params.filter((p) => p.kind === 'reference').map((p) => `${type}:${p.code}`),
      searchRevInclude: revIncludes.get(type) ?? [],
      searchParam: [
        { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
        { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        ...params.map((p) => ({
          name: p.code,
          type: p.definition.type,
          definition: p.definition.url,
        })),
      ],
      operation: [
        { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' },
        ...(type === 'Patient' ? [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] : []),
      ],
    };
    return r;
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'JoinedUp',
    kind: 'instance',
    software: { name: 'JoinedUp', version },
    implementation: { description: 'JoinedUp social care gateway', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: { description: authDescription },
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
