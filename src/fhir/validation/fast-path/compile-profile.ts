import { capitalize, getElementDefinitionFromElements, isResourceType, tryGetDataType } from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema, SlicingRules } from '@medplum/core';
import { compileInvariants } from './invariants.ts';
import type { InvariantPlan } from './invariants.ts';
import { isPrimitiveTypeCode } from './primitive-formats.ts';

/*
 * Turns a schema @medplum/core validates against into a plan the fast path
 * can follow property by property, once per (schema, type name), cached.
 *
 * medplum's crawler resolves a property's value and type with the element of
 * the *type name* (getTypedPropertyValue → the global DATA_TYPES entry for it)
 * but validates it against the element of the *schema* it is crawling (a
 * profile's own backbone types, or the base type). The plan keeps that split:
 * `names` says which JSON property holds which element as which type
 * (resolution), `property.element` is what the value is checked against.
 * Anything the plan does not model is marked unsupported, and the fast path
 * gives up when it meets it.
 */

/** One element of a schema, as the fast path checks it. */
export interface PropertyPlan {
  /** The element's key in the schema (`status`, `value[x]`); medplum builds value paths from it. */
  key: string;
  /** The element values are validated against. */
  element: InternalSchemaElement;
  /** JSON property names that can carry it, in medplum's resolution order (one unless a choice type). */
  names: string[];
  isChoice: boolean;
  invariants: InvariantPlan[];
  /** Value set of a required binding, if any (medplum collects such values as tokens). */
  bindingUrl: string | undefined;
  /** The element has a fixed[x] or pattern[x]. */
  specified: boolean;
  slicing: SlicingRules | undefined;
  /** targetProfile of the element's Reference type, if it has one. */
  referenceTargets: string[] | undefined;
}

/** Candidate JSON names of a FHIRPath symbol, and their primitive-extension (`_name`) partners, index for index. */
export interface SymbolNames {
  names: string[];
  extensionNames: string[];
}

/** What a JSON property name means in an object of a planned type. */
export interface NamePlan {
  property: PropertyPlan;
  /** The type medplum's resolution gives the value. */
  type: string;
  supported: boolean;
}

export interface ObjectPlan {
  supported: boolean;
  /** Type name used to resolve properties (a DATA_TYPES key). */
  typeName: string;
  schema: InternalTypeSchema;
  names: Map<string, NamePlan>;
  /** The planned properties by element key (`value[x]`). */
  properties: Map<string, PropertyPlan>;
  /** Elements with min > 0: absent means medplum reports "Missing required property". */
  required: PropertyPlan[];
  /** Constraints on the schema itself; medplum checks them on the root only. */
  rootInvariants: InvariantPlan[];
  /**
   * The JSON names FHIRPath's `symbol` resolves to on an object of this type,
   * in the order medplum tries them; undefined when medplum would resolve it
   * without a schema.
   */
  symbolNames(symbol: string): SymbolNames | undefined;
  /** The plan of a child value of type `type` (compiled on first use). */
  child(type: string): ObjectPlan;
}

const plans = new WeakMap<InternalTypeSchema, Map<string, ObjectPlan>>();
const UNSUPPORTED_SCHEMA: InternalTypeSchema = { name: 'unsupported', type: 'unsupported', path: '', elements: {}, innerTypes: [] };

/**
 * The plan for objects crawled with `schema` whose type name is `typeName`.
 * For a profile root, `typeName` is the name the profile is registered under
 * while validating, and resolution uses the profile's own elements.
 */
export function planFor(schema: InternalTypeSchema, typeName: string, resolveWithSchema = false): ObjectPlan {
  let byType = plans.get(schema);
  if (!byType) {
    byType = new Map();
    plans.set(schema, byType);
  }
  const cacheKey = resolveWithSchema ? `root:${typeName}` : typeName;
  let plan = byType.get(cacheKey);
  if (!plan) {
    plan = compile(schema, typeName, resolveWithSchema);
    byType.set(cacheKey, plan);
  }
  return plan;
}

function unsupportedPlan(typeName: string): ObjectPlan {
  return {
    supported: false,
    typeName,
    schema: UNSUPPORTED_SCHEMA,
    names: new Map(),
    properties: new Map(),
    required: [],
    rootInvariants: [],
    symbolNames: () => undefined,
    child: () => unsupportedPlan(typeName),
  };
}

function compile(schema: InternalTypeSchema, typeName: string, resolveWithSchema: boolean): ObjectPlan {
  const resolutionElements = resolveWithSchema ? schema.elements : tryGetDataType(typeName)?.elements;
  if (!resolutionElements) {
    return unsupportedPlan(typeName);
  }
  const resolve = (name: string): InternalSchemaElement | undefined =>
    getElementDefinitionFromElements(resolutionElements, name);

  const names = new Map<string, NamePlan>();
  const required: PropertyPlan[] = [];
  const properties = new Map<string, PropertyPlan>();
  let supported = true;
  const children = new Map<string, ObjectPlan>();
  const symbols = new Map<string, SymbolNames | null>();

  for (const [key, element] of Object.entries(schema.elements)) {
    if (key.includes('.')) {
      supported = false; // a profile constraint on a datatype's child: medplum visits it by nested lookup
      continue;
    }
    const resolved = resolve(key);
    if (!resolved?.type?.length) {
      if (element.min > 0) {
        supported = false; // never resolvable, so always missing
      }
      continue; // a JSON property of this name is then unknown to the plan, and the fast path gives up on it
    }
    const segment = resolved.path.slice(resolved.path.lastIndexOf('.') + 1);
    const isChoice = segment.endsWith('[x]');
    const stem = isChoice ? segment.slice(0, -3) : segment;
    if (segment !== key) {
      supported = false;
      continue;
    }
    const property: PropertyPlan = {
      key,
      element,
      names: [],
      isChoice,
      invariants: compileInvariants(element.constraints),
      bindingUrl: element.binding?.strength === 'required' ? element.binding.valueSet : undefined,
      specified: element.fixed !== undefined || element.pattern !== undefined,
      slicing: element.slicing,
      referenceTargets: element.type.find((t) => t.code === 'Reference')?.targetProfile,
    };
    for (const t of resolved.type) {
      const name = isChoice ? stem + capitalize(t.code) : stem;
      if (property.names.includes(name)) {
        continue; // medplum takes the first type that names the property
      }
      const type = t.code === 'Element' || t.code === 'BackboneElement' ? (resolved.type[0]?.code ?? t.code) : t.code;
      let nameSupported = type !== 'Resource' && !isResourceType(type);
      // medplum's isChoiceOfType must see the same element for this name as resolution does.
      const choiceElement = choicePrefixElement(name, schema.elements);
      if (isChoice ? choiceElement !== key || resolve(stem) !== resolved : choiceElement !== undefined) {
        nameSupported = false;
      }
      const existing = names.get(name);
      if (existing) {
        existing.supported = false;
        nameSupported = false;
      }
      property.names.push(name);
      names.set(name, { property, type, supported: nameSupported });
    }
    properties.set(key, property);
    if (element.min > 0) {
      required.push(property);
    }
  }

  const plan: ObjectPlan = {
    supported,
    typeName,
    schema,
    names,
    properties,
    required,
    rootInvariants: compileInvariants(schema.constraints),
    symbolNames(symbol: string): SymbolNames | undefined {
      let entry = symbols.get(symbol);
      if (entry === undefined) {
        const names = resolvedNames(resolve(symbol));
        entry = names ? { names, extensionNames: names.map((n) => '_' + n) } : null;
        symbols.set(symbol, entry);
      }
      return entry ?? undefined;
    },
    child(type: string): ObjectPlan {
      let childPlan = children.get(type);
      if (!childPlan) {
        // The crawler's choice: the schema's own inner type of that name, else the global type.
        const inner = schema.innerTypes?.find((t) => t.name === type);
        const childSchema = inner ?? tryGetDataType(type);
        childPlan = childSchema && !isPrimitiveTypeCode(type) ? planFor(childSchema, type) : unsupportedPlan(type);
        children.set(type, childPlan);
      }
      return childPlan;
    },
  };
  return plan;
}

/** getTypedPropertyValueWithSchema's candidate property names for `element`, in order. */
function resolvedNames(element: InternalSchemaElement | undefined): string[] | undefined {
  if (!element?.type?.length) {
    return undefined;
  }
  const segment = element.path.slice(element.path.lastIndexOf('.') + 1);
  if (!segment.endsWith('[x]')) {
    return [segment];
  }
  const stem = segment.slice(0, -3);
  return element.type.map((t) => stem + capitalize(t.code));
}

/**
 * The choice element medplum's checkAdditionalProperties (isChoiceOfType)
 * attributes JSON key `name` to: the first prefix, split before capitals,
 * that names a `[x]` element of the schema.
 */
function choicePrefixElement(name: string, elements: Record<string, InternalSchemaElement>): string | undefined {
  const parts = name.split(/(?=[A-Z])/g);
  let prefix = '';
  for (const part of parts) {
    prefix += part;
    if (elements[prefix + '[x]']) {
      return prefix + '[x]';
    }
  }
  return undefined;
}
