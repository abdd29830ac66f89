import { tryGetDataType } from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema } from '@medplum/core';

/**
 * Serialises a FHIR resource so that the same content always yields the same
 * bytes: object keys follow the element order of the FHIR definition (the
 * order the spec and most tools print), unknown keys follow alphabetically,
 * and the text is 2-space indented with a trailing newline.
 *
 * Ordering by definition rather than alphabetically keeps committed profiles
 * readable (id, path, short, ... rather than alias, base, binding, ...) while
 * still making the output independent of how the source JSON was written.
 *
 * Requires the base schema to be loaded (see loadBaseSchema).
 */
export function canonicalJson(resource: unknown): string {
  const rootType = isObject(resource) && typeof resource.resourceType === 'string' ? resource.resourceType : undefined;
  return JSON.stringify(reorder(resource, rootType), undefined, 2) + '\n';
}

function reorder(value: unknown, typeName: string | undefined): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => reorder(item, typeName));
  }
  if (!isObject(value)) {
    return value;
  }
  if (typeof value.resourceType === 'string') {
    // Contained or inline resources carry their own type.
    typeName = value.resourceType;
  }
  const schema = typeName ? tryGetDataType(typeName) : undefined;
  const ranked = Object.keys(value).map((key) => ({ key, ...rank(key, schema) }));
  ranked.sort((a, b) => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: Record<string, unknown> = {};
  for (const { key, childType } of ranked) {
    out[key] = reorder(value[key], childType);
  }
  return out;
}

interface Rank {
  rank: number;
  childType: string | undefined;
}

function rank(key: string, schema: InternalTypeSchema | undefined): Rank {
  if (key === 'resourceType') {
    return { rank: -1, childType: undefined };
  }
  const unknown = { rank: Number.MAX_SAFE_INTEGER, childType: undefined };
  if (!schema) {
    return unknown;
  }
  // A primitive's extension object (`_birthDate`) sits right after the value.
  const isPrimitiveExtension = key.startsWith('_');
  const name = isPrimitiveExtension ? key.slice(1) : key;
  const names = Object.keys(schema.elements);
  for (let i = 0; i < names.length; i++) {
    const elementName = names[i] as string;
    const element = schema.elements[elementName] as InternalSchemaElement;
    const childType = matchElement(name, elementName, element);
    if (childType !== undefined) {
      return {
        rank: i * 2 + (isPrimitiveExtension ? 1 : 0),
        childType: isPrimitiveExtension ? 'Element' : childType,
      };
    }
  }
  return unknown;
}

/** The type of `key`'s value when `key` is the JSON name of `elementName`, else undefined. */
function matchElement(key: string, elementName: string, element: InternalSchemaElement): string | undefined {
  if (key === elementName) {
    return element.type[0]?.code ?? '';
  }
  if (elementName.endsWith('[x]')) {
    const stem = elementName.slice(0, -3);
    if (key.startsWith(stem)) {
      const suffix = key.slice(stem.length);
      const type = element.type.find((t) => t.code.toLowerCase() === suffix.toLowerCase());
      if (type) {
        return type.code;
      }
    }
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
