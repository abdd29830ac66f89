import {
  AndAtom,
  DotAtom,
  EqualsAtom,
  FhirPathAtom,
  FunctionAtom,
  IsAtom,
  LiteralAtom,
  NotEqualsAtom,
  SymbolAtom,
  UnionAtom,
  capitalize,
  fhirPathIs,
  getElementDefinition,
  removeDuplicates,
} from '@medplum/core';
import type { Atom, TypedValue } from '@medplum/core';

/**
 * Direct JSON walkers for search parameter expressions, so indexing a resource
 * does not run the FHIRPath engine for the common cases. Most indexed
 * expressions are plain member paths (`CarePlan.subject`, `Task.meta.tag`),
 * sometimes with `.where(resolve() is Patient)`, `.where(system = 'phone')`,
 * `.ofType(T)` or a `|` union; evaluating those with evalFhirPathTyped cost
 * about as much per stored resource as everything else in indexing together.
 *
 * A walker gives the same TypedValues (type and value; not medplum's `path`
 * bookkeeping, which indexing never reads) as evalFhirPathTyped over
 * `[toTypedValue(resource)]`, by reproducing what @medplum/core 5.x does for
 * each step: the element definition of the member in the input's type picks
 * the JSON key (choice types in the schema's type order) and the result type;
 * empty values ('', {}, [], null) are dropped. Whenever the data is not plain
 * JSON of the expected shape (a `_member` primitive extension, null inside an
 * array, a primitive where an object should be, an inline Reference.resource,
 * a union over objects that would need medplum's path-aware deduplication...)
 * the walker answers `undefined`, and the caller evaluates the expression
 * with FHIRPath: results there are FHIRPath's own. index-paths.test.ts
 * compares the two on every indexed parameter of the imported types.
 */

/**
 * TypedValues the expression gives over `[root]` (root = toTypedValue(resource)),
 * or undefined: "not sure, ask FHIRPath".
 */
export type IndexPathWalker = (root: TypedValue) => TypedValue[] | undefined;

type Fn = (items: TypedValue[]) => TypedValue[] | undefined;

interface Compiled {
  fn: Fn;
  /** The type every item it gives has, when known at compile time (needed to compile a member step after it). */
  type?: string;
}

/** fhirPathIs() treats these names by shape rather than by type name. */
const STRUCTURAL_TYPES = new Set(['Boolean', 'Decimal', 'Integer', 'Date', 'DateTime', 'Time', 'Period', 'Quantity']);

/** The walker for a parsed search parameter expression over `resourceType`, or undefined when it has no walker. */
export function compileIndexPath(resourceType: string, expression: Atom): IndexPathWalker | undefined {
  const root = expression instanceof FhirPathAtom ? expression.child : expression;
  const compiled = compile(root, resourceType, resourceType);
  if (!compiled) {
    return undefined;
  }
  const fn = compiled.fn;
  return (root) => fn([root]);
}

function compile(atom: Atom, inType: string | undefined, resourceType: string): Compiled | undefined {
  if (atom instanceof DotAtom) {
    const left = compile(atom.left, inType, resourceType);
    const right = left && compile(atom.right, left.type, resourceType);
    if (!left || !right) {
      return undefined;
    }
    const l = left.fn;
    const r = right.fn;
    return {
      fn: (items) => {
        const mid = l(items);
        return mid === undefined ? undefined : mid.length === 0 ? mid : r(mid);
      },
      ...(right.type !== undefined ? { type: right.type } : {}),
    };
  }
  if (atom instanceof SymbolAtom) {
    if (atom.name.startsWith('%') || atom.name.startsWith('$') || inType === undefined) {
      return undefined;
    }
    if (atom.name === resourceType && inType === resourceType) {
      // The resource itself (medplum's SymbolAtom answers a resource of that type with itself).
      return { fn: rootStep(resourceType), type: resourceType };
    }
    return memberStep(inType, atom.name);
  }
  if (atom instanceof UnionAtom) {
    const left = compile(atom.left, inType, resourceType);
    const right = compile(atom.right, inType, resourceType);
    if (!left || !right) {
      return undefined;
    }
    return { fn: union(left.fn, right.fn), ...(left.type !== undefined && left.type === right.type ? { type: left.type } : {}) };
  }
  if (atom instanceof FunctionAtom) {
    return compileFunction(atom, inType, resourceType);
  }
  if (atom instanceof AndAtom) {
    return compileNotFalse(atom, inType, resourceType);
  }
  return undefined;
}

function rootStep(resourceType: string): Fn {
  return (items) => {
    for (const item of items) {
      const v = item.value as { resourceType?: unknown } | null;
      if (item.type !== resourceType || typeof v !== 'object' || v === null || v.resourceType !== resourceType) {
        return undefined;
      }
    }
    return items;
  };
}

interface Candidate {
  key: string;
  extKey: string;
  type: string;
}

/** A member of the input items: medplum's getTypedPropertyValueWithSchema, for plain JSON only. */
function memberStep(inType: string, name: string): Compiled | undefined {
  const element = getElementDefinition(inType, name);
  const types = element?.type;
  if (!element || !types || types.length === 0) {
    return undefined;
  }
  const last = element.path.slice(element.path.lastIndexOf('.') + 1);
  const choice = last.endsWith('[x]');
  const base = choice ? last.slice(0, -3) : last;
  const candidates: Candidate[] = [];
  for (const t of types) {
    if (t.code === 'Resource') {
      return undefined;
    }
    const key = choice ? base + capitalize(t.code) : base;
    const type = t.code === 'Element' || t.code === 'BackboneElement' ? types[0]!.code : t.code;
    candidates.push({ key, extKey: `_${key}`, type });
  }
  const single = candidates.length === 1 ? candidates[0]! : undefined;
  const fn: Fn = (items) => {
    const out: TypedValue[] = [];
    for (const item of items) {
      const v = item.value as Record<string, unknown>;
      if (!v) {
        continue;
      }
      if (typeof v !== 'object' || Array.isArray(v) || v.resourceType === name) {
        return undefined;
      }
      let found: Candidate | undefined;
      let value: unknown;
      if (single) {
        if (v[single.extKey] !== undefined) {
          return undefined;
        }
        value = v[single.key];
        found = value === undefined ? undefined : single;
      } else {
        for (const c of candidates) {
          if (v[c.extKey] !== undefined) {
            return undefined;
          }
          value = v[c.key];
          if (value !== undefined) {
            found = c;
            break;
          }
        }
      }
      if (found === undefined || value === null || value === '') {
        continue;
      }
      if (Array.isArray(value)) {
        for (const x of value) {
          if (x === undefined || x === null) {
            return undefined;
          }
          out.push({ type: found.type, value: x });
        }
      } else if (typeof value === 'object') {
        for (const _ in value) {
          out.push({ type: found.type, value });
          break;
        }
      } else {
        out.push({ type: found.type, value });
      }
    }
    return out;
  };
  return { fn, ...(single ? { type: single.type } : {}) };
}

function union(left: Fn, right: Fn): Fn {
  return (items) => {
    const l = left(items);
    const r = l && right(items);
    if (!l || !r) {
      return undefined;
    }
    const all = l.length === 0 ? r : r.length === 0 ? l : [...l, ...r];
    if (all.length <= 1) {
      return all;
    }
    // Objects are told apart by medplum's per-element path, which walkers do not keep.
    for (const x of all) {
      if (typeof x.value === 'object') {
        return undefined;
      }
    }
    return removeDuplicates(all);
  };
}

function compileFunction(atom: FunctionAtom, inType: string | undefined, resourceType: string): Compiled | undefined {
  const [arg, ...more] = atom.args;
  if (!arg || more.length > 0) {
    return undefined;
  }
  if (atom.name === 'ofType') {
    const typeName = arg instanceof SymbolAtom ? arg.name : undefined;
    if (!typeName) {
      return undefined;
    }
    return {
      fn: (items) => items.filter((e) => fhirPathIs(e, typeName)),
      // Filtering keeps each item's type.
      ...(inType !== undefined ? { type: inType } : {}),
    };
  }
  if (atom.name !== 'where') {
    return undefined;
  }
  const keep = compileCriterion(arg, inType, resourceType);
  if (!keep) {
    return undefined;
  }
  return {
    fn: (items) => {
      const out: TypedValue[] = [];
      for (const item of items) {
        const k = keep(item);
        if (k === undefined) {
          return undefined;
        }
        if (k) {
          out.push(item);
        }
      }
      return out;
    },
    ...(inType !== undefined ? { type: inType } : {}),
  };
}

type Criterion = (item: TypedValue) => boolean | undefined;

/** `resolve() is T` and `member = 'literal'`, the where() criteria of the base search parameters. */
function compileCriterion(arg: Atom, inType: string | undefined, resourceType: string): Criterion | undefined {
  if (arg instanceof IsAtom && arg.left instanceof FunctionAtom && arg.left.name === 'resolve' && arg.left.args.length === 0) {
    const typeName = arg.right instanceof SymbolAtom ? arg.right.name : undefined;
    if (!typeName || typeName.includes('.') || STRUCTURAL_TYPES.has(typeName)) {
      return undefined;
    }
    return (item) => {
      const target = resolvedType(item.value);
      return target === undefined ? undefined : target === typeName;
    };
  }
  if (arg instanceof EqualsAtom && arg.right instanceof LiteralAtom && typeof arg.right.value.value === 'string') {
    const literal = arg.right.value.value;
    const member = compile(arg.left, inType, resourceType);
    if (!member) {
      return undefined;
    }
    const fn = member.fn;
    return (item) => {
      const values = fn([item]);
      if (values === undefined) {
        return undefined;
      }
      if (values.length === 1 && typeof values[0]!.value === 'object') {
        return undefined;
      }
      return values.length === 1 && values[0]!.value === literal;
    };
  }
  return undefined;
}

/**
 * The type medplum's resolve() gives a reference ('' when it gives nothing,
 * so `is T` is false), or undefined when the walker is unsure.
 */
function resolvedType(value: unknown): string | undefined {
  let ref: unknown;
  if (typeof value === 'string') {
    ref = value;
  } else if (typeof value === 'object') {
    if (value === null) {
      return undefined;
    }
    const r = value as { resource?: unknown; reference?: unknown; type?: unknown; identifier?: unknown };
    if (r.resource) {
      return undefined;
    }
    if (r.reference) {
      ref = r.reference;
    } else if (r.type && r.identifier) {
      // medplum resolves `${type}?identifier=...` to the part before the first '?'.
      if (typeof r.type !== 'string') {
        return undefined;
      }
      ref = `${r.type}?`;
    }
  }
  if (ref === undefined) {
    return '';
  }
  if (typeof ref !== 'string') {
    return undefined;
  }
  const q = ref.indexOf('?');
  if (q >= 0) {
    return ref.slice(0, q);
  }
  const s = ref.indexOf('/');
  return s >= 0 ? ref.slice(0, s) : '';
}

/** `X.exists() and X != false` (Patient.deceased): true when X holds anything but false, false when X is empty. */
function compileNotFalse(atom: AndAtom, inType: string | undefined, resourceType: string): Compiled | undefined {
  const { left, right } = atom;
  if (
    !(left instanceof DotAtom && left.right instanceof FunctionAtom && left.right.name === 'exists' && left.right.args.length === 0) ||
    !(right instanceof NotEqualsAtom && right.right instanceof LiteralAtom && right.right.value.value === false) ||
    left.left.toString() !== right.left.toString()
  ) {
    return undefined;
  }
  const operand = compile(left.left, inType, resourceType);
  if (!operand) {
    return undefined;
  }
  const fn = operand.fn;
  return {
    fn: (items) => {
      const values = fn(items);
      if (values === undefined || values.length > 1) {
        return undefined;
      }
      if (values.length === 0) {
        return [{ type: 'boolean', value: false }];
      }
      // One non-empty value: exists() is true, and `!= false` compares it with ===.
      const v = values[0]!.value;
      return typeof v === 'boolean' || (typeof v === 'string' && v !== '') ? [{ type: 'boolean', value: v !== false }] : undefined;
    },
    type: 'boolean',
  };
}
