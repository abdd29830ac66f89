/**
 * npx tsx scripts/lawful-basis-table.ts — rewrites the scenario table in
 * docs/lawful-basis.md from test/gate/scenarios.ts (the cases the tests run),
 * between the scenario-table markers. `--check` exits 1 when the doc is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderScenarioTable, TABLE_END, TABLE_START } from '../test/gate/scenario-table.ts';

const DOC = new URL('../docs/lawful-basis.md', import.meta.url);
const doc = readFileSync(DOC, 'utf8');
const start = doc.indexOf(TABLE_START);
const end = doc.indexOf(TABLE_END);
if (start < 0 || end < 0) throw new Error('docs/lawful-basis.md has no scenario-table markers');
const next = doc.slice(0, start) + renderScenarioTable() + doc.slice(end + TABLE_END.length);
if (process.argv.includes('--check')) {
  if (next !== doc) {
    console.error('docs/lawful-basis.md scenario table is stale: run npx tsx scripts/lawful-basis-table.ts');
    process.exit(1);
  }
} else if (next !== doc) {
  writeFileSync(DOC, next);
  console.log('docs/lawful-basis.md: scenario table updated');
}
