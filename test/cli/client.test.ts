import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliModes, runCli } from './run-cli.ts';

const modes = cliModes();

describe.each(modes)('joinedup client on $name', (mode) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let keyDir: string;
  beforeAll(async () => {
    ({ env, cleanup } = await mode.env());
    keyDir = join(env.DATA_DIR!, '..', 'keys');
    const r = await runCli(['keys', 'generate', '--out', keyDir]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => cleanup());
  const cli = (...args: string[]) => runCli(args, env);

  it('registers a client and lists it without key material', async () => {
    const r = await cli(
      'client', 'register', '--id', 'acme-gp', '--ods', 'X99102', '--org-name', 'Acme Surgery (test)', '--kind', 'gp-practice',
      '--jwks', join(keyDir, 'jwks.json'), '--scope', 'system/*.rs', 'system/Task.cu', '--purpose', 'TREAT', 'ETREAT'
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('registered acme-gp for Acme Surgery (test) (X99102, gp-practice)');

    const list = await cli('client', 'list');
    expect(list.code, list.stderr).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^CLIENT\s+STATUS\s+ODS\s+KIND\s+ORGANISATION\s+KEYS\s+SCOPES\s+PURPOSES$/);
    expect(row).toMatch(/^acme-gp\s+active\s+X99102\s+gp-practice\s+Acme Surgery \(test\)\s+jwks \(1 key\)\s+system\/\*\.rs system\/Task\.cu\s+TREAT ETREAT$/);
    const json = await cli('client', 'list', '--json');
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ clientId: 'acme-gp', status: 'active', keys: 'jwks (1 key)' }),
    ]);
    for (const output of [list.stdout, json.stdout]) expect(output).not.toMatch(/"(x|y|n|d|kid)"|kty/);
  });

  it('suspends and activates a client; an unknown id exits non-zero', async () => {
    const s = await cli('client', 'suspend', 'acme-gp');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^acme-gp is now suspended; it gets no new tokens/);
    expect((await cli('client', 'list')).stdout).toMatch(/acme-gp\s+suspended/);
    const a = await cli('client', 'activate', 'acme-gp');
    expect(a.stdout).toBe('acme-gp is now active\n');
    const missing = await cli('client', 'suspend', 'nobody-here');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('joinedup: no client nobody-here is registered\n');
  });

  it('refuses a second registration of the same id', async () => {
    const r = await cli(
      'client', 'register', '--id', 'acme-gp', '--ods', 'X99102', '--org-name', 'Other', '--kind', 'gp-practice',
      '--jwks-uri', 'https://keys.example.org/jwks.json', '--scope', 'system/*.rs', '--purpose', 'TREAT'
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('joinedup: client acme-gp is already registered\n');
  });

  it('names every invalid option and exits 2 without touching the registry', async () => {
    const r = await cli(
      'client', 'register', '--id', 'x', '--ods', 'a1', '--org-name', '', '--kind', 'gp',
      '--jwks-uri', 'http://example.org/jwks', '--scope', 'patient/*.read', '--purpose', 'SPYING'
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.replace(/^joinedup: /, '').trim().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['--id', '--ods', '--org-name', '--kind', '--jwks-uri', '--scope', '--purpose']);
    expect(r.stderr).toContain('--jwks-uri: jwks_uri must be https');
    expect(r.stderr).toContain('--scope: not a SMART system scope');
  });

  it('asks for the missing options, for exactly one key source, and refuses a private key as the JWKS', async () => {
    const missing = await cli('client', 'register', '--id', 'abc');
    expect(missing.code).toBe(2);
    for (const o of ['--ods', '--org-name', '--kind', '--scope', '--purpose']) expect(missing.stderr).toContain(`${o}: required`);
    expect(missing.stderr).toContain('give exactly one of --jwks <file> or --jwks-uri <url>');

    const both = await cli(
      'client', 'register', '--id', 'abc', '--ods', 'X9T03', '--org-name', 'x', '--kind', 'voluntary',
      '--jwks', join(keyDir, 'jwks.json'), '--jwks-uri', 'https://keys.example.org/jwks.json', '--scope', 'system/*.rs', '--purpose', 'TREAT'
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('joinedup: give exactly one of --jwks <file> or --jwks-uri <url>\n');

    const priv = await cli(
      'client', 'register', '--id', 'abc', '--ods', 'X9T03', '--org-name', 'x', '--kind', 'voluntary',
      '--jwks', join(keyDir, 'private.jwk.json'), '--scope', 'system/*.rs', '--purpose', 'TREAT'
    );
    expect(priv.code).toBe(2);
    expect(priv.stderr).toContain('holds a private key');
    expect((await cli('client', 'list', '--json')).stdout).not.toContain('"abc"');
  });

  it('rotates the gateway signing key', async () => {
    const kids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await cli('keys', 'rotate');
      expect(r.code, r.stderr).toBe(0);
      const m = /^new gateway signing key ([A-Za-z0-9_-]{43})\. Running gateways start signing with it within a minute; tokens signed with the old key stay valid for up to 15 minutes\.\n$/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      kids.push(m![1]!);
    }
    expect(kids[0]).not.toBe(kids[1]);
  });
});
