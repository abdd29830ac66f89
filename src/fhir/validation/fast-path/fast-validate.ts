import { arrayify, deepEquals, deepIncludes, getAllDataTypes, getNestedProperty, matchDiscriminant } from '@medplum/core';
import type { InternalTypeSchema, SlicingRules, TypedValue, TypedValueWithPath } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { planFor } from './compile-profile.ts';
import type { NamePlan, ObjectPlan, PropertyPlan } from './compile-profile.ts';
import { InvariantScope } from './invariants.ts';
import type { InvariantPlan } from './invariants.ts';
import { isPrimitiveTypeCode, isValidPrimitive } from './primitive-formats.ts';

/*
 * A sound acceptor for @medplum/core 5.2.13's validateTypedValue: walks only
 * the properties a resource has (plus each object's required elements) and
 * either answers "medplum would report nothing, and would collect these
 * required-binding values", or undefined: "not sure, ask medplum". It gives
 * up on anything its plan does not model (primitive extensions `_x`, nested
 * resources, nulls, empty values, unknown or doubled properties...) rather
 * than reason about it, so every issue still comes from medplum itself.
 */

/** A value medplum would collect for a required binding, under the binding's value set URL. */
export interface CollectedToken {
  valueSetUrl: string;
  value: TypedValueWithPath;
}

type JsonObject = Record<string, unknown>;

const HL7_BASE = 'http://hl7.org/fhir/StructureDefinition/';
const MEDPLUM_BASE = 'https://medplum.com/fhir/StructureDefinition/';

/**
 * Fast-validates `resource` against `schema` (a parsed profile) or, without
 * one, its base type. Returns the tokens medplum would collect, or undefined.
 */
export function fastValidate(resource: Resource, schema?: InternalTypeSchema): CollectedToken[] | undefined {
  if (!schema) {
    const base = getAllDataTypes()[resource.resourceType];
    return base ? walkResource(resource, base, resource.resourceType, false) : undefined;
  }
  // As validateWithParsedProfile: the root's type name is the profile registered under a private key,
  // which root invariants (and %rootResource) resolve properties through.
  const key = `joinedup-profile:${schema.url}`;
  const dataTypes = getAllDataTypes();
  dataTypes[key] = schema;
  try {
    return walkResource(resource, schema, key, true);
  } finally {
    delete dataTypes[key];
  }
}

function walkResource(
  resource: Resource,
  schema: InternalTypeSchema,
  typeName: string,
  isProfile: boolean
): CollectedToken[] | undefined {
  const plan = planFor(schema, typeName, isProfile);
  const root: TypedValue = { type: typeName, value: resource };
  const walker = new Walker(resource as unknown as JsonObject, root);
  const rootValue: TypedValueWithPath = { type: typeName, value: resource, path: schema.path };
  for (const invariant of plan.rootInvariants) {
    if (!walker.invariantHolds(invariant, rootValue, plan)) {
      return undefined;
    }
  }
  return walker.object(resource as unknown as JsonObject, plan, schema.path) ? walker.tokens : undefined;
}

class Walker {
  readonly tokens: CollectedToken[] = [];
  private readonly scope: InvariantScope;

  constructor(
    private readonly resource: JsonObject,
    root: TypedValue
  ) {
    this.scope = new InvariantScope(resource, root);
  }

  /** One object crawled with `plan`: every property known and valid, every required one present. */
  object(obj: JsonObject, plan: ObjectPlan, path: string): boolean {
    if (!plan.supported) {
      return false;
    }
    for (const key of Object.keys(obj)) {
      if (key === 'resourceType') {
        if (obj !== this.resource) {
          return false; // a nested resource: medplum changes %resource there
        }
        continue;
      }
      const name = plan.names.get(key);
      if (!name?.supported) {
        return false; // unknown, a primitive extension, or something the plan does not model
      }
      if (name.property.isChoice && presentCount(obj, name.property) !== 1) {
        return false; // two types of one choice element: medplum warns
      }
      if (!this.property(obj[key], name, plan, path)) {
        return false;
      }
    }
    for (const property of plan.required) {
      if (presentCount(obj, property) === 0) {
        return false;
      }
    }
    return true;
  }

  private property(raw: unknown, name: NamePlan, plan: ObjectPlan, parentPath: string): boolean {
    const { property, type } = name;
    const element = property.element;
    let items: unknown[];
    if (Array.isArray(raw)) {
      if (!element.isArray || raw.length === 0) {
        return false;
      }
      items = raw;
    } else {
      if (element.isArray || raw === null || raw === undefined || raw === '') {
        return false;
      }
      items = [raw];
    }
    if (items.length < element.min || items.length > element.max) {
      return false;
    }
    const isArray = Array.isArray(raw);
    const basePath = `${parentPath}.${property.key}`;
    const values: TypedValueWithPath[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === null || item === undefined || Array.isArray(item)) {
        return false;
      }
      values.push({ type, value: item, path: isArray ? `${basePath}[${i}]` : basePath });
    }
    if (property.specified && !matchesSpecifiedValue(isArray ? values : values[0]!, property)) {
      return false;
    }
    const primitive = isPrimitiveTypeCode(type);
    const childPlan = primitive ? undefined : plan.child(type);
    for (const value of values) {
      for (const invariant of property.invariants) {
        if (!this.invariantHolds(invariant, value, childPlan)) {
          return false;
        }
      }
      if (type === 'Reference' && !referenceTypeOk(value.value, property)) {
        return false;
      }
      if (primitive) {
        if (!isValidPrimitive(type, value.value)) {
          return false;
        }
      } else {
        const child = value.value;
        if (typeof child !== 'object' || isEmptyObject(child as JsonObject)) {
          return false;
        }
        if (!this.object(child as JsonObject, childPlan!, value.path)) {
          return false;
        }
      }
      if (property.bindingUrl !== undefined && isTerminologyType(type)) {
        this.tokens.push({ valueSetUrl: property.bindingUrl, value });
      }
    }
    return property.slicing === undefined || slicesOk(values, property.slicing);
  }

  invariantHolds(invariant: InvariantPlan, value: TypedValueWithPath, plan: ObjectPlan | undefined): boolean {
    return this.scope.holds(invariant, value, plan);
  }
}

/** How many of a property's JSON names the object has (medplum resolves the first, in type order). */
function presentCount(obj: JsonObject, property: PropertyPlan): number {
  let n = 0;
  for (const name of property.names) {
    if (obj[name] !== undefined) {
      n++;
    }
  }
  return n;
}

function isEmptyObject(obj: JsonObject): boolean {
  for (const _ in obj) {
    return false;
  }
  return true;
}

/** medplum's matchesSpecifiedValue, on the same {type, value} shapes. */
function matchesSpecifiedValue(value: TypedValue | TypedValue[], property: PropertyPlan): boolean {
  const typeAndValue = Array.isArray(value)
    ? value.map((v) => ({ type: v.type, value: v.value }))
    : { type: value.type, value: value.value };
  const { pattern, fixed } = property.element;
  if (pattern && !deepIncludes(typeAndValue, pattern)) {
    return false;
  }
  if (fixed && !deepEquals(typeAndValue, fixed)) {
    return false;
  }
  return true;
}

/** medplum's checkSliceElement + validateSlices: each value's first matching slice, then each slice's count. */
function slicesOk(values: TypedValueWithPath[], slicing: SlicingRules): boolean {
  const counts = new Map<string, number>(slicing.slices.map((s) => [s.name, 0]));
  for (const value of values) {
    const slice = slicing.slices.find((s) =>
      slicing.discriminator.every((d) =>
        arrayify(getNestedProperty(value, d.path))?.some((v) => matchDiscriminant(v, d, s))
      )
    );
    if (slice) {
      counts.set(slice.name, (counts.get(slice.name) ?? 0) + 1);
    }
  }
  return slicing.slices.every((s) => {
    const n = counts.get(s.name) ?? 0;
    return n >= s.min && n <= s.max;
  });
}

/** medplum's referenceTypeCheck: false where it would warn. */
function referenceTypeOk(reference: unknown, property: PropertyPlan): boolean {
  const ref = (reference as { reference?: unknown }).reference;
  if (typeof ref !== 'string' || ref.startsWith('#')) {
    return true;
  }
  const resourceType = ref.includes('?') ? ref.split('?')[0] : ref.split('/')[0];
  if (!resourceType) {
    return true;
  }
  if (ref === 'system' && property.element.path === 'AuditEvent.agent.who') {
    return true;
  }
  const targets = property.referenceTargets;
  if (!targets) {
    return true;
  }
  for (const target of targets) {
    if (target === HL7_BASE + 'Resource' || target === HL7_BASE + resourceType || target === MEDPLUM_BASE + resourceType) {
      return true;
    }
    if (!target.startsWith(HL7_BASE) && !target.startsWith(MEDPLUM_BASE)) {
      return true;
    }
  }
  return false;
}

/** medplum's isTerminologyType. */
function isTerminologyType(type: string): boolean {
  return (
    type === 'CodeableConcept' ||
    type === 'Coding' ||
    type === 'code' ||
    type === 'Quantity' ||
    type === 'string' ||
    type === 'uri'
  );
}
