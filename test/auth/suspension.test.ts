import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import { backends } from '../support/backends.ts';
import { TEST_ACTOR, suiteServer } from '../support/test-server.ts';

describe.each(backends())('suspending a client ($name)', (backend) => {
  // No memory of client status, so the test need not wait out the 30 s default.
  const s = suiteServer(backend, { CLIENT_STATUS_TTL_MS: '0' });

  test('its unexpired access tokens stop working, not only new token requests', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const registry = new ClientRegistry(s.db);
    await registry.register({
      clientId: 'soon-suspended',
      organisation: { ods: 'X99002', name: 'Brookside Practice (test)', kind: 'gp-practice' },
      jwks: { keys: [{ ...jwk, kid: 'k1' }] },
      scopes: ['system/*.rs'],
      purposes: ['TREAT'],
    });
    const token = await s.issueToken({
      ...TEST_ACTOR,
      clientId: 'soon-suspended',
      organisation: { ods: 'X99002', name: 'Brookside Practice (test)', kind: 'gp-practice' },
    });
    const before = await s.request('GET', 'Patient?_count=1', undefined, { authorization: `Bearer ${token}` });
    expect(before.status).toBe(200);

    await registry.setStatus('soon-suspended', 'suspended');
    const after = await s.request('GET', 'Patient?_count=1', undefined, { authorization: `Bearer ${token}` });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');

    await registry.setStatus('soon-suspended', 'active');
    expect((await s.request('GET', 'Patient?_count=1', undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
  });
});
