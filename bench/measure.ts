import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import { cpuSeconds, postgresCpuSeconds } from './processes.ts';

export interface Measurement {
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Server process CPU time (user + system) per 2xx response, in microseconds; NaN if unknown. */
  cpuUsPerReq: number;
  /** CPU time of the local PostgreSQL's processes per 2xx response, in microseconds; NaN if unknown. */
  pgCpuUsPerReq: number;
  /** CPU time of this process (the load generator) per 2xx response, in microseconds. */
  clientCpuUsPerReq: number;
  /** Responses that were not 2xx, plus connection errors and timeouts. */
  failures: number;
  statusCodes: Record<string, number>;
}

// bench/autocannon.d.ts types only GETs; the auth bench also POSTs forms.
declare module 'autocannon' {
  interface Request {
    body?: string;
  }
}

/** One request as a benchmark sends it. */
export interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * One autocannon run against `url` for `seconds`, every request taking the
 * next path from `paths` (shared by all connections, so they spread over the
 * whole data set).
 */
export function measure(url: string, paths: string[], seconds: number, connections: number, serverPid?: number): Promise<Measurement> {
  let next = 0;
  const headers = { accept: 'application/fhir+json' };
  return measureRequests(url, () => ({ method: 'GET', path: paths[next++ % paths.length]!, headers }), seconds, connections, serverPid);
}

/**
 * One autocannon run where every request is built by `next()`, so it can
 * carry a bearer token or a freshly signed client assertion (the token
 * endpoint refuses a replayed jti, so no two token requests may be equal).
 * Latency percentiles come from autocannon's per-response times in
 * fractional milliseconds (its own histogram is whole milliseconds).
 */
export async function measureRequests(url: string, next: () => BenchRequest, seconds: number, connections: number, serverPid?: number): Promise<Measurement> {
  const cpuBefore = serverPid === undefined ? undefined : cpuSeconds(serverPid);
  const pgBefore = postgresCpuSeconds();
  const clientBefore = process.cpuUsage();
  const latencies: number[] = [];
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
      },
      (err, res) => (err ? reject(err) : resolve(res))
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  const cpuAfter = serverPid === undefined ? undefined : cpuSeconds(serverPid);
  const pgAfter = postgresCpuSeconds();
  const client = process.cpuUsage(clientBefore);
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    reqPerSec: latencies.length / result.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerReq: cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1e6) / latencies.length : Number.NaN,
    pgCpuUsPerReq: pgBefore !== undefined && pgAfter !== undefined ? ((pgAfter - pgBefore) * 1e6) / latencies.length : Number.NaN,
    clientCpuUsPerReq: (client.user + client.system) / latencies.length,
    failures: result.non2xx + result.errors + result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
