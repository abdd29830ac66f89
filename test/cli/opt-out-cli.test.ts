import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { cliModes, runCli } from './run-cli.ts';

const modes = cliModes();

const [A, B, C] = [makeTestNhsNumber(11), makeTestNhsNumber(12), makeTestNhsNumber(13)];
const BAD_CHECK = `${B.slice(0, 9)}${(Number(B[9]) + 1) % 10}`;

describe.each(modes)('joinedup opt-out on $name', (mode) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let work: string;
  beforeAll(async () => {
    ({ env, cleanup } = await mode.env());
    work = join(env.DATA_DIR!, '..');
  });
  afterAll(async () => cleanup());
  const cli = (...args: string[]) => runCli(args, env);
  const file = (name: string, text: string) => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a file and answers status with opted-out or not, never the number', async () => {
    const r = await cli('opt-out', 'load', file('ok.csv', `nhs_number,status\n${A},opted-out\n${B},not-opted-out\n`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('loaded 2 NHS number(s): 1 opted out, 1 not opted out\n');
    expect((await cli('opt-out', 'status', A)).stdout).toBe('opted-out\n');
    expect((await cli('opt-out', 'status', B)).stdout).toBe('not-opted-out\n');
    expect((await cli('opt-out', 'status', C)).stdout).toBe('not-opted-out (no status loaded for this number)\n');
  });

  it('refuses a file with any bad line, naming lines only, and changes nothing', async () => {
    const r = await cli('opt-out', 'load', file('bad.csv', `${A},not-opted-out\n${BAD_CHECK},opted-out\n${C},perhaps\n`));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the file was not loaded (nothing changed); 2 bad line(s):\nline 2: the NHS number fails the modulus 11 check digit\nline 3: the status must be opted-out or not-opted-out\n');
    for (const n of [A, BAD_CHECK, C]) expect(r.stderr).not.toContain(n);
    expect((await cli('opt-out', 'status', A)).stdout).toBe('opted-out\n');
  });

  it('refuses an invalid NHS number or a missing file without echoing the number', async () => {
    const r = await cli('opt-out', 'status', BAD_CHECK);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('joinedup: <nhsNumber>: not a valid NHS number (10 digits with a valid modulus 11 check digit)\n');
    const missing = await cli('opt-out', 'load', join(work, 'nope.csv'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^joinedup: cannot read .*nope\.csv \(ENOENT\)\n$/);
  });
});
