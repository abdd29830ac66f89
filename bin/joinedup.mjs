#!/usr/bin/env node
// `npx joinedup ...`: npx puts node_modules/.bin first on PATH, so this runs on
// the project's Node 24. tsx lets the CLI load the TypeScript sources directly.
import { register } from 'tsx/esm/api';

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`joinedup needs Node 24 or later (found ${process.version}); run it through npx or npm run after npm ci.\n`);
  process.exit(2);
}
register();
await import('../src/cli.ts');
