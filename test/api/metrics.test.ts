import { describe, expect, test } from 'vitest';
import { parseScopes } from '../../src/auth/scopes.ts';
import { backends } from '../support/backends.ts';
import { testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

/** Issue #9 item 1: Prometheus metrics on a port of their own, with route shapes and never ids. */
describe.each(backends())('metrics ($name)', (backend) => {
  const s = suiteServer(backend, { METRICS_PORT: '0' });

  const scrape = async (): Promise<string> => {
    const res = await fetch(s.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };

  test('the metrics server listens on its own loopback port', () => {
    expect(s.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(s.metricsUrl!).port).not.toBe(new URL(s.baseUrl).port);
  });

  test('FHIR requests are counted and timed by route shape, with no id in any label', async () => {
    const created = await s.request('POST', 'Patient', testPatient(1));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await s.request('GET', `Patient/${id}`)).status).toBe(200);
    expect((await s.request('GET', 'Patient/not-there-0123')).status).toBe(404);

    const text = await scrape();
    expect(text).toMatch(/joinedup_http_requests_total\{route="\/fhir\/Patient",method="POST",status="201"\} 1/);
    expect(text).toMatch(/joinedup_http_requests_total\{route="\/fhir\/Patient\/:id",method="GET",status="200"\} 1/);
    expect(text).toMatch(/joinedup_http_requests_total\{route="\/fhir\/Patient\/:id",method="GET",status="404"\} 1/);
    expect(text).toMatch(/joinedup_http_request_duration_seconds_bucket\{le="[^"]+",route="\/fhir\/Patient\/:id",method="GET"\}/);
    expect(text).toMatch(/joinedup_http_request_duration_seconds_count\{route="\/fhir\/Patient\/:id",method="GET"\} 2/);
    expect(text).toMatch(/joinedup_gate_decisions_total\{outcome="(permit|deny)",rule="[^"]+"\} \d+/);
    expect(text).toMatch(/joinedup_audit_append_seconds_count\{result="ok"\} [1-9]/);
    // Default process metrics share the registry.
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).not.toContain(id);
    expect(text).not.toContain('not-there-0123');
  });

  test('council pushes are counted by result status', async () => {
    const token = await s.issueToken({ organisation: { ods: 'X9C01', name: 'Test Council', kind: 'local-authority' }, scopes: parseScopes('system/council.write system/*.rs') });
    const res = await s.request('POST', `${s.baseUrl}/council/v1/records`, {}, { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(await scrape()).toMatch(/joinedup_council_records_total\{status="rejected"\} 1/);
  });

  test('/metrics on the API port is 404, and the metrics port serves nothing else', async () => {
    expect((await fetch(`${s.baseUrl}/metrics`)).status).toBe(404);
    const other = new URL(s.metricsUrl!);
    other.pathname = '/fhir/metadata';
    expect((await fetch(other)).status).toBe(404);
  });

  test('the pool gauge is there on PostgreSQL only', async () => {
    const text = await scrape();
    if (s.db.kind === 'postgres') expect(text).toMatch(/joinedup_db_pool\{state="total"\} \d+/);
    else expect(text).not.toContain('joinedup_db_pool');
  });
});

describe('metrics off by default', () => {
  const s = suiteServer(backends()[0]!);

  test('without METRICS_PORT there is no metrics server and no /metrics on the API port', async () => {
    expect(s.metricsUrl).toBeUndefined();
    expect((await fetch(`${s.baseUrl}/metrics`)).status).toBe(404);
  });
});

describe('rate limits are counted', () => {
  const s = suiteServer(backends()[0]!, { METRICS_PORT: '0', RATE_LIMIT_PER_CLIENT: '1', RATE_LIMIT_BURST: '2' });

  test('each 429 of the per-client limit adds one to joinedup_rate_limited_total{limit="client"}', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await s.request('GET', 'Patient?_count=1')).status);
    const refused = statuses.filter((st) => st === 429).length;
    expect(refused).toBeGreaterThan(0);
    const text = await (await fetch(s.metricsUrl!)).text();
    expect(text).toContain(`joinedup_rate_limited_total{limit="client"} ${refused}`);
  });
});
