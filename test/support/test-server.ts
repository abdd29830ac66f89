import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { startServer } from '../../src/server.ts';
import type { RunningServer } from '../../src/server.ts';
import type { Backend } from './backends.ts';

export interface TestServer extends RunningServer {
  fhir: string;
  /** fetch against the FHIR base with FHIR JSON headers. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function startTestServer(db: Database, env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const server = await startServer(config, db);
  const fhir = `${server.baseUrl}/fhir`;
  return {
    ...server,
    fhir,
    async request(method, path, body, headers = {}) {
      const res = await fetch(path.startsWith('http') ? path : `${fhir}/${path.replace(/^\//, '')}`, {
        method,
        headers: {
          accept: 'application/fhir+json',
          ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
  };
}

/**
 * One server on a fresh database of this backend for the enclosing describe
 * block: started before its tests, closed after. The returned object forwards
 * to the running server, so tests write `s.request(...)` and `s.db`.
 */
export function suiteServer(backend: Backend, env: Record<string, string> = {}): TestServer {
  let server: TestServer | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    db = await backend.open();
    server = await startTestServer(db, env);
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
  });
  return new Proxy({} as TestServer, {
    get(_target, prop) {
      if (!server) throw new Error('suiteServer: used outside a test of its describe block');
      return Reflect.get(server, prop);
    },
  });
}
