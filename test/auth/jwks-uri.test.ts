import { randomUUID } from 'node:crypto';
import { HttpResponse, delay, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClientRegistry } from '../../src/auth/client-registry.ts';
import { assertionWithCrypto, assertionWithJose, claims, ecKey, jwksOf, postToken, rsaKey, TEST_ODS, tokenForm } from '../support/assertions.ts';
import type { TestKey } from '../support/assertions.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';

/*
 * Clients whose keys live at a jwks_uri, with msw standing in for their key
 * hosts. The gateway runs in this process, so msw sees its outgoing fetches;
 * requests to the gateway itself (loopback) pass through untouched.
 */

const KEY_HOST = 'https://keys.example.org';
const ecA = ecKey('uri-ec-a');
const ecB = ecKey('uri-ec-b');
const rsa = rsaKey('uri-rsa');

const mock = setupServer();
beforeAll(() => mock.listen({ onUnhandledFrame: 'bypass' }));
afterEach(() => {
  mock.resetHandlers();
  vi.useRealTimers();
});
afterAll(() => mock.close());

/** A key host for one client, counting fetches; `answer` can be swapped mid-test. */
function keyHost(path: string, doc: unknown) {
  const state = { hits: 0, answer: () => HttpResponse.json(doc as never) as Response | Promise<Response> };
  mock.use(
    http.get(`${KEY_HOST}${path}`, () => {
      state.hits++;
      return state.answer();
    })
  );
  return state;
}

describe.each(backends())('clients with a jwks_uri ($name)', (backend) => {
  const s = suiteServer(backend);
  const tokenUrl = () => `${s.baseUrl}/auth/token`;

  /** Registers a client whose keys are at KEY_HOST/<client>.json. */
  async function uriClient(): Promise<{ clientId: string; path: string }> {
    const clientId = `uri-${randomUUID().slice(0, 8)}`;
    const path = `/${clientId}.json`;
    await new ClientRegistry(s.db).register({
      clientId,
      organisation: { ods: TEST_ODS, name: 'Remote Keys Council', kind: 'local-authority' },
      jwksUri: `${KEY_HOST}${path}`,
      scopes: ['system/Patient.rs'],
      purposes: ['TREAT'],
    });
    return { clientId, path };
  }

  const ask = (clientId: string, key: TestKey, header: Record<string, unknown> = {}) =>
    postToken(tokenUrl(), tokenForm(assertionWithCrypto(key, claims(clientId, tokenUrl()), header)));

  function expectInvalidClient(r: { status: number; body: any; text: string; headers: Headers }): void {
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.text).not.toContain('keys.example.org');
  }

  it('fetches the keys once and serves many token requests from the cache', async () => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, jwksOf(ecA, rsa));
    for (let i = 0; i < 5; i++) expect((await ask(clientId, i % 2 ? rsa : ecA)).status).toBe(200);
    const jose = await assertionWithJose(ecA, claims(clientId, tokenUrl()));
    expect((await postToken(tokenUrl(), tokenForm(jose))).status).toBe(200);
    expect(host.hits).toBe(1);
  });

  it('rotated keys: a new kid triggers one refresh and is accepted; random kids do not make us hammer the host', async () => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, jwksOf(ecA));
    expect((await ask(clientId, ecA)).status).toBe(200);
    expect(host.hits).toBe(1);

    // The client rotates: its host now publishes B as well, and it signs with B.
    host.answer = () => HttpResponse.json(jwksOf(ecA, ecB) as never);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    expect((await ask(clientId, ecB)).status).toBe(200);
    expect(host.hits).toBe(2);
    expect((await ask(clientId, ecB)).status).toBe(200);
    expect(host.hits).toBe(2);

    // An attacker sending random kids: refused, with no fetch within the minimum interval.
    for (let i = 0; i < 20; i++) expectInvalidClient(await ask(clientId, ecB, { kid: `random-${i}` }));
    expect(host.hits).toBe(2);
    vi.setSystemTime(Date.now() + 31_000);
    for (let i = 0; i < 20; i++) expectInvalidClient(await ask(clientId, ecB, { kid: `random-again-${i}` }));
    expect(host.hits).toBe(3);
    expect((await ask(clientId, ecA)).status).toBe(200);
  });

  it('keys withdrawn by the host stop working once the cache expires (5 minutes)', async () => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, jwksOf(ecA));
    expect((await ask(clientId, ecA)).status).toBe(200);
    host.answer = () => HttpResponse.json(jwksOf(ecB) as never);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 301_000);
    expectInvalidClient(await ask(clientId, ecA));
    expect((await ask(clientId, ecB)).status).toBe(200);
    expect(host.hits).toBe(2);
  });

  it('a slow host: refused after the 3 s timeout, and not asked again at once', async () => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, jwksOf(ecA));
    host.answer = async () => {
      await delay(8_000);
      return HttpResponse.json(jwksOf(ecA) as never);
    };
    const started = Date.now();
    expectInvalidClient(await ask(clientId, ecA));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(2_900);
    expect(took).toBeLessThan(6_000);
    const again = Date.now();
    expectInvalidClient(await ask(clientId, ecA));
    expect(Date.now() - again).toBeLessThan(1_000);
    expect(host.hits).toBe(1);
  });

  it.each([
    ['unreachable', () => HttpResponse.error()],
    ['HTTP 503', () => new HttpResponse('down for maintenance', { status: 503 })],
    ['malformed JSON', () => new HttpResponse('{"keys":[{"kty":', { headers: { 'content-type': 'application/json' } })],
    ['an HTML page', () => new HttpResponse('<html>login</html>', { headers: { 'content-type': 'text/html' } })],
    ['private keys published', () => HttpResponse.json({ keys: [ecA.privateJwk] })],
    ['no keys', () => HttpResponse.json({ keys: [] })],
  ])('a host answering with %s: invalid_client', async (_name, answer) => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, undefined);
    host.answer = answer as () => Response;
    expectInvalidClient(await ask(clientId, ecA));
    expect(host.hits).toBe(1);
  });

  it('a host that recovers is used again after the minimum interval', async () => {
    const { clientId, path } = await uriClient();
    const host = keyHost(path, jwksOf(ecA));
    host.answer = () => HttpResponse.error();
    expectInvalidClient(await ask(clientId, ecA));
    host.answer = () => HttpResponse.json(jwksOf(ecA) as never);
    expectInvalidClient(await ask(clientId, ecA));
    expect(host.hits).toBe(1);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    expect((await ask(clientId, ecA)).status).toBe(200);
    expect(host.hits).toBe(2);
  });
});
