import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'joinedup-keys-'));
  dirs.push(d);
  return d;
};

/** RFC 7638 thumbprint, computed independently of node-jose. */
function thumbprint(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function signsAndVerifies(privateJwk: Record<string, unknown>, publicJwk: Record<string, unknown>): boolean {
  const data = Buffer.from('header.payload');
  const ec = privateJwk.kty === 'EC';
  const priv = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  const pub = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const signature = sign('sha384', data, ec ? { key: priv, dsaEncoding: 'ieee-p1363' } : priv);
  return verify('sha384', data, ec ? { key: pub, dsaEncoding: 'ieee-p1363' } : pub, signature);
}

describe('joinedup keys generate', () => {
  it.each(['ES384', 'RS384'])('makes a %s private JWK and the matching public JWKS', async (alg) => {
    const r = await runCli(['keys', 'generate', '--alg', alg, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { kid: string; alg: string; privateJwk: Record<string, unknown>; publicJwks: { keys: Record<string, unknown>[] } };
    expect(out.alg).toBe(alg);
    expect(out.publicJwks.keys).toHaveLength(1);
    const pub = out.publicJwks.keys[0]!;
    expect(out.privateJwk).toMatchObject({ kid: out.kid, alg, use: 'sig' });
    expect(pub).toMatchObject({ kid: out.kid, alg, use: 'sig', kty: alg === 'ES384' ? 'EC' : 'RSA' });
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(pub).not.toHaveProperty(secret);
    expect(out.privateJwk).toHaveProperty('d');
    expect(out.kid).toBe(thumbprint(pub));
    expect(signsAndVerifies(out.privateJwk, pub)).toBe(true);
  });

  it('prints the pair, labelled, by default', async () => {
    const r = await runCli(['keys', 'generate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/# Private JWK \(ES384, kid [A-Za-z0-9_-]{43}\)/);
    expect(r.stdout).toContain('# Public JWKS');
  });

  it('writes the private key with mode 0600 and never overwrites', async () => {
    const dir = join(tempDir(), 'keys');
    const r = await runCli(['keys', 'generate', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('"d"');
    expect(statSync(join(dir, 'private.jwk.json')).mode & 0o777).toBe(0o600);
    const privateJwk = JSON.parse(readFileSync(join(dir, 'private.jwk.json'), 'utf8')) as Record<string, unknown>;
    const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as { keys: Record<string, unknown>[] };
    expect(signsAndVerifies(privateJwk, jwks.keys[0]!)).toBe(true);

    const again = await runCli(['keys', 'generate', '--out', dir]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already exists');
    expect(readFileSync(join(dir, 'private.jwk.json'), 'utf8')).toBe(JSON.stringify(privateJwk, null, 2) + '\n');
  });

  it('refuses an unknown algorithm with a clear message', async () => {
    const r = await runCli(['keys', 'generate', '--alg', 'HS256']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('joinedup: --alg: must be ES384 or RS384\n');
    expect(r.stdout).toBe('');
  });
});
