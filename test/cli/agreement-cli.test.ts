import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliModes, runCli } from './run-cli.ts';

const EXAMPLES = 'docs/examples/agreements';

const modes = cliModes();

describe.each(modes)('joinedup agreement on $name', (mode) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let work: string;
  beforeAll(async () => {
    ({ env, cleanup } = await mode.env());
    work = join(env.DATA_DIR!, '..');
  });
  afterAll(async () => cleanup());
  const cli = (...args: string[]) => runCli(args, env);

  it('adds agreements, says when a re-added file changes nothing, and versions a changed one', async () => {
    const a = await cli('agreement', 'add', `${EXAMPLES}/midshire-direct-care.json`);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe('added midshire-direct-care version 1\n');
    expect((await cli('agreement', 'add', `${EXAMPLES}/northgate-discharge-to-assess-pilot.json`)).stdout).toBe('added northgate-discharge-to-assess-pilot version 1\n');
    const again = await cli('agreement', 'add', `${EXAMPLES}/midshire-direct-care.json`);
    expect(again.stdout).toBe('midshire-direct-care version 1 already holds this content; nothing changed\n');

    const changed = join(work, 'v2.json');
    const v2 = JSON.parse(readFileSync(`${EXAMPLES}/midshire-direct-care.json`, 'utf8')) as Record<string, unknown>;
    writeFileSync(changed, JSON.stringify({ ...v2, dataClasses: ['person', 'care-plan'] }));
    expect((await cli('agreement', 'add', changed)).stdout).toBe('added midshire-direct-care version 2\n');
  });

  it('lists the newest versions with status, as a table and as JSON', async () => {
    const list = await cli('agreement', 'list', '--at', '2026-11-21T12:00:00Z');
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+VERSION\s+STATUS\s+PERIOD\s+PARTIES\s+PURPOSES\s+DATA CLASSES$/);
    expect(lines[1]).toMatch(/^midshire-direct-care\s+2\s+in-force\s+2025-04-01\.\.2028-03-31\s+X9C01 X99001 X99002 X9H01\s+TREAT CAREMGT\s+person care-plan$/);
    expect(lines[2]).toMatch(/^northgate-discharge-to-assess-pilot\s+1\s+expired\s/);
    const json = JSON.parse((await cli('agreement', 'list', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(json.map((j) => [j.id, j.version])).toEqual([
      ['midshire-direct-care', 2],
      ['northgate-discharge-to-assess-pilot', 1],
    ]);
    expect(json[0]).toMatchObject({ lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', statutoryGateway: 'hsca-2012-s251b' } });
  });

  it('ends an agreement (once), and show gives every version', async () => {
    const end = await cli('agreement', 'end', 'midshire-direct-care', '--at', '2026-01-31T17:00:00Z');
    expect(end.code, end.stderr).toBe(0);
    expect(end.stdout).toBe('midshire-direct-care version 2 ends at 2026-01-31T17:00:00.000Z\n');
    const again = await cli('agreement', 'end', 'midshire-direct-care');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^joinedup: agreement midshire-direct-care already ends at 2026-01-31T17:00:00\.000Z; an ended agreement stays ended/);
    const revive = await cli('agreement', 'add', `${EXAMPLES}/midshire-direct-care.json`);
    expect(revive.code).toBe(1);
    expect(revive.stderr).toContain('give the new agreement a new id');

    const show = await cli('agreement', 'show', 'midshire-direct-care');
    expect(show.code, show.stderr).toBe(0);
    const detail = JSON.parse(show.stdout) as { status: string; endedAt: string; versions: Array<{ version: number; endedAt?: string }>; agreement: { dataClasses: string[] } };
    expect(detail.status).toBe('ended');
    expect(detail.agreement.dataClasses).toEqual(['person', 'care-plan']);
    expect(detail.versions.map((v) => [v.version, v.endedAt])).toEqual([
      [1, undefined],
      [2, '2026-01-31T17:00:00.000Z'],
    ]);
  });

  it('exits 1 for an unknown id and 2 for bad input, naming each problem by JSONPath', async () => {
    for (const args of [['show', 'no-such-thing'], ['end', 'no-such-thing']]) {
      const r = await cli('agreement', ...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('joinedup: no agreement no-such-thing\n');
    }
    const badAt = await cli('agreement', 'end', 'midshire-direct-care', '--at', 'tomorrow');
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toBe('joinedup: --at: an instant with time zone, e.g. 2027-04-01T00:00:00Z\n');

    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ id: 'x y', title: 't', parties: [{ ods: 'X9C01', name: 'a' }, { ods: 'X9H01', name: 'b' }], purposes: ['TREAT'], dataClasses: ['everything'], lawfulBasis: { art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2' }, period: { start: '2026-01-01' }, extra: 1 }));
    const r = await cli('agreement', 'add', bad);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').slice(1).map((l) => l.trim().split(':')[0])).toEqual(['$.id', '$.dataClasses[0]', '$.extra', '']);
    expect(r.stderr).toContain(`joinedup: ${bad} is not a valid agreement:`);

    writeFileSync(bad, '{ not json');
    const notJson = await cli('agreement', 'add', bad);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^joinedup: cannot read .* as JSON/);
  });

  it('prints the JSON Schema', async () => {
    const r = await cli('agreement', 'schema');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ $id: 'https://joinedup.org.uk/agreement/v1/schema', type: 'object' });
  });
});
