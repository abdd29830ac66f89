/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit, as Array.sort
 * does), no whitespace, undefined members dropped, array order kept. The
 * same value always gives the same text, so a hash over the text is a hash
 * over the value. Close to RFC 8785 (JCS) for the values we store: strings,
 * booleans, integers and short decimals, which JSON.stringify already writes
 * the way JCS does.
 */
export function canonicalJson(value: unknown): string {
  // Fastest path: a value already in canonical order (the codes of
  // balp-codes.ts, an event parsed back from its canonical text)
  // is checked, not copied, and written by one native JSON.stringify.
  // Checking allocates nothing but key lists, so it costs a fraction of a
  // copy and the garbage it leaves (docs/performance.md, audited reads, fifth
  // pass). Exchanges' facts and rendered events are written as text
  // (exchange-facts.ts, balp-render.ts).
  if (inCanonicalOrder(value)) return JSON.stringify(value);
  // Fast path: copy with keys sorted, then one native JSON.stringify, ~2x
  // faster than writing piece by piece. Not for keys starting with a digit
  // (JSON.stringify puts integer-like keys first, in numeric order) nor
  // "__proto__" (a plain object would take it as its prototype): those go
  // the reference way.
  const sorted = sortedCopy(value);
  return sorted === NOT_FAST ? canonicalJsonByParts(value) : JSON.stringify(sorted);
}

/**
 * True when JSON.stringify(value) is already the canonical text: every
 * object plain (no Date, class or toJSON to call), its keys in sorted order
 * and none starting with a digit or being "__proto__", every number finite,
 * nothing JSON.stringify would drop or refuse other than undefined members
 * (dropped by both) and undefined array items (null in both).
 */
export function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== undefined && !inCanonicalOrder(item)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0 && !(keys[i - 1]! < k)) return false;
    if (stringifyMishandles(k)) return false;
    const v = obj[k];
    if (v !== undefined && !inCanonicalOrder(v)) return false;
  }
  return true;
}

/** A key JSON.stringify would move (integer-like keys go first, in numeric order) or a plain object would take as its prototype. */
function stringifyMishandles(key: string): boolean {
  const first = key.charCodeAt(0);
  return (first >= 48 && first <= 57) || key === '__proto__';
}

/** The reference writer: the fast path must always give exactly its text (test/audit/canonical.test.ts). */
export function canonicalJsonByParts(value: unknown): string {
  const out: string[] = [];
  write(value, out);
  return out.join('');
}

const NOT_FAST: unique symbol = Symbol('not for the fast path');

/** value with object keys sorted and undefined members dropped, or NOT_FAST; throws on what JSON cannot represent. */
function sortedCopy(value: unknown): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot represent a non-finite number');
      return value;
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON cannot represent a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i] === undefined ? null : sortedCopy(value[i]);
      if (item === NOT_FAST) return NOT_FAST;
      out[i] = item;
    }
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  // Plain objects: JSON.stringify is much slower on prototype-less ones.
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (stringifyMishandles(k)) return NOT_FAST;
    const copy = sortedCopy(v);
    if (copy === NOT_FAST) return NOT_FAST;
    out[k] = copy;
  }
  return out;
}

function write(value: unknown, out: string[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      // NaN and Infinity have no JSON form; JSON.stringify would quietly write null.
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot represent a non-finite number');
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON cannot represent a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      // As JSON.stringify: an undefined array item is written as null.
      write(item === undefined ? null : item, out);
    });
    out.push(']');
    return;
  }
  if (value instanceof Date) {
    out.push(JSON.stringify(value.toISOString()));
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  out.push('{');
  keys.forEach((k, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(k), ':');
    write(obj[k], out);
  });
  out.push('}');
}

/**
 * Pieces for writing canonical JSON directly as text (exchange-facts.ts, balp-render.ts,
 * gate-extension.ts): a string as JSON.stringify writes it, which is how
 * canonical JSON writes strings; refused if it is not one, rather than
 * written as the invalid `undefined`.
 */
export function jsonString(s: string): string {
  if (typeof s !== 'string') throw new TypeError('canonical JSON text: a string was expected');
  return JSON.stringify(s);
}

/** An integer as canonical JSON writes it; anything else is refused rather than written as null. */
export function jsonInteger(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError('canonical JSON text: an integer was expected');
  return String(n);
}
