import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'joinedup-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('joinedup map (dry run)', () => {
  it('maps an NDJSON file record by record, printing Bundles and refusals with their paths, storing nothing', async () => {
    const person = JSON.parse(readFileSync('docs/examples/council/person.json', 'utf8')) as Record<string, unknown>;
    const broken = { ...person, person: { ...(person.person as object), nhsNumber: '9000000008' } };
    const file = join(dir, 'records.ndjson');
    writeFileSync(file, `${JSON.stringify(person)}\n\n${JSON.stringify(broken)}\n`);
    const r = await runCli(['map', file, '--council', 'X9C01'], { DATA_DIR: join(dir, 'never-created') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1 record(s) mapped, 1 refused');
    const outputs = r.stdout.split(/\n(?=\{)/).map((t) => JSON.parse(t) as { line: number; ok: boolean; bundle?: { entry: { resource: { resourceType: string } }[] }; issues?: { expression?: string[] }[] });
    expect(outputs.map((o) => [o.line, o.ok])).toEqual([
      [1, true],
      [3, false],
    ]);
    const types = outputs[0]?.bundle?.entry.map((e) => e.resource.resourceType);
    expect(types).toContain('Patient');
    expect(types).toContain('Provenance');
    expect(outputs[1]?.issues?.[0]?.expression?.[0]).toBe('$.person.nhsNumber');
  });

  it('refuses a missing council code with a clear message', async () => {
    const r = await runCli(['map', 'docs/examples/council/person.json']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--council');
  });
});
