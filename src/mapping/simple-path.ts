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
  return (record, env) => {
    let items: unknown[];
    if (isVar) {
      if (!env || !Object.hasOwn(env, head)) {
        return undefined;
      }
      const v = env[head];
      if (v === undefined || v === null || Array.isArray(v)) {
        return undefined;
      }
      items = [v];
    } else {
      items = [record];
    }
    for (const name of members) {
      const next: unknown[] = [];
      for (const item of items) {
        if (!isPlainObject(item) || Object.hasOwn(item, `_${name}`)) {
          return undefined;
        }
        if (!Object.hasOwn(item, name)) {
          if (name in item) {
            return undefined;
          }
          continue;
        }
        const v = item[name];
        if (v === undefined || v === null) {
          return undefined;
        }
        if (Array.isArray(v)) {
          for (const x of v) {
            if (x === undefined || x === null || Array.isArray(x)) {
              return undefined;
            }
            next.push(x);
          }
        } else {
          next.push(v);
        }
      }
      items = next;
    }
    for (const v of items) {
      if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || isPlainObject(v))) {
        return undefined;
      }
    }
    return exists ? [items.length > 0] : items;
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return false;
  }
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
