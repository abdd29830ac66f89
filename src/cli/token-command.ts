import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { ClientRegistry } from '../auth/client-registry.ts';
import { demoKeyFile, readDemoManifest } from '../auth/demo-manifest.ts';
import { OdsCode } from '../auth/organisation.ts';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import { loadConfig } from '../config.ts';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/open-database.ts';
import { buildClientAssertion, signingKeyFromJwk } from './client-assertion-builder.ts';
import { CliError, parseInput, splitList } from './common.ts';

/**
 * `joinedup token`: what a client system does to get an access token, for
 * operators, demos and scripts. Prints only the token on stdout, so
 * `TOKEN=$(npx joinedup token ...)` works; everything else goes to stderr.
 */
export function addTokenCommand(program: Command): void {
  program
    .command('token')
    .description('get an access token from a running gateway: signs a client assertion (private_key_jwt) and prints the access token')
    .option('--client <id>', 'client_id')
    .option('--purpose <code>', `purpose of use: ${PURPOSE_CODES.join(', ')}`)
    .option('--user <id>', 'the end user (subject_id), e.g. demo-gp-user-1')
    .option('--role <code>', 'SDS job role code of the user, e.g. R8000')
    .option('--user-name <name>', 'display name of the user (subject_name)')
    .option('--org <ods>', "the client organisation's ODS code (default: from the demo manifest, or the client's registration)")
    .option('--key <file>', 'private JWK file (default: the demo key for --client under DATA_DIR/demo-clients)')
    .option('--url <url>', 'base URL of the gateway (default: BASE_URL, else http://127.0.0.1:PORT)')
    .option('--scope <scopes...>', 'scopes to ask for (default: all the client is allowed)')
    .option('--justification <text>', 'why (required for BTG, ETREAT and safeguarding)')
    .option('--consent-reference <ref>', 'a reference to the consent relied on')
    .action(async (raw: Record<string, unknown>) => {
      const config = loadConfig();
      const o = parseInput(TokenOptions, raw);
      const res = await requestAccessToken(config, o);
      process.stdout.write(`${res}\n`);
    });
}

export type TokenRequest = z.infer<typeof TokenOptions>;

/**
 * What `joinedup token` does, for other commands (import): signs a client
 * assertion and exchanges it at the gateway's token endpoint. Throws a
 * CliError saying what went wrong.
 */
export async function requestAccessToken(config: Config, o: TokenRequest): Promise<string> {
  const baseUrl = (o.url ?? defaultUrl(config)).replace(/\/+$/, '');
  const keyFile = o.key ?? demoKeyFile(config.DATA_DIR, o.client);
  const signer = loadKey(keyFile, o.key === undefined, o.client);
  const ods = o.org ?? (await defaultOds(config, o.client));
  const tokenUrl = await discoverTokenUrl(baseUrl);
  const assertion = buildClientAssertion(signer, {
    clientId: o.client,
    tokenUrl,
    ods,
    user: { id: o.user, name: o.userName, role: o.role },
    purpose: o.purpose,
    justification: o.justification,
    consentReference: o.consentReference,
  });
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  const scopes = splitList(o.scope);
  if (scopes.length) form.set('scope', scopes.join(' '));
  return post(tokenUrl, form);
}

export const TokenOptions = z.object({
  client: z.string({ error: 'required' }).regex(/^[A-Za-z0-9._-]{3,100}$/, 'client ids are 3-100 of A-Z a-z 0-9 . _ -'),
  purpose: z.enum(PURPOSE_CODES, { error: `required, one of ${PURPOSE_CODES.join(', ')}` }),
  user: z.string({ error: 'required' }).min(1).max(200),
  role: z.string({ error: 'required' }).regex(/^R\d{4}$/, 'an SDS job role code: R and four digits, e.g. R8000'),
  userName: z.string().min(1).max(200).optional(),
  org: OdsCode.optional(),
  key: z.string().min(1).optional(),
  url: z
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'an http(s) URL')
    .optional(),
  scope: z.array(z.string()).optional(),
  justification: z.string().min(1).max(1000).optional(),
  consentReference: z.string().min(1).max(500).optional(),
});

export function defaultUrl(config: Config): string {
  if (config.BASE_URL) return config.BASE_URL;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
}

function loadKey(file: string, isDemoDefault: boolean, clientId: string): ReturnType<typeof signingKeyFromJwk> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new CliError(
      isDemoDefault
        ? `no demo key for ${clientId} at ${file}; give the client's private key with --key <file> (joinedup keys generate makes one)`
        : `cannot read the key file ${file}`
    );
  }
  try {
    return signingKeyFromJwk(JSON.parse(text) as Record<string, unknown>);
  } catch (err) {
    throw new CliError(`--key ${file}: ${err instanceof SyntaxError ? 'not JSON' : (err as Error).message}`, 2);
  }
}

/**
 * The organisation the request is made for: the demo manifest knows the demo
 * clients; otherwise the registry does, but in embedded mode the gateway
 * holds the database, so there --org is needed.
 */
async function defaultOds(config: Config, clientId: string): Promise<string> {
  const demo = readDemoManifest(config.DATA_DIR)?.clients.find((c) => c.clientId === clientId);
  if (demo) return demo.organisation.ods;
  if (config.DATABASE_URL) {
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 1 });
    try {
      const record = await new ClientRegistry(db).get(clientId);
      if (record) return record.organisation.ods;
    } finally {
      await db.close();
    }
  }
  throw new CliError(`--org: give the ODS code of ${clientId}'s organisation (it is not a demo client)`, 2);
}

/** The token endpoint as the gateway advertises it: the assertion's aud must match it exactly. */
async function discoverTokenUrl(baseUrl: string): Promise<string> {
  const url = `${baseUrl}/.well-known/smart-configuration`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  } catch {
    throw new CliError(`cannot reach the gateway at ${baseUrl}: is it running (npm start)? Use --url to point elsewhere.`);
  }
  if (!res.ok) throw new CliError(`${url} answered HTTP ${res.status}: is ${baseUrl} a JoinedUp gateway with SMART authentication on?`);
  const body = (await res.json().catch(() => undefined)) as { token_endpoint?: unknown } | undefined;
  if (typeof body?.token_endpoint !== 'string') throw new CliError(`${url} does not name a token_endpoint`);
  return body.token_endpoint;
}

/** POSTs the token request; the access token, or a CliError carrying the RFC 6749 error. */
async function post(tokenUrl: string, form: URLSearchParams): Promise<string> {
  let res: Response;
  try {
    res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new CliError(`cannot reach the token endpoint ${tokenUrl}`);
  }
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.ok && typeof body?.access_token === 'string') return body.access_token;
  if (typeof body?.error === 'string') {
    const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
    throw new CliError(`token request refused (HTTP ${res.status}) ${body.error}${description}`);
  }
  throw new CliError(`token request failed with HTTP ${res.status}`);
}
