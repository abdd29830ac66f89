/**
 * A shortcut for the commonest template expressions: a plain member path
 * (`status`, `person.localId`, `%item.description`, `%source.lastUpdated`),
 * optionally followed by `.exists()`. Two thirds of the council mappings'
 * expressions are of that form, and fhirpath.js wraps every value it meets in
 * a ResourceNode and unwraps the result again, which cost about as much per
 * mapped resource as everything else in the mapping together.
 *
 * The shortcut only answers when the data on the path is ordinary JSON:
 * plain objects, arrays of non-null values, no `_name` primitive extensions,
 * no property found through a prototype. Anything else (nulls, a string where
 * an object was expected, a missing variable, leaf values that are not
 * strings, finite numbers, booleans or plain objects) returns `undefined`,
 * and the caller runs the real fhirpath.js function, so results and errors
 * are fhirpath.js's own in every case the shortcut is unsure of.
 * src/mapping/simple-path.test.ts checks both agree on every expression of
 * the project's mappings over the example records and malformed variants.
 */

type PathFn = (record: unknown, env: Record<string, unknown> | undefined) => unknown[] | undefined;

const IDENT = '[A-Za-z][A-Za-z0-9_]*';
const SIMPLE = new RegExp(`^(%?)(${IDENT})((?:\\.${IDENT})*)(\\.exists\\(\\))?$`);

/** Words FHIRPath gives a meaning of their own (literals, operators, function names) and its built-in variables. */
const RESERVED = new Set([
  'true', 'false', 'and', 'or', 'xor', 'implies', 'is', 'as', 'in', 'contains', 'div', 'mod',
  'context', 'resource', 'rootResource', 'ucum', 'sct', 'loinc', 'factory', 'terminologies',
]);

/** The shortcut for `src`, or undefined when `src` is not a plain member path. */
export function compileSimplePath(src: string): PathFn | undefined {
  const m = SIMPLE.exec(src.trim());
  if (!m) {
    return undefined;
  }
  const isVar = m[1] === '%';
  const head = m[2]!;
  const rest = m[3] ? m[3].slice(1).split('.') : [];
  const exists = m[4] !== undefined;
  // A capitalised first name is a type name in FHIRPath (`Patient.name`), not a member.
  if (!isVar && head[0] !== head[0]!.toLowerCase()) {
    return undefined;
  }
  if (RESERVED.has(head) || rest.some((s) => RESERVED.has(s))) {
    return undefined;
  }
  const members = isVar ? rest : [head, ...rest];
  const extKeys = members.map((name) => `_${name}`);
  return (record, env) => {
    // One item until a member holds an array: most paths never make a list.
    let one: unknown;
    if (isVar) {
      if (!env || !Object.hasOwn(env, head)) {
        return undefined;
      }
      one = env[head];
      if (one === undefined || one === null || Array.isArray(one)) {
        return undefined;
      }
    } else {
      one = record;
    }
    let items: unknown[] | undefined;
    for (let i = 0; i < members.length; i++) {
      const name = members[i]!;
      const extKey = extKeys[i]!;
      if (items === undefined) {
        const step = member(one, name, extKey);
        if (step === BAIL) {
          return undefined;
        }
        if (step === MISSING) {
          items = [];
        } else if (Array.isArray(step)) {
          items = [];
          for (const x of step) {
            if (x === undefined || x === null || Array.isArray(x)) {
              return undefined;
            }
            items.push(x);
          }
        } else {
          one = step;
        }
        continue;
      }
      const next: unknown[] = [];
      for (const item of items) {
        const step = member(item, name, extKey);
        if (step === BAIL) {
          return undefined;
        }
        if (step === MISSING) {
          continue;
        }
        if (Array.isArray(step)) {
          for (const x of step) {
            if (x === undefined || x === null || Array.isArray(x)) {
              return undefined;
            }
            next.push(x);
          }
        } else {
          next.push(step);
        }
      }
      items = next;
    }
    if (items === undefined) {
      if (!isLeaf(one)) {
        return undefined;
      }
      return exists ? [true] : [one];
    }
    for (const v of items) {
      if (!isLeaf(v)) {
        return undefined;
      }
    }
    return exists ? [items.length > 0] : items;
  };
}

const BAIL = Symbol('bail');
const MISSING = Symbol('missing');

/** `item.name`: its value, MISSING when absent, BAIL when the shortcut must not answer. */
function member(item: unknown, name: string, extKey: string): unknown {
  if (!isPlainObject(item) || Object.hasOwn(item, extKey)) {
    return BAIL;
  }
  if (!Object.hasOwn(item, name)) {
    return name in item ? BAIL : MISSING;
  }
  const v = item[name];
  return v === undefined || v === null ? BAIL : v;
}

function isLeaf(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || isPlainObject(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return false;
  }
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
