import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertionWithCrypto, b2b, claims, ecKey, postToken, TEST_ODS, tokenForm } from '../../test/support/assertions.ts';
import { backends } from '../../test/support/backends.ts';
import type { Database } from '../db/sql-client.ts';
import { AccessTokens } from './access-token.ts';
import { ClientRegistry } from './client-registry.ts';
import { GatewayKeys } from './gateway-keys.ts';
import { JwksSource } from './jwks-source.ts';
import { OAuthError } from './oauth-error.ts';
import { grantScopes, tokenEndpoint } from './token-endpoint.ts';

const texts = (allowed: string[], requested?: string) => grantScopes(allowed, requested).map((s) => s.text);
const code = (allowed: string[], requested: string) => {
  try {
    grantScopes(allowed, requested);
  } catch (err) {
    return (err as OAuthError).error;
  }
  return 'granted';
};

describe('grantScopes', () => {
  it('grants everything registered when nothing is requested', () => {
    expect(texts(['system/Patient.rs', 'system/CarePlan.cruds'])).toEqual(['system/Patient.rs', 'system/CarePlan.cruds']);
    expect(texts(['system/Patient.rs'], '  ')).toEqual(['system/Patient.rs']);
  });

  it('grants exactly the requested subset', () => {
    expect(texts(['system/*.cruds'], 'system/Patient.r system/CarePlan.rs')).toEqual(['system/Patient.r', 'system/CarePlan.rs']);
    expect(texts(['system/Patient.rs'], 'system/Patient.read')).toEqual(['system/Patient.read']);
    expect(texts(['system/Patient.rs'], 'system/Patient.r system/Patient.r')).toEqual(['system/Patient.r']);
  });

  it('refuses scopes beyond the registration or not understood', () => {
    expect(code(['system/Patient.rs'], 'system/Patient.c')).toBe('invalid_scope');
    expect(code(['system/Patient.rs'], 'system/CarePlan.r')).toBe('invalid_scope');
    expect(code(['system/Patient.rs'], 'system/*.r')).toBe('invalid_scope');
    expect(code(['system/*.cruds'], 'openid')).toBe('invalid_scope');
    expect(code(['system/*.cruds'], 'patient/Patient.r')).toBe('invalid_scope');
    expect(code(['system/*.cruds'], 'system/Patient.r\tsystem/CarePlan.r')).toBe('invalid_scope');
    expect(code(['system/*.cruds'], `system/Patient.r ${'x'.repeat(5000)}`)).toBe('invalid_scope');
  });

  it('throws OAuthError with status 400', () => {
    expect(() => grantScopes(['system/Patient.rs'], 'system/Patient.d')).toThrow(OAuthError);
  });
});

describe('tokenEndpoint logging and failures', () => {
  let db: Database;
  let server: Server;
  let url = '';
  let lines: string[] = [];
  let registry: ClientRegistry;
  let failLookups = false;
  const key = ecKey('log-ec');

  beforeAll(async () => {
    db = await (backends()[0] as { open(): Promise<Database> }).open();
    registry = new ClientRegistry(db);
    await registry.register({
      clientId: 'log-client',
      organisation: { ods: TEST_ODS, name: 'Log Council', kind: 'local-authority' },
      jwks: { keys: [key.publicJwk] },
      scopes: ['system/Patient.rs'],
      purposes: ['TREAT'],
    });
    const clients = new Proxy(registry, {
      get(target, prop, receiver) {
        if (prop === 'get' && failLookups) {
          return async () => {
            throw Object.assign(new Error('relation "client" does not exist: SELECT * FROM client WHERE client_id = log-client'), { code: '42P01' });
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const app = express();
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/token`;
    const tokens = new AccessTokens(await GatewayKeys.load(db), { issuer: 'http://gw', audience: 'http://gw/fhir', lifetimeSeconds: 300 });
    app.post('/auth/token', express.urlencoded({ extended: false }), tokenEndpoint({ clients, sql: db, tokens, tokenUrl: url, jwks: new JwksSource({ logger }), logger }));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await db.close();
  });

  it('logs client, outcome and token id, never the assertion, the token or who the user is', async () => {
    lines = [];
    const assertion = assertionWithCrypto(key, claims('log-client', url, { extensions: { 'hl7-b2b': b2b({ subject_id: 'SUBJ-ID-77', subject_name: 'Jane Loggable' }) } }));
    const ok = await postToken(url, tokenForm(assertion));
    expect(ok.status).toBe(200);
    const refused = await postToken(url, tokenForm(assertion));
    expect(refused.body.error).toBe('invalid_grant');
    const logged = lines.join('\n');
    expect(logged).toContain('log-client');
    expect(logged).toContain('invalid_grant');
    for (const secret of [...assertion.split('.'), ...(ok.body.access_token as string).split('.'), 'SUBJ-ID-77', 'Jane Loggable']) {
      expect(logged).not.toContain(secret);
    }
  });

  it('answers an internal failure with a bare server_error and logs only its class and code', async () => {
    lines = [];
    failLookups = true;
    try {
      const r = await postToken(url, tokenForm(assertionWithCrypto(key, claims('log-client', url))));
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'server_error', error_description: expect.any(String) });
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.text).not.toContain('SELECT');
      const logged = lines.join('\n');
      expect(logged).toContain('42P01');
      expect(logged).not.toContain('SELECT');
    } finally {
      failLookups = false;
    }
  });
});
