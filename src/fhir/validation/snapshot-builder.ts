import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** Looks up a base R4 StructureDefinition (resource or datatype) by canonical URL. */
export type DefinitionLookup = (url: string) => StructureDefinition | undefined;

const R4_SD_BASE = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * Generates the snapshot of a profile whose differential constrains a base R4
 * type directly (baseDefinition = http://hl7.org/fhir/StructureDefinition/<Type>).
 *
 * This is deliberately a small subset of the FHIR snapshot algorithm: it
 * covers the constructs our profiles use (cardinality, fixed/pattern values,
 * bindings, type narrowing, added constraints, documentation, slicing and
 * slices with children, including nested slices) and fails loudly on anything
 * else, so an unsupported construct can never produce a silently wrong profile.
 *
 * Rules, applied to each differential element in order:
 * - An element whose id exists in the snapshot is merged: `constraint` entries
 *   are appended (with `source` = the profile URL), every other property
 *   replaces the base value, and a new fixed[x]/pattern[x] replaces any old one.
 * - A slice (`path:sliceName`) is cloned from the element it slices (without
 *   its `slicing`) and inserted after that element's existing children and slices.
 * - A child of an element without children in the snapshot unfolds that element
 *   first: from the base backbone element when the parent is a slice of one,
 *   otherwise from the snapshot of the parent's (single) datatype, re-pathed.
 */
export function buildSnapshot(profile: StructureDefinition, lookup: DefinitionLookup): StructureDefinition {
  const url = required(profile.url, 'url');
  const baseUrl = required(profile.baseDefinition, 'baseDefinition');
  const base = lookup(baseUrl);
  if (!base?.snapshot?.element?.length) {
    throw new Error(`${url}: base definition ${baseUrl} not found or has no snapshot`);
  }
  if (base.type !== profile.type) {
    throw new Error(`${url}: type ${profile.type} does not match base type ${base.type}`);
  }
  if (profile.derivation !== 'constraint') {
    throw new Error(`${url}: derivation must be 'constraint'`);
  }
  const diff = profile.differential?.element;
  if (!diff?.length) {
    throw new Error(`${url}: differential is empty`);
  }

  const snapshot = new Snapshot(structuredClone(base.snapshot.element), lookup, url);
  for (const element of diff) {
    snapshot.apply(element);
  }
  snapshot.checkUniqueIds();

  const { snapshot: _ignored, ...rest } = profile;
  return { ...rest, snapshot: { element: snapshot.elements } };
}

class Snapshot {
  constructor(
    readonly elements: ElementDefinition[],
    private readonly lookup: DefinitionLookup,
    private readonly profileUrl: string
  ) {}

  apply(diff: ElementDefinition): void {
    const id = required(diff.id, 'differential element id');
    const target = this.elements[this.ensure(id)] as ElementDefinition;
    if (diff.path !== undefined && diff.path !== target.path) {
      throw new Error(`${this.profileUrl}: element ${id} has path ${diff.path}, expected ${target.path}`);
    }
    if (diff.sliceName !== undefined && diff.sliceName !== target.sliceName) {
      throw new Error(`${this.profileUrl}: element ${id} has sliceName ${diff.sliceName}, expected ${target.sliceName}`);
    }
    this.checkNarrowing(id, target, diff);
    merge(target, diff, this.profileUrl);
  }

  checkUniqueIds(): void {
    const seen = new Set<string>();
    for (const element of this.elements) {
      if (seen.has(element.id as string)) {
        throw new Error(`${this.profileUrl}: duplicate element id ${element.id}`);
      }
      seen.add(element.id as string);
    }
  }

  /** Index of the element with `id`, creating it (and its ancestors) when it is a slice or an unfoldable child. */
  private ensure(id: string): number {
    const existing = this.indexOf(id);
    if (existing >= 0) {
      return existing;
    }
    const { parentId, name, sliceName } = splitId(id);
    if (parentId === undefined) {
      throw new Error(`${this.profileUrl}: unknown root element ${id}`);
    }
    if (sliceName !== undefined) {
      return this.addSlice(id, `${parentId}.${name}`, sliceName);
    }
    const parentIndex = this.ensure(parentId);
    if (!this.hasChildren(parentId)) {
      this.unfold(parentIndex);
    }
    const index = this.indexOf(id);
    if (index < 0) {
      throw new Error(`${this.profileUrl}: unknown element ${id}`);
    }
    return index;
  }

  private addSlice(id: string, slicedId: string, sliceName: string): number {
    const slicedIndex = this.ensure(slicedId);
    const sliced = this.elements[slicedIndex] as ElementDefinition;
    if (!sliced.slicing) {
      throw new Error(`${this.profileUrl}: slice ${id} declared before slicing on ${slicedId}`);
    }
    const { slicing: _slicing, ...rest } = structuredClone(sliced);
    const slice: ElementDefinition = { ...rest, id, sliceName };
    const at = this.endOfSubtree(slicedIndex);
    this.elements.splice(at, 0, slice);
    return at;
  }

  private unfold(parentIndex: number): void {
    const parent = this.elements[parentIndex] as ElementDefinition;
    const parentId = parent.id as string;
    if (parent.contentReference) {
      throw new Error(`${this.profileUrl}: cannot unfold ${parentId}: contentReference is not supported`);
    }
    const children = this.backboneChildren(parentId) ?? this.datatypeChildren(parent);
    this.elements.splice(parentIndex + 1, 0, ...children);
  }

  /** For a slice of a backbone element: copies of the backbone's children under the slice. */
  private backboneChildren(sliceId: string): ElementDefinition[] | undefined {
    const unsliced = sliceId.replace(/:[^.]*$/, '');
    if (unsliced === sliceId) {
      return undefined;
    }
    const start = this.indexOf(unsliced);
    const prefix = unsliced + '.';
    const children: ElementDefinition[] = [];
    for (let i = start + 1; i < this.elements.length; i++) {
      const element = this.elements[i] as ElementDefinition;
      const elementId = element.id as string;
      if (!elementId.startsWith(prefix)) {
        if (elementId.startsWith(unsliced + ':')) {
          continue;
        }
        break;
      }
      children.push({ ...structuredClone(element), id: sliceId + elementId.slice(unsliced.length) });
    }
    return children.length > 0 ? children : undefined;
  }

  private datatypeChildren(parent: ElementDefinition): ElementDefinition[] {
    const codes = (parent.type ?? []).map((t) => t.code);
    if (codes.length !== 1) {
      throw new Error(
        `${this.profileUrl}: cannot unfold ${parent.id}: needs exactly one type, has ${codes.join(', ') || 'none'}`
      );
    }
    const code = codes[0] as string;
    const datatype = this.lookup(R4_SD_BASE + code);
    const elements = datatype?.snapshot?.element;
    if (!elements?.length) {
      throw new Error(`${this.profileUrl}: cannot unfold ${parent.id}: no snapshot for type ${code}`);
    }
    const rootPath = elements[0]?.path as string;
    return elements.slice(1).map((element) => ({
      ...structuredClone(element),
      id: (parent.id as string) + (element.id as string).slice(rootPath.length),
      path: (parent.path as string) + (element.path as string).slice(rootPath.length),
    }));
  }

  private checkNarrowing(id: string, target: ElementDefinition, diff: ElementDefinition): void {
    if (diff.min !== undefined && diff.min < (target.min ?? 0) && target.sliceName === undefined) {
      throw new Error(`${this.profileUrl}: ${id} min ${diff.min} is below base min ${target.min}`);
    }
    if (diff.max !== undefined && cardinality(diff.max) > cardinality(target.max ?? '*')) {
      throw new Error(`${this.profileUrl}: ${id} max ${diff.max} exceeds base max ${target.max}`);
    }
    if (diff.type) {
      const allowed = new Set((target.type ?? []).map((t) => t.code));
      for (const t of diff.type) {
        if (!allowed.has(t.code)) {
          throw new Error(`${this.profileUrl}: ${id} type ${t.code} is not allowed by the base`);
        }
      }
    }
  }

  private hasChildren(id: string): boolean {
    const index = this.indexOf(id);
    return (this.elements[index + 1]?.id as string | undefined)?.startsWith(id + '.') ?? false;
  }

  /** Index just past `index`'s descendants and slices. */
  private endOfSubtree(index: number): number {
    const id = this.elements[index]?.id as string;
    let end = index + 1;
    while (end < this.elements.length) {
      const next = this.elements[end]?.id as string;
      if (!next.startsWith(id + '.') && !next.startsWith(id + ':')) {
        break;
      }
      end++;
    }
    return end;
  }

  private indexOf(id: string): number {
    return this.elements.findIndex((e) => e.id === id);
  }
}

function merge(target: ElementDefinition, diff: ElementDefinition, profileUrl: string): void {
  const record = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'id' || key === 'path' || value === undefined) {
      continue;
    }
    if (key === 'constraint') {
      const added = (value as NonNullable<ElementDefinition['constraint']>).map((c) => ({
        ...structuredClone(c),
        source: c.source ?? profileUrl,
      }));
      target.constraint = [...(target.constraint ?? []), ...added];
      continue;
    }
    if (key.startsWith('fixed') || key.startsWith('pattern')) {
      for (const old of Object.keys(record)) {
        if (old.startsWith('fixed') || old.startsWith('pattern')) {
          delete record[old];
        }
      }
    }
    record[key] = structuredClone(value);
  }
}

/** Splits `A.b:s.c:t` into parent `A.b:s`, name `c`, slice `t`. */
function splitId(id: string): { parentId: string | undefined; name: string; sliceName: string | undefined } {
  const dot = id.lastIndexOf('.');
  const last = dot < 0 ? id : id.slice(dot + 1);
  const colon = last.indexOf(':');
  return {
    parentId: dot < 0 ? undefined : id.slice(0, dot),
    name: colon < 0 ? last : last.slice(0, colon),
    sliceName: colon < 0 ? undefined : last.slice(colon + 1),
  };
}

function cardinality(max: string): number {
  return max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null || value === '') {
    throw new Error(`StructureDefinition is missing ${what}`);
  }
  return value;
}
