import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { TokenBuckets, tokenRateLimit, withClientRateLimit } from '../../src/http/rate-limit.ts';
import type { AccessTokens } from '../../src/auth/access-token.ts';
import { backends } from '../support/backends.ts';
import { testPatient } from '../support/fixtures.ts';
import { TEST_ACTOR, suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';

/**
 * Issue #9: a flood from one client is answered 429 with Retry-After while
 * other clients go on as normal; the flooder is let in again once its bucket
 * has refilled. The token endpoint, which has no client yet, is limited per
 * address and answers as OAuth does.
 */
const PER_SECOND = 20;
const BURST = 40;
const TOKEN_PER_MINUTE = 30;
const FLOOD = 300;

describe('TokenBuckets', () => {
  test('a burst, then the sustained rate, with Retry-After in whole seconds', () => {
    let now = 1_000_000;
    const b = new TokenBuckets({ ratePerSecond: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => b.take('a').allowed)).toEqual([true, true, true]);
    expect(b.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // Another key has its own bucket.
    expect(b.take('b').allowed).toBe(true);
    now += 499;
    expect(b.take('a').allowed).toBe(false);
    now += 1;
    expect(b.take('a').allowed).toBe(true);
    expect(b.take('a').allowed).toBe(false);
    now += 10_000;
    // Refilled to the burst, never beyond it.
    expect([1, 2, 3, 4].map(() => b.take('a').allowed)).toEqual([true, true, true, false]);
  });

  test('a slow refill rounds Retry-After up', () => {
    let now = 0;
    const b = new TokenBuckets({ ratePerSecond: 30 / 60, burst: 1, now: () => now });
    expect(b.take('ip').allowed).toBe(true);
    expect(b.take('ip')).toEqual({ allowed: false, retryAfterSeconds: 2 });
    now += 1_500;
    expect(b.take('ip')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  test('memory stays bounded: idle (full) buckets are swept, and the least recently used goes past maxKeys', () => {
    let now = 0;
    const b = new TokenBuckets({ ratePerSecond: 1, burst: 2, maxKeys: 100, now: () => now });
    for (let i = 0; i < 1000; i++) b.take(`client-${i}`);
    expect(b.size).toBe(100);
    // client-999 was used last and is remembered; its bucket is down one token.
    b.take('client-999');
    expect(b.take('client-999').allowed).toBe(false);
    now += 61_000;
    b.take('fresh');
    // Everything else had refilled: the sweep forgot it.
    expect(b.size).toBe(1);
  });

  test('0 turns each limit off', () => {
    const deps = { config: { RATE_LIMIT_PER_CLIENT: 0, RATE_LIMIT_BURST: 5, RATE_LIMIT_TOKEN_PER_IP: 0 }, auth: { tokens: {} as AccessTokens } };
    expect(withClientRateLimit(deps)).toBe(deps);
    expect(tokenRateLimit(deps.config)).toEqual([]);
    const on = withClientRateLimit({ ...deps, config: { ...deps.config, RATE_LIMIT_PER_CLIENT: 1 } });
    expect(on.auth.tokens).not.toBe(deps.auth.tokens);
    expect(tokenRateLimit({ ...deps.config, RATE_LIMIT_TOKEN_PER_IP: 1 })).toHaveLength(1);
  });

  test('refuses settings that would never let anything through', () => {
    expect(() => new TokenBuckets({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
  });
});

const backend = backends()[0];
if (!backend) throw new Error('no test backend');

describe(`Per-client rate limits over HTTP (${backend.name})`, () => {
  const s = suiteServer(backend, {
    RATE_LIMIT_PER_CLIENT: String(PER_SECOND),
    RATE_LIMIT_BURST: String(BURST),
    RATE_LIMIT_TOKEN_PER_IP: String(TOKEN_PER_MINUTE),
    METRICS_PORT: '0',
  });

  test(
    'a flood from one client gets 429 with Retry-After; another client in the same window is unaffected; the flooder gets in again after Retry-After',
    async () => {
      const patient = await s.request('POST', 'Patient', testPatient(31));
      expect(patient.status).toBe(201);
      const other = await registerClient('rate-limit-other-client');
      const otherToken = await s.issueToken({ clientId: other });
      // The flooder is the harness's own client: wait for its bucket to refill after the create above.
      await sleep(1_000);

      const started = Date.now();
      const flood = Promise.all(Array.from({ length: FLOOD }, () => s.request('GET', `Patient/${patient.body.id}`)));
      // The other client paces itself well inside its own limit while the flood is on.
      const calm: Array<{ status: number; ms: number }> = [];
      for (let i = 0; i < 10; i++) {
        const t = Date.now();
        const r = await s.request('GET', `Patient/${patient.body.id}`, undefined, { authorization: `Bearer ${otherToken}` });
        calm.push({ status: r.status, ms: Date.now() - t });
        await sleep(50);
      }
      const flooded = await flood;
      const elapsed = (Date.now() - started) / 1000;

      expect(calm.map((c) => c.status)).toEqual(Array(10).fill(200));
      const statuses = count(flooded);
      expect(Object.keys(statuses).sort()).toEqual(['200', '429']);
      // The burst plus what refilled while the flood lasted, give or take the rounding of a second.
      expect(statuses[200]).toBeGreaterThanOrEqual(BURST);
      expect(statuses[200]).toBeLessThanOrEqual(BURST + Math.ceil(elapsed * PER_SECOND) + 1);
      expect(statuses[429]).toBeGreaterThanOrEqual(FLOOD - BURST - Math.ceil(elapsed * PER_SECOND) - 1);

      const refused = flooded.filter((r) => r.status === 429);
      let retryAfter = 0;
      for (const r of refused) {
        const header = r.headers.get('retry-after') ?? '';
        expect(header).toMatch(/^[1-9]\d*$/);
        retryAfter = Math.max(retryAfter, Number(header));
        expect(r.headers.get('content-type')).toContain('application/fhir+json');
        expect(r.body.resourceType).toBe('OperationOutcome');
        expect(r.body.issue[0].code).toBe('throttled');
        expect(r.body.issue[0].details.text).toMatch(/Too many requests from this client/);
      }
      expect(retryAfter).toBe(1);

      await sleep(retryAfter * 1000);
      const again = await s.request('GET', `Patient/${patient.body.id}`);
      expect(again.status).toBe(200);

      // 429s are counted like every other answer (joinedup_http_requests_total by status).
      const metrics = await (await fetch(s.metricsUrl ?? '')).text();
      const throttled = metrics.split('\n').filter((l) => l.startsWith('joinedup_http_requests_total{') && l.includes('status="429"'));
      expect(throttled.reduce((n, l) => n + Number(l.split(' ').pop()), 0)).toBe(statuses[429]);
    },
    60_000
  );

  test(
    'a flood of token requests from one address gets 429 with Retry-After as RFC 6749 JSON, and is let in again after it',
    async () => {
      const tokenUrl = `${s.baseUrl}/auth/token`;
      const post = async (): Promise<TestResponse> => {
        const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
        const text = await res.text();
        return { status: res.status, headers: res.headers, text, body: JSON.parse(text) };
      };
      const answers = await Promise.all(Array.from({ length: 100 }, post));
      const statuses = count(answers);
      // Within the first minute's allowance the endpoint answers for itself (no client assertion: 400).
      expect(statuses[400]).toBeGreaterThanOrEqual(TOKEN_PER_MINUTE);
      expect(statuses[400]).toBeLessThanOrEqual(TOKEN_PER_MINUTE + 1);
      expect(statuses[429]).toBe(100 - (statuses[400] ?? 0));
      const refused = answers.find((r) => r.status === 429);
      expect(refused?.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/Too many token requests from this address/) });
      expect(refused?.headers.get('cache-control')).toBe('no-store');
      const retryAfter = Number(refused?.headers.get('retry-after'));
      // 30 a minute: one every two seconds.
      expect(retryAfter).toBe(2);
      await sleep(retryAfter * 1000);
      expect((await post()).status).toBe(400);
    },
    30_000
  );

  async function registerClient(clientId: string): Promise<string> {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    await s.clients.register({
      clientId,
      organisation: TEST_ACTOR.organisation,
      jwks: { keys: [{ ...jwk, kid: randomUUID(), alg: 'ES384', use: 'sig' }] },
      scopes: ['system/*.cruds'],
      purposes: [...PURPOSE_CODES],
    });
    return clientId;
  }
});

describe(`One bucket per client across the APIs (${backend.name})`, () => {
  // One request every five seconds after a burst of three: nothing refills while the test looks.
  const s = suiteServer(backend, { RATE_LIMIT_PER_CLIENT: '0.2', RATE_LIMIT_BURST: '3' });

  test('a client that spent its burst on /fhir is refused on /council, /ig/v1 and /cds-services too; public paths are not charged', async () => {
    const auth = { authorization: `Bearer ${s.token}` };
    const burst = await Promise.all(Array.from({ length: 3 }, () => s.request('GET', 'Patient?_count=1', undefined, auth)));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const [method, url] of [
      ['POST', `${s.baseUrl}/council/v1/records`],
      ['GET', `${s.baseUrl}/ig/v1/audit-events`],
      ['POST', `${s.baseUrl}/cds-services/patient-consent-consult`],
      ['GET', 'Patient?_count=1'],
    ] as const) {
      const r = await s.request(method, url, method === 'POST' ? {} : undefined, auth);
      expect(r.status, `${method} ${url}`).toBe(429);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.body.issue[0].code).toBe('throttled');
    }
    // The public CapabilityStatement needs no token, so no client is charged for it.
    expect((await s.request('GET', 'metadata', undefined, { authorization: '' })).status).toBe(200);
  });
});

function count(responses: Array<{ status: number }>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}
