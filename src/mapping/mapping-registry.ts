import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConceptMaps } from './concept-maps.ts';
import { compileExpr, compileTemplate } from './template.ts';
import type { CompileOptions, CompiledTemplate, Expr } from './template.ts';

/** <project root>/mappings, found from this module's location. */
export const DEFAULT_MAPPINGS_DIR = fileURLToPath(new URL('../../mappings/', import.meta.url));

/** Directories of mappings/ that hold shared data rather than a source format. */
export const RESERVED_DIRS = new Set(['conceptmaps', 'codesystems']);

const expression = z.string().min(1);

/** The shape of a mapping file, mappings/<format>/<recordType>.json. */
export const mappingFileSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and hyphens'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version, e.g. 1.0.0'),
  format: z.string().min(1),
  recordType: z.string().min(1),
  description: z.string().optional(),
  /** Where the record says which system it came from, its id there and when it last changed. */
  source: z.strictObject({ system: expression, recordId: expression, lastUpdated: expression.optional() }),
  /** The source identifier ids derive from by default (e.g. the council person id). */
  key: expression,
  /** Values that must be present: a missing one refuses the record with its path. */
  require: z.array(z.strictObject({ path: expression, description: z.string().optional() })).default([]),
  /** One template per produced resource (a template with $forEach may produce several). */
  resources: z
    .array(z.record(z.string(), z.unknown()).refine((t) => typeof t.resourceType === 'string', 'each template needs a literal resourceType')
        .refine((t) => 'id' in t, 'each template needs an id (usually {"$id": {}})'))
    .min(1),
});

export type MappingFile = z.infer<typeof mappingFileSchema>;

export interface CompiledMapping {
  readonly name: string;
  readonly version: string;
  readonly format: string;
  readonly recordType: string;
  readonly file: string;
  readonly source: { system: Expr; recordId: Expr; lastUpdated?: Expr };
  readonly key: Expr;
  readonly require: { expr: Expr; description?: string }[];
  readonly resources: CompiledTemplate[];
}

export class MappingLoadError extends Error {}

/**
 * Every mapping under a mappings directory, compiled once. A source format is
 * a directory (mappings/<format>/); a record type is a file in it. Adding a
 * format or a record type is adding files: nothing in src/ lists them.
 */
export class MappingRegistry {
  private readonly byFormat = new Map<string, Map<string, CompiledMapping>>();

  private constructor(
    readonly dir: string,
    readonly conceptMaps: ConceptMaps,
  ) {}

  /** `options` say how expressions are compiled (template.ts CompileOptions); the defaults are what the gateway uses. */
  static load(dir: string = DEFAULT_MAPPINGS_DIR, options: CompileOptions = {}): MappingRegistry {
    const conceptDir = join(dir, 'conceptmaps');
    const maps = existsSync(conceptDir) ? ConceptMaps.loadDir(conceptDir) : new ConceptMaps();
    const registry = new MappingRegistry(dir, maps);
    for (const entry of readdirSync(dir).sort()) {
      const formatDir = join(dir, entry);
      if (RESERVED_DIRS.has(entry) || entry.startsWith('.') || !statSync(formatDir).isDirectory()) {
        continue;
      }
      for (const file of readdirSync(formatDir).filter((f) => f.endsWith('.json')).sort()) {
        registry.add(compileMappingFile(join(formatDir, file), entry, maps, options));
      }
    }
    return registry;
  }

  private add(mapping: CompiledMapping): void {
    let formats = this.byFormat.get(mapping.format);
    if (!formats) {
      formats = new Map();
      this.byFormat.set(mapping.format, formats);
    }
    formats.set(mapping.recordType, mapping);
  }

  formats(): string[] {
    return [...this.byFormat.keys()];
  }

  recordTypes(format: string): string[] {
    return [...(this.byFormat.get(format)?.keys() ?? [])];
  }

  get(format: string, recordType: string): CompiledMapping | undefined {
    return this.byFormat.get(format)?.get(recordType);
  }
}

/** Reads, checks (zod) and compiles one mapping file; `format` is its directory name. */
export function compileMappingFile(file: string, format: string, maps: ConceptMaps, options: CompileOptions = {}): CompiledMapping {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MappingLoadError(`${file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = mappingFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MappingLoadError(`${file}: ${problems}`);
  }
  const m = parsed.data;
  const recordType = basename(file, '.json');
  if (m.format !== format) {
    throw new MappingLoadError(`${file}: format '${m.format}' does not match its directory '${format}'`);
  }
  if (m.recordType !== recordType) {
    throw new MappingLoadError(`${file}: recordType '${m.recordType}' does not match its file name '${recordType}'`);
  }
  try {
    return {
      name: m.name,
      version: m.version,
      format: m.format,
      recordType: m.recordType,
      file,
      source: {
        system: compileExpr(m.source.system, 'source.system', options),
        recordId: compileExpr(m.source.recordId, 'source.recordId', options),
        ...(m.source.lastUpdated ? { lastUpdated: compileExpr(m.source.lastUpdated, 'source.lastUpdated', options) } : {}),
      },
      key: compileExpr(m.key, 'key', options),
      require: m.require.map((r, i) => ({
        expr: compileExpr(r.path, `require[${i}].path`, options),
        ...(r.description ? { description: r.description } : {}),
      })),
      resources: m.resources.map((t, i) => compileTemplate(t, `resources[${i}]`, maps, options)),
    };
  } catch (err) {
    throw new MappingLoadError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const cache = new Map<string, MappingRegistry>();

/** The registry for a directory, loaded and compiled on first use and then cached. */
export function getMappingRegistry(dir: string = DEFAULT_MAPPINGS_DIR): MappingRegistry {
  let registry = cache.get(dir);
  if (!registry) {
    registry = MappingRegistry.load(dir);
    cache.set(dir, registry);
  }
  return registry;
}
