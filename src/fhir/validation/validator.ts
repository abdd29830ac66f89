import { fileURLToPath } from 'node:url';
import { isResourceType } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadBaseSchema } from '../schema.ts';
import { appendTokens } from './fast-path/collect-tokens.ts';
import { fastValidate } from './fast-path/fast-validate.ts';
import { checkIdentifiers } from './identifier-rules.ts';
import { ProfileRegistry } from './profile-registry.ts';
import type { LoadedProfile, ProfileSelection } from './profile-registry.ts';
import { checkRequiredBindings } from './required-bindings.ts';
import { checkSliceChildren } from './slice-rules.ts';
import { validateStructure } from './structural.ts';
import type { CollectedTokens } from './structural.ts';
import { Terminology } from './terminology.ts';

export interface ResourceValidator {
  /** Every problem found (severity error/warning), each with `expression`; [] when valid. Never throws for bad input. */
  validate(resource: Resource): OperationOutcomeIssue[];
}

export interface ValidatorOptions {
  /** Directory holding profiles.json and the built profiles; defaults to the project's profiles/. */
  profilesDir?: string;
  /** Try the fast structural check before @medplum/core's (default: on unless JOINEDUP_FAST_VALIDATION=off). */
  fastValidation?: boolean;
}

/**
 * JOINEDUP_FAST_VALIDATION=off turns the fast path (fast-path/) off for the
 * process, so every resource goes through @medplum/core's validator as before.
 */
const FAST_VALIDATION_DEFAULT = process.env.JOINEDUP_FAST_VALIDATION !== 'off';

/** <project root>/profiles, found from this module's location so it works from any working directory. */
export const DEFAULT_PROFILES_DIR = fileURLToPath(new URL('../../../profiles/', import.meta.url));

/**
 * Creates the validator run on every write. All files are read and parsed
 * here or on first use, never per call: profiles once per profile, value set
 * expansions once per value set.
 */
export function createValidator(options?: ValidatorOptions): ResourceValidator & { readonly registry: ProfileRegistry } {
  loadBaseSchema();
  const registry = ProfileRegistry.load(options?.profilesDir ?? DEFAULT_PROFILES_DIR);
  const terminology = new Terminology(registry.terminology);

  const fastValidation = options?.fastValidation ?? FAST_VALIDATION_DEFAULT;

  function validate(resource: Resource): OperationOutcomeIssue[] {
    const shapeProblem = checkShape(resource);
    if (shapeProblem) {
      return [shapeProblem];
    }
    const selection = registry.select(resource);
    if (fastValidation) {
      try {
        const issues = validateWith(resource, selection, true);
        if (issues) {
          return issues;
        }
      } catch {
        // The fast path itself failed: validate fully, as without it.
      }
    }
    return validateWith(resource, selection, false)!;
  }

  /**
   * @medplum/core's structural validation for every profile (each profile's
   * snapshot includes the base definition, so no separate base pass), then
   * our own checks. With `fast`, the fast path stands in for @medplum/core
   * wherever it can vouch that medplum would report nothing (and collect the
   * same required-binding values); undefined then means "validate fully": a
   * required binding failed after a fast accept, so its issue must come out
   * exactly as before.
   */
  function validateWith(resource: Resource, selection: ProfileSelection, fast: boolean): OperationOutcomeIssue[] | undefined {
    const issues = [...selection.issues];
    const tokens: CollectedTokens = {};
    let fastAccepted = false;
    const structure = (profile: LoadedProfile | undefined): void => {
      const collected = fast ? fastValidate(resource, profile?.schema) : undefined;
      if (collected) {
        appendTokens(tokens, collected);
        fastAccepted = true;
      } else {
        issues.push(...validateStructure(resource, profile?.schema, tokens));
      }
    };
    if (selection.profiles.length === 0) {
      structure(undefined);
    }
    for (const profile of selection.profiles) {
      structure(profile);
      issues.push(...checkSliceChildren(resource, profile));
    }
    const bindingIssues = checkRequiredBindings(tokens, terminology);
    if (bindingIssues.length > 0 && fastAccepted) {
      return undefined;
    }
    issues.push(...bindingIssues);
    issues.push(...checkIdentifiers(resource, terminology));
    return dedupe(issues);
  }

  return {
    registry,
    validate(resource) {
      try {
        return validate(resource);
      } catch (err) {
        return [
          {
            severity: 'error',
            code: 'exception',
            details: { text: `Validation failed: ${err instanceof Error ? err.message : String(err)}` },
            expression: [typeof resource?.resourceType === 'string' ? resource.resourceType : 'Resource'],
          },
        ];
      }
    },
  };
}

function checkShape(resource: unknown): OperationOutcomeIssue | undefined {
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    return structureError('A resource must be a JSON object', 'Resource');
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') {
    return structureError('Missing resourceType', 'Resource.resourceType');
  }
  if (!isResourceType(type)) {
    return structureError(`Unknown resourceType '${type}'`, 'Resource.resourceType');
  }
  return undefined;
}

function structureError(text: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'structure', details: { text }, expression: [expression] };
}

/** Two profiles validating the same base elements report the same base problems; keep one of each. */
function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.severity}|${issue.code}|${issue.expression?.join(',')}|${issue.details?.text}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}
