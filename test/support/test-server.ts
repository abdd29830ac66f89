import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Actor } from '../../src/request-context.ts';
import { ClientExistsError } from '../../src/auth/client-registry.ts';
import { PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { startServer } from '../../src/server.ts';
import { addAgreement } from '../../src/gate/agreements/agreement-store.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeAuditCoverage } from './audit-coverage.ts';
import type { Backend } from './backends.ts';

export interface TestServer extends RunningServer {
  fhir: string;
  /**
   * A bearer token for the test client (every scope, every purpose), issued
   * directly by the server's AccessTokens rather than the token endpoint, so
   * API suites test the API and not OAuth. Renewed before it expires.
   */
  readonly token: string;
  /** The actor every `request` acts as. */
  readonly actor: Omit<Actor, 'tokenId'>;
  /** Issues a token for another actor (e.g. narrower scopes). */
  issueToken(overrides?: Partial<Omit<Actor, 'tokenId'>>): Promise<string>;
  /** Stores a sharing agreement (a file as `agreement add` takes it) and makes the gate see it at once. */
  addAgreement(file: unknown): Promise<void>;
  /**
   * fetch against the FHIR base with FHIR JSON headers and the test client's
   * bearer token. Pass `authorization` to send another one, or '' to send none.
   */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export const TEST_CLIENT_ID = 'test-client';

/** The actor the harness's requests act as: a test council client allowed everything. */
export const TEST_ACTOR: Omit<Actor, 'tokenId'> = {
  clientId: TEST_CLIENT_ID,
  organisation: { ods: 'X99001', name: 'Test Council', kind: 'local-authority' },
  user: { id: 'test-user-1', name: 'Test User', role: 'R8000' },
  purposeOfUse: 'TREAT',
  scopes: parseScopes('system/*.cruds'),
};

/** Renew this long before expiry, so a token never lapses in the middle of a request. */
const RENEW_MARGIN_MS = 30_000;

declare module 'vitest' {
  interface ProvidedContext {
    /** Where every test gateway writes its log; global-setup.ts makes it and scans it when the run ends. */
    joinedupTestLogDir?: string;
  }
}

/**
 * The suites call the API far faster than any real client, from one client
 * and one address: limits that never bite, but still run the limiter's code.
 * test/faults/rate-limit.test.ts sets its own.
 */
const TEST_RATE_LIMITS = { RATE_LIMIT_PER_CLIENT: '1000000', RATE_LIMIT_BURST: '1000000', RATE_LIMIT_TOKEN_PER_IP: '1000000' };

let serversStarted = 0;

/**
 * Every test gateway logs at debug level to its own file in the run's log
 * directory (global-setup.ts), which is scanned for personal data when the
 * run ends. A `.started` marker beside it lets the scan notice a gateway
 * that logged nowhere.
 */
function logSettings(): Record<string, string> {
  const dir = inject('joinedupTestLogDir');
  if (!dir) return { LOG_LEVEL: 'silent' };
  const name = `gateway-${process.pid}-${++serversStarted}`;
  writeFileSync(join(dir, `${name}.started`), '');
  return { LOG_LEVEL: 'debug', LOG_FILE: join(dir, `${name}.ndjson`) };
}

export async function startTestServer(db: Database, env: Record<string, string> = {}): Promise<TestServer> {
  const logs = logSettings();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ...TEST_RATE_LIMITS, ...logs, ...env });
  const running = await startServer(config, db);
  const server: RunningServer = {
    ...running,
    async close() {
      await running.close();
      await closeLog(running.logger);
      if (logs.LOG_FILE && config.LOG_FILE === logs.LOG_FILE) await writeAuditCoverage(db, logs.LOG_FILE);
    },
  };
  await registerTestClient(server);
  const fhir = `${server.baseUrl}/fhir`;
  const issueToken = async (overrides: Partial<Omit<Actor, 'tokenId'>> = {}) =>
    (await server.tokens.issue({ ...TEST_ACTOR, ...overrides })).accessToken;
  let token = '';
  let renewAt = 0;
  const currentToken = async (): Promise<string> => {
    if (Date.now() >= renewAt) {
      const issued = await server.tokens.issue(TEST_ACTOR);
      token = issued.accessToken;
      renewAt = Date.now() + issued.expiresIn * 1000 - RENEW_MARGIN_MS;
    }
    return token;
  };
  await currentToken();
  return {
    ...server,
    fhir,
    get token() {
      return token;
    },
    actor: TEST_ACTOR,
    issueToken,
    async addAgreement(file) {
      await addAgreement(server.db, file);
      server.gate.invalidatePolicy();
    },
    async request(method, path, body, headers = {}) {
      const { authorization = `Bearer ${await currentToken()}`, ...rest } = headers;
      const res = await fetch(path.startsWith('http') ? path : `${fhir}/${path.replace(/^\//, '')}`, {
        method,
        headers: {
          accept: 'application/fhir+json',
          ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
          ...(authorization ? { authorization } : {}),
          ...rest,
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

/** Writes out what the logger still holds and closes its file, so the scan sees every line and no descriptor leaks. */
async function closeLog(logger: RunningServer['logger']): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { fd?: number; end?: () => void; once?: (e: string, f: () => void) => void; destroyed?: boolean } | undefined;
  // Only a file destination (LOG_FILE): stdout is not ours to close.
  if (!stream?.end || !stream.once || stream.fd === 1 || stream.fd === 2 || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    stream.once?.('close', resolve);
    stream.once?.('error', () => resolve());
    stream.end?.();
  });
}

/**
 * Registers the test client once per database (several servers may share
 * one), as an operator would, so the registry is not empty. Its key is never
 * used: the harness issues tokens directly.
 */
async function registerTestClient(server: RunningServer): Promise<void> {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  const registration = {
    clientId: TEST_CLIENT_ID,
    organisation: TEST_ACTOR.organisation,
    jwks: { keys: [{ ...jwk, kid: randomUUID(), alg: 'ES384', use: 'sig' }] },
    scopes: ['system/*.cruds'],
    purposes: [...PURPOSE_CODES],
  };
  await server.clients.register(registration).catch((err: unknown) => {
    if (!(err instanceof ClientExistsError)) throw err;
  });
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
