import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * For the shortcut tests (simple-path.test.ts, simple-expr.test.ts): every
 * string of the project's mappings that could be an expression, `{{ }}`
 * parts and whole strings, so each shortcut is checked against fhirpath.js
 * on exactly what the mappings ask of it.
 */
export function mappingExpressions(): string[] {
  const root = fileURLToPath(new URL('../../mappings/', import.meta.url));
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      found.add(v.trim());
      for (const m of v.matchAll(/\{\{\s*([\s\S]+?)\s*\}\}/g)) found.add(m[1]!.trim());
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const format of readdirSync(root, { withFileTypes: true })) {
    if (!format.isDirectory() || ['conceptmaps', 'codesystems'].includes(format.name)) continue;
    for (const f of readdirSync(`${root}${format.name}`)) walk(JSON.parse(readFileSync(`${root}${format.name}/${f}`, 'utf8')));
  }
  return [...found];
}
