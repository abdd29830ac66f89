import type { OperationOutcomeIssue, Provenance, Resource } from '@medplum/fhirtypes';
import { createValidator } from '../fhir/validation/validator.ts';
import type { ResourceValidator } from '../fhir/validation/validator.ts';
import { MappingError, issue } from './errors.ts';
import { deterministicId } from './ids.ts';
import { getMappingRegistry } from './mapping-registry.ts';
import type { CompiledMapping, MappingRegistry } from './mapping-registry.ts';
import { buildProvenance } from './provenance.ts';
import { evaluateTemplate, run } from './template.ts';
import type { EvalScope, EvalServices, Expr } from './template.ts';

/** The format a record is in when the caller does not say. */
export const DEFAULT_FORMAT = 'council-v1';

export interface MapContext {
  /** ODS code of the council (from the authenticated client, never from the record). */
  councilOds: string;
  /** When the gateway received the record (FHIR instant); stamped into Provenance.recorded. */
  receivedAt: string;
  /** Source format (a directory of mappings/); defaults to council-v1. */
  format?: string;
}

export interface MapOptions {
  /** Defaults to the cached registry of the project's mappings/. */
  registry?: MappingRegistry;
  /** Defaults to one shared createValidator(); `false` skips validation (the caller validates, e.g. in workers). */
  validator?: ResourceValidator | false;
  /** Remember the ids made while mapping this record (default true); false hashes every request again, as before, for benchmarks. */
  memoIds?: boolean;
}

export interface MapResult {
  /** The mapped resources, in template order, each with its deterministic id. */
  resources: Resource[];
  provenance: Provenance;
  mapping: { name: string; version: string; format: string };
  /** The source identifiers read from the record. */
  source: { system: string; recordId: string; lastUpdated?: string };
}

let sharedValidator: ResourceValidator | undefined;

function defaultValidator(): ResourceValidator {
  sharedValidator ??= createValidator();
  return sharedValidator;
}

/**
 * Maps one source record to FHIR with the mapping for (format, recordType):
 * evaluates its templates, builds the Provenance, and validates every resource
 * (Provenance included). Throws MappingError listing every problem: input
 * problems and unknown codes at their input path, validation problems at
 * their FHIRPath in the resource. Pure: reads no files after the first call
 * and stores nothing.
 */
export function mapRecord(record: unknown, recordType: string, ctx: MapContext, options: MapOptions = {}): MapResult {
  const registry = options.registry ?? getMappingRegistry();
  const format = ctx.format ?? DEFAULT_FORMAT;
  const mapping = registry.get(format, recordType);
  if (!mapping) {
    const known = registry.recordTypes(format);
    throw new MappingError('mapping', [
      issue(
        'not-supported',
        known.length > 0
          ? `No mapping for record type '${recordType}' in format '${format}' (known: ${known.join(', ')})`
          : `Unknown source format '${format}' (known: ${registry.formats().join(', ')})`,
        'recordType',
      ),
    ]);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new MappingError('input', [issue('structure', 'A record must be a JSON object', '$')]);
  }

  const issues: OperationOutcomeIssue[] = [];
  const env: Record<string, unknown> = { ctx: { councilOds: ctx.councilOds, receivedAt: ctx.receivedAt } };
  const scope: EvalScope = { record, env };
  const services: EvalServices = {
    conceptMaps: registry.conceptMaps,
    issues,
    id: () => '',
  };

  const required = (e: Expr, what: string): string | undefined => {
    const values = run(e, scope, services);
    if (values.length === 0 || values[0] === '' || values[0] === null) {
      issues.push(issue('required', `Missing ${what} ('${e.src}')`, e.src));
      return undefined;
    }
    if (values.length > 1 || typeof values[0] === 'object') {
      issues.push(issue('structure', `${what} ('${e.src}') must be a single value`, e.src));
      return undefined;
    }
    return String(values[0]);
  };

  const system = required(mapping.source.system, 'source system');
  const recordId = required(mapping.source.recordId, 'source record id');
  const lastUpdated = mapping.source.lastUpdated ? required(mapping.source.lastUpdated, 'source last-updated time') : undefined;
  for (const r of mapping.require) {
    if (run(r.expr, scope, services).length === 0) {
      issues.push(issue('required', `Missing ${r.description ?? 'required value'} ('${r.expr.src}')`, r.expr.src));
    }
  }
  // The key is usually also in `require`, with a better description: report each path once.
  const reported = issues.length;
  const key = required(mapping.key, 'identifier');
  if (issues.length > reported && issues.slice(0, reported).some((i) => i.expression?.[0] === mapping.key.src)) {
    issues.pop();
  }
  if (system === undefined || recordId === undefined || key === undefined || issues.length > 0) {
    throw new MappingError('input', issues);
  }

  const source = { system, recordId, ...(lastUpdated !== undefined ? { lastUpdated } : {}) };
  env.source = source;
  env.key = key;
  scope.defaultKey = key;
  const idCache = options.memoIds === false ? undefined : new Map<string, string>();
  services.id = (req) =>
    deterministicId({
      councilOds: ctx.councilOds,
      sourceSystem: system,
      key: req.key,
      resourceType: req.type,
      ...(req.kind !== undefined ? { kind: req.kind } : {}),
      ...(req.index !== undefined ? { index: req.index } : {}),
    }, idCache);

  const resources = evaluateResources(mapping, scope, services);
  if (issues.length > 0) {
    throw new MappingError(issues.every((i) => i.code === 'code-invalid') ? 'code' : 'input', issues);
  }

  const provenance = buildProvenance({
    councilOds: ctx.councilOds,
    receivedAt: ctx.receivedAt,
    recordType,
    source,
    mapping: { format: mapping.format, name: mapping.name, version: mapping.version },
    resources,
  });

  const validator = options.validator === undefined ? defaultValidator() : options.validator;
  if (validator) {
    const problems: OperationOutcomeIssue[] = [];
    for (const resource of [...resources, provenance]) {
      for (const found of validator.validate(resource)) {
        if (found.severity === 'error' || found.severity === 'fatal') {
          problems.push({ ...found, diagnostics: `${resource.resourceType}/${resource.id}` });
        }
      }
    }
    if (problems.length > 0) {
      throw new MappingError('validation', problems);
    }
  }

  return { resources, provenance, mapping: { name: mapping.name, version: mapping.version, format: mapping.format }, source };
}

function evaluateResources(mapping: CompiledMapping, scope: EvalScope, services: EvalServices): Resource[] {
  const out: Resource[] = [];
  const seen = new Set<string>();
  mapping.resources.forEach((template, i) => {
    const value = evaluateTemplate(template, scope, services);
    const produced = value === undefined ? [] : Array.isArray(value) ? value : [value];
    for (const resource of produced as Resource[]) {
      if (typeof resource?.id !== 'string') {
        // Only reachable when an id key was absent, which evaluation has already reported.
        if (services.issues.length === 0) {
          services.issues.push(issue('processing', `Template resources[${i}] produced a ${template.resourceType} without an id`, `resources[${i}]`));
        }
        continue;
      }
      const ref = `${resource.resourceType}/${resource.id}`;
      if (seen.has(ref)) {
        services.issues.push(issue('duplicate', `Two resources map to ${ref}: give their $id a distinct kind, key or index`, `resources[${i}]`));
        continue;
      }
      seen.add(ref);
      out.push(resource);
    }
  });
  return out;
}
