import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStructureDefinition } from '@medplum/core';
import type { InternalTypeSchema } from '@medplum/core';
import type { CodeSystem, OperationOutcomeIssue, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { parseProfilesConfig } from './profiles-config.ts';
import type { ProfilesConfig } from './profiles-config.ts';

/** A profile ready for validation: parsed once, reused for every resource. */
export interface LoadedProfile {
  url: string;
  type: string;
  schema: InternalTypeSchema;
}

/** The profiles that apply to one resource, and any problems with its meta.profile claims. */
export interface ProfileSelection {
  profiles: LoadedProfile[];
  issues: OperationOutcomeIssue[];
}

const BASE_SD = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * The profiles and value sets committed under profiles/, read from disk once.
 * StructureDefinitions are parsed into @medplum/core's internal schema on first
 * use and cached, because parsing costs far more than validating with the
 * parsed form (about 1 ms against 0.05 ms for a CarePlan).
 */
export class ProfileRegistry {
  /** How many StructureDefinitions have been parsed; lets tests prove the cache works. */
  parseCount = 0;

  private readonly definitions = new Map<string, StructureDefinition>();
  private readonly parsed = new Map<string, LoadedProfile>();

  private constructor(
    private readonly config: ProfilesConfig,
    definitions: StructureDefinition[],
    /** Our own ValueSets and CodeSystems, for terminology checks. */
    readonly terminology: (ValueSet | CodeSystem)[]
  ) {
    for (const sd of definitions) {
      this.definitions.set(sd.url as string, sd);
    }
    for (const [type, url] of Object.entries(config.byType)) {
      if (this.definitions.get(url)?.type !== type) {
        throw new Error(`profiles.json: ${type} → ${url} is not a ${type} profile in the profiles directory`);
      }
    }
    for (const [alias, url] of Object.entries(config.aliases)) {
      if (!this.definitions.has(url)) {
        throw new Error(`profiles.json: alias ${alias} → ${url} is not a profile in the profiles directory`);
      }
    }
  }

  /** Reads profiles.json and the generated resources in `profilesDir` (not its src/ sources). */
  /** The profile every write of this type must meet, if one is configured. */
  profileForType(type: string): string | undefined {
    return this.config.byType[type];
  }

  static load(profilesDir: string): ProfileRegistry {
    const config = parseProfilesConfig(JSON.parse(readFileSync(join(profilesDir, 'profiles.json'), 'utf8')));
    const definitions: StructureDefinition[] = [];
    const terminology: (ValueSet | CodeSystem)[] = [];
    for (const name of readdirSync(profilesDir).sort()) {
      if (!name.endsWith('.json') || name === 'profiles.json') {
        continue;
      }
      const resource = JSON.parse(readFileSync(join(profilesDir, name), 'utf8')) as Resource;
      if (resource.resourceType === 'StructureDefinition') {
        if (!resource.snapshot?.element?.length) {
          throw new Error(`${name} has no snapshot: run npm run build:profiles`);
        }
        definitions.push(resource);
      } else if (resource.resourceType === 'ValueSet' || resource.resourceType === 'CodeSystem') {
        terminology.push(resource);
      }
    }
    return new ProfileRegistry(config, definitions, terminology);
  }

  /**
   * The profiles `resource` must conform to: the one configured for its type,
   * plus each known profile it claims in meta.profile (aliases resolved,
   * duplicates dropped). Claims we cannot check are warnings, not errors, so
   * that senders using profiles we have not restated can still write.
   */
  select(resource: Resource): ProfileSelection {
    const type = resource.resourceType;
    const urls = new Set<string>();
    const issues: OperationOutcomeIssue[] = [];
    const configured = this.config.byType[type];
    if (configured) {
      urls.add(configured);
    }
    const claims = resource.meta?.profile;
    if (Array.isArray(claims)) {
      claims.forEach((claim, i) => {
        if (typeof claim !== 'string') {
          return; // structural validation reports the bad value
        }
        const expression = `${type}.meta.profile[${i}]`;
        const url = this.resolve(claim);
        if (url === undefined) {
          if (stripVersion(claim) !== BASE_SD + type) {
            issues.push({
              severity: 'warning',
              code: 'not-supported',
              details: { text: `Profile ${claim} is not known here; the resource was not checked against it` },
              expression: [expression],
            });
          }
          return;
        }
        const profileType = this.definitions.get(url)?.type;
        if (profileType !== type) {
          issues.push({
            severity: 'error',
            code: 'invalid',
            details: { text: `Profile ${claim} constrains ${profileType}, not ${type}` },
            expression: [expression],
          });
          return;
        }
        urls.add(url);
      });
    }
    return { profiles: [...urls].map((url) => this.get(url)), issues };
  }

  /** Our profile URL for `url` (ours, or an alias of ours), ignoring any `|version`. */
  resolve(url: string): string | undefined {
    const bare = stripVersion(url);
    if (this.definitions.has(bare)) {
      return bare;
    }
    return this.config.aliases[bare];
  }

  /** The parsed profile with canonical `url`, parsing it on first use. */
  get(url: string): LoadedProfile {
    let profile = this.parsed.get(url);
    if (!profile) {
      const sd = this.definitions.get(url);
      if (!sd) {
        throw new Error(`Unknown profile ${url}`);
      }
      this.parseCount++;
      profile = { url, type: sd.type as string, schema: parseStructureDefinition(withoutNestedSlices(sd)) };
      this.parsed.set(url, profile);
    }
    return profile;
  }
}

/**
 * @medplum/core's parser files a slice nested inside another slice (such as
 * identifier:nhsNumber.extension:nhsNumberVerificationStatus) as a sibling of
 * the outer slice, after which the outer slice's remaining children (system,
 * value) land in the wrong slice and its discriminator stops matching. The
 * nested slices stay in the committed snapshot, where they document the rule;
 * the validator enforces them in code (see identifier-rules.ts) and parses
 * the profile without them.
 */
function withoutNestedSlices(sd: StructureDefinition): StructureDefinition {
  const element = (sd.snapshot?.element ?? []).filter((e) => (e.id ?? '').split(':').length <= 2);
  return { ...sd, snapshot: { ...sd.snapshot, element } };
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}
