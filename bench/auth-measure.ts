import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import type { Measurement } from './measure.ts';
import { cpuSeconds } from './processes.ts';

// bench/autocannon.d.ts types only GETs; the auth bench also POSTs forms.
declare module 'autocannon' {
  interface Request {
    body?: string;
  }
}

/** One request as the auth benchmark sends it. */
export interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Like measure() in measure.ts, but every request is built by `next()`, so
 * it can carry a bearer token or a freshly signed client assertion (the token
 * endpoint refuses a replayed jti, so no two token requests may be equal).
 */
export async function measureRequests(url: string, next: () => BenchRequest, seconds: number, connections: number, serverPid?: number): Promise<Measurement> {
  const cpuBefore = serverPid === undefined ? undefined : cpuSeconds(serverPid);
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
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    reqPerSec: latencies.length / result.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerReq: cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1e6) / latencies.length : Number.NaN,
    failures: result.non2xx + result.errors + result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
