/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit, as Array.sort
 * does), no whitespace, undefined members dropped, array order kept. The
 * same value always gives the same text, so a hash over the text is a hash
 * over the value. Close to RFC 8785 (JCS) for the values we store: strings,
 * booleans, integers and short decimals, which JSON.stringify already writes
 * the way JCS does.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out);
  return out.join('');
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
