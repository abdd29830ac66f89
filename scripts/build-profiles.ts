/**
 * Regenerates the committed profiles/ outputs from profiles/src.
 *
 *   npm run build:profiles           write profiles/*.json, remove stale outputs
 *   npm run build:profiles -- --check  exit 1 if the committed outputs are out of date
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProfiles, GENERATED_FILE } from '../src/fhir/validation/profile-build.ts';

const profilesDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'profiles');
const check = process.argv.includes('--check');

const built = buildProfiles(profilesDir);
const wanted = new Set(built.map((f) => f.name));
const stale = readdirSync(profilesDir).filter((name) => GENERATED_FILE.test(name) && !wanted.has(name));
const changed = built.filter((f) => {
  const path = join(profilesDir, f.name);
  return !existsSync(path) || readFileSync(path, 'utf8') !== f.content;
});

if (check) {
  for (const f of changed) console.error(`out of date: profiles/${f.name}`);
  for (const name of stale) console.error(`stale: profiles/${name}`);
  if (changed.length > 0 || stale.length > 0) {
    console.error('run `npm run build:profiles` and commit the result');
    process.exit(1);
  }
  console.log(`profiles up to date (${built.length} files)`);
} else {
  for (const f of changed) writeFileSync(join(profilesDir, f.name), f.content);
  for (const name of stale) rmSync(join(profilesDir, name));
  console.log(`profiles: ${built.length} built, ${changed.length} written, ${stale.length} removed`);
}
