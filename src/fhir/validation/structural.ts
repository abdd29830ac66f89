import { getAllDataTypes, OperationOutcomeError, validateResource, validateTypedValue } from '@medplum/core';
import type { InternalTypeSchema, TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

/** Coded values met during validation, by required-binding value set URL (filled by @medplum/core). */
export type CollectedTokens = Record<string, TypedValueWithPath[]>;

/**
 * Runs @medplum/core's structural validation (cardinality, types, unknown
 * properties, primitive formats, FHIRPath invariants, slice counts) against
 * the base type, or against an already parsed profile, and returns every
 * issue instead of throwing on the first error. Required-binding values are
 * collected into `tokens` for the terminology check.
 */
export function validateStructure(
  resource: Resource,
  profile: InternalTypeSchema | undefined,
  tokens: CollectedTokens
): OperationOutcomeIssue[] {
  try {
    if (!profile) {
      return validateResource(resource, { collect: { tokens } });
    }
    return validateWithParsedProfile(resource, profile, tokens);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return err.outcome.issue ?? [];
    }
    return [
      {
        severity: 'error',
        code: 'processing',
        details: { text: `Validation failed: ${err instanceof Error ? err.message : String(err)}` },
        expression: [resource.resourceType],
      },
    ];
  }
}

/**
 * validateResource({ profile }) accepts only a StructureDefinition and parses
 * it again on every call. validateTypedValue looks the root schema up by the
 * typed value's type name instead, so the parsed profile is registered under a
 * name no real type can have, for the length of this synchronous call only:
 * nothing else can observe it, and contained resources are still validated
 * against their base types.
 */
function validateWithParsedProfile(
  resource: Resource,
  profile: InternalTypeSchema,
  tokens: CollectedTokens
): OperationOutcomeIssue[] {
  const key = `joinedup-profile:${profile.url}`;
  const dataTypes = getAllDataTypes();
  dataTypes[key] = profile;
  try {
    return validateTypedValue({ type: key, value: resource }, { collect: { tokens } });
  } finally {
    delete dataTypes[key];
  }
}
