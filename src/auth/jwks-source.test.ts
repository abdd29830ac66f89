import { HttpResponse, delay, http } from 'msw';
import { setupServer } from 'msw/node';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ecKey, jwksOf, rsaKey } from '../../test/support/assertions.ts';
import type { ClientRecord } from './client-registry.ts';
import { JwksSource } from './jwks-source.ts';
import type { JwksSourceOptions } from './jwks-source.ts';
import { OAuthError } from './oauth-error.ts';

const HOST = 'https://keys.example.org';
const ec1 = ecKey('ec-1');
const ec2 = ecKey('ec-2');
const rsa = rsaKey('rsa-1');

const mock = setupServer();
beforeAll(() => mock.listen({ onUnhandledFrame: 'error' }));
afterEach(() => mock.resetHandlers());
afterAll(() => mock.close());

function client(extra: Partial<ClientRecord>): ClientRecord {
  return {
    clientId: 'jwks-test',
    organisation: { ods: 'A12345', name: 'Test', kind: 'local-authority' },
    scopes: ['system/*.rs'],
    purposes: ['TREAT'],
    status: 'active',
    ...extra,
  };
}

/** A host whose document can change, counting requests. */
function host(path: string, initial: unknown) {
  const state = { doc: initial as unknown, hits: 0 };
  mock.use(
    http.get(`${HOST}${path}`, () => {
      state.hits++;
      return HttpResponse.json(state.doc as never);
    })
  );
  return state;
}

function fakeLogger() {
  const warnings: unknown[] = [];
  const logger = { warn: (obj: unknown) => warnings.push(obj) } as unknown as Logger;
  return { logger, warnings };
}

function source(opts: JwksSourceOptions = {}) {
  const clock = { t: 1_000_000 };
  const { logger, warnings } = fakeLogger();
  const jwks = new JwksSource({ now: () => clock.t, logger, ...opts });
  return { jwks, clock, warnings };
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return (err as OAuthError).error;
  }
  return 'no error';
}

describe('JwksSource, keys by value', () => {
  it('finds a registered key by kid and refuses unknown or ambiguous kids', async () => {
    const { jwks } = source();
    const c = client({ jwks: jwksOf(ec1, rsa) as ClientRecord['jwks'] });
    expect((await jwks.key(c, 'ec-1')).kid).toBe('ec-1');
    expect((await jwks.key(c, 'rsa-1')).kty).toBe('RSA');
    expect(await errorOf(jwks.key(c, 'nope'))).toBe('invalid_client');
    const twins = client({ jwks: { keys: [ec1.publicJwk, { ...ec2.publicJwk, kid: 'ec-1' }] } as ClientRecord['jwks'] });
    expect(await errorOf(jwks.key(twins, 'ec-1'))).toBe('invalid_client');
  });

  it('refuses registered keys that cannot verify anything, and says so once in the log', async () => {
    const { jwks, warnings } = source();
    const broken = client({ jwks: { keys: [{ kty: 'EC', kid: 'bad', crv: 'P-384', x: 'AA' }] } as ClientRecord['jwks'] });
    expect(await errorOf(jwks.key(broken, 'bad'))).toBe('invalid_client');
    expect(await errorOf(jwks.key(broken, 'bad'))).toBe('invalid_client');
    expect(warnings).toEqual([{ clientId: 'jwks-test' }]);
  });

  it('sees a change of registered keys at once', async () => {
    const { jwks } = source();
    expect((await jwks.key(client({ jwks: jwksOf(ec1) as ClientRecord['jwks'] }), 'ec-1')).kid).toBe('ec-1');
    const rotated = client({ jwks: jwksOf(ec2) as ClientRecord['jwks'] });
    expect(await errorOf(jwks.key(rotated, 'ec-1'))).toBe('invalid_client');
    expect((await jwks.key(rotated, 'ec-2')).kid).toBe('ec-2');
  });
});

describe('JwksSource, jwks_uri', () => {
  it('fetches once and serves from the cache, never per request', async () => {
    const h = host('/cached.json', jwksOf(ec1));
    const { jwks } = source();
    const c = client({ jwksUri: `${HOST}/cached.json` });
    for (let i = 0; i < 20; i++) expect((await jwks.key(c, 'ec-1')).kid).toBe('ec-1');
    expect(h.hits).toBe(1);
    expect(jwks.fetches).toBe(1);
  });

  it('concurrent first requests share one fetch', async () => {
    const h = host('/together.json', jwksOf(ec1));
    const { jwks } = source();
    const c = client({ jwksUri: `${HOST}/together.json` });
    await Promise.all(Array.from({ length: 10 }, () => jwks.key(c, 'ec-1')));
    expect(h.hits).toBe(1);
  });

  it('refreshes once when a new kid appears (rotation), then at most every minRefreshIntervalMs', async () => {
    const h = host('/rotating.json', jwksOf(ec1));
    const { jwks, clock } = source({ minRefreshIntervalMs: 30_000 });
    const c = client({ jwksUri: `${HOST}/rotating.json` });
    await jwks.key(c, 'ec-1');
    h.doc = jwksOf(ec1, ec2);
    clock.t += 31_000;
    expect((await jwks.key(c, 'ec-2')).kid).toBe('ec-2');
    expect(h.hits).toBe(2);
    // Random kids from an attacker: no fetch until the interval has passed.
    for (let i = 0; i < 10; i++) expect(await errorOf(jwks.key(c, `random-${i}`))).toBe('invalid_client');
    expect(h.hits).toBe(2);
    clock.t += 30_000;
    expect(await errorOf(jwks.key(c, 'random-again'))).toBe('invalid_client');
    expect(h.hits).toBe(3);
    // Known keys keep working throughout.
    expect((await jwks.key(c, 'ec-1')).kid).toBe('ec-1');
    expect(h.hits).toBe(3);
  });

  it('fetches again when the cache expires, and drops keys the host withdrew', async () => {
    const h = host('/expiring.json', jwksOf(ec1));
    const { jwks, clock } = source({ cacheMs: 300_000 });
    const c = client({ jwksUri: `${HOST}/expiring.json` });
    await jwks.key(c, 'ec-1');
    h.doc = jwksOf(ec2);
    clock.t += 299_000;
    expect((await jwks.key(c, 'ec-1')).kid).toBe('ec-1');
    expect(h.hits).toBe(1);
    clock.t += 2_000;
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
    expect(h.hits).toBe(2);
  });

  it('gives up on a slow host after the timeout and does not retry at once', async () => {
    let hits = 0;
    mock.use(
      http.get(`${HOST}/slow.json`, async () => {
        hits++;
        await delay(5_000);
        return HttpResponse.json(jwksOf(ec1));
      })
    );
    const { jwks, warnings } = source({ timeoutMs: 200 });
    const c = client({ jwksUri: `${HOST}/slow.json` });
    const started = Date.now();
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
    expect(hits).toBe(1);
    expect(warnings).toEqual([{ clientId: 'jwks-test', jwksHost: 'keys.example.org', reason: 'timeout' }]);
  });

  it.each([
    ['unreachable', () => HttpResponse.error(), 'unreachable'],
    ['HTTP 500', () => new HttpResponse('oops', { status: 500 }), 'status 500'],
    ['malformed JSON', () => new HttpResponse('{"keys": [', { headers: { 'content-type': 'application/json' } }), 'not JSON'],
    ['not a JWKS', () => HttpResponse.json({ hello: 'world' }), 'not a public JWKS'],
    ['private keys published', () => HttpResponse.json({ keys: [ec1.privateJwk] }), 'not a public JWKS'],
    ['an unusable key', () => HttpResponse.json({ keys: [{ kty: 'EC', kid: 'ec-1', crv: 'P-384', x: 'AA' }] }), 'unusable key'],
    ['a huge document', () => HttpResponse.json({ keys: [ec1.publicJwk], padding: 'x'.repeat(200_000) }), 'too large'],
    ['a redirect', () => new HttpResponse(null, { status: 302, headers: { location: 'https://elsewhere.example.org/jwks.json' } }), 'unreachable'],
  ])('refuses keys from a host answering with %s, and logs why without the document', async (_name, answer, reason) => {
    const path = `/bad-${reason.replace(/\W/g, '-')}.json`;
    mock.use(http.get(`${HOST}${path}`, answer));
    const { jwks, warnings } = source();
    expect(await errorOf(jwks.key(client({ jwksUri: `${HOST}${path}` }), 'ec-1'))).toBe('invalid_client');
    expect(warnings).toEqual([{ clientId: 'jwks-test', jwksHost: 'keys.example.org', reason }]);
  });

  it('recovers once the host is back, after the minimum interval', async () => {
    let up = false;
    mock.use(http.get(`${HOST}/flaky.json`, () => (up ? HttpResponse.json(jwksOf(ec1)) : HttpResponse.error())));
    const { jwks, clock } = source({ minRefreshIntervalMs: 30_000 });
    const c = client({ jwksUri: `${HOST}/flaky.json` });
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
    up = true;
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
    expect(jwks.fetches).toBe(1);
    clock.t += 30_000;
    expect((await jwks.key(c, 'ec-1')).kid).toBe('ec-1');
    expect(jwks.fetches).toBe(2);
  });

  it('does not serve stale keys when the refresh after expiry fails', async () => {
    let up = true;
    mock.use(http.get(`${HOST}/stale.json`, () => (up ? HttpResponse.json(jwksOf(ec1)) : HttpResponse.error())));
    const { jwks, clock } = source();
    const c = client({ jwksUri: `${HOST}/stale.json` });
    await jwks.key(c, 'ec-1');
    up = false;
    clock.t += 301_000;
    expect(await errorOf(jwks.key(c, 'ec-1'))).toBe('invalid_client');
  });
});
