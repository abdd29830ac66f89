import { randomUUID } from 'node:crypto';
import { FhirRouter } from '@medplum/fhir-router';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AccessTokens } from '../auth/access-token.ts';
import { authenticate } from '../auth/authenticate.ts';
import type { ClientStatusCache } from '../auth/client-status.ts';
import type { ClientRegistry } from '../auth/client-registry.ts';
import { JWKS_PATH, TOKEN_PATH, capabilitySecurity, jwksDocument, smartConfiguration } from '../auth/discovery.ts';
import type { GatewayKeys } from '../auth/gateway-keys.ts';
import type { JwksSource } from '../auth/jwks-source.ts';
import { tokenEndpoint, tokenFormError } from '../auth/token-endpoint.ts';
import { codeSystemRead, codeSystemSearch } from './code-system-route.ts';
import { healthz, readyz } from './health-routes.ts';
import type { AuditBatcher } from '../audit/audit-batcher.ts';
import type { GateServices } from '../gate/enforce/gate-services.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/sql-client.ts';
import { buildCapabilityStatement } from '../fhir/capability-statement.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import type { WriteRules } from '../fhir/repo/write-rules-port.ts';
import { isSupportedResourceType } from '../fhir/resource-types.ts';
import type { RequestContext } from '../request-context.ts';
import { COUNCIL_SCHEMA_PATH, councilSchemaHandler } from './council-schema-route.ts';
import { councilRouter } from './council-routes.ts';
import { cdsRouter } from '../cds/cds-routes.ts';
import { igRouter } from '../ig/ig-routes.ts';
import { igWebRouter } from '../ig-web/routes.ts';
import { measuresRouter } from '../measures/routes.ts';
import { fhirHandler } from './fhir-handler.ts';
import { sendJson } from './fhir-response.ts';
import { bodyErrorToHttp, jsonBody } from './json-body.ts';
import { httpError, toErrorResponse } from './outcome.ts';
import type { GatewayMetrics } from '../ops/metrics.ts';
import { tokenRateLimit, withClientRateLimit } from './rate-limit.ts';

export interface AppDeps {
  config: Config;
  baseUrl: string;
  db: Database;
  validator: ResourceValidator;
  profileForType: (type: string) => string | undefined;
  logger: Logger;
  version: string;
  auth: AuthDeps;
  /** The lawful-basis gate's shared services; each request gets its own RequestGate over them. */
  gate: GateServices;
  /** Group commit of audit records (reads, refusals, failures, token failures). */
  audit: AuditBatcher;
  /** Benchmark baseline only (ServerOptions.ungatedBaselineForBenchmarks): /fhir without the gate. */
  ungated?: boolean;
  /** Benchmark baseline only (ServerOptions.unauditedBaselineForBenchmarks): /fhir exchanges without audit records. */
  unaudited?: boolean;
  /** After each committed write transaction, with the references written (FHIR Subscriptions). */
  onCommitted?: (context: RequestContext, written: readonly string[]) => void;
  /** Business rules on every FHIR write (joint work, src/joint-work/). */
  writeRules?: WriteRules;
  /** Prometheus metrics (src/ops/metrics.ts), served on their own port; absent, nothing is counted. */
  metrics?: GatewayMetrics;
}

/** The identity services the composition root builds (server.ts). */
export interface AuthDeps {
  keys: GatewayKeys;
  tokens: AccessTokens;
  clients: ClientRegistry;
  /** Fetches and caches clients' jwks_uri documents. */
  jwks: JwksSource;
  /** One memory of which clients are active, shared by every authenticated route. */
  clientStatus: ClientStatusCache;
}

// The whole form is a few fields around one client assertion (at most 16 KB,
// checked by the token endpoint): anything much larger is refused unread.
const TOKEN_FORM_LIMIT = 64 * 1024;

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(unlimited: AppDeps): express.Express {
  // Per-client rate limit (src/http/rate-limit.ts): charged where each authenticated route verifies its token.
  const deps = withClientRateLimit(unlimited);
  const { config, logger } = deps;
  const baseUrl = `${deps.baseUrl}/fhir`;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    // No actor yet: authenticate() adds it from the bearer token.
    const context: RequestContext = { requestId, authMode: config.AUTH_MODE };
    res.locals.context = context;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeShape(req.originalUrl);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info({ requestId, method: req.method, route, status: res.statusCode, ms }, 'request');
      deps.metrics?.observeRequest(route, req.method, res.statusCode, ms / 1000);
    });
    next();
  });

  // OAuth and discovery live outside the FHIR API: plain JSON, OAuth error
  // shapes, no FHIR content negotiation, and no bearer token.
  const smartConfig = smartConfiguration(deps.baseUrl);
  app.get('/.well-known/smart-configuration', smartConfig);
  app.get('/fhir/.well-known/smart-configuration', smartConfig);
  app.get(JWKS_PATH, jwksDocument(deps.auth.keys));
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(deps.db, logger));
  // The council format's JSON Schema is public, like the discovery documents.
  app.get(COUNCIL_SCHEMA_PATH, councilSchemaHandler());
  app.get('/fhir/CodeSystem', codeSystemSearch);
  app.get('/fhir/CodeSystem/:id', codeSystemRead);
  app.use(councilRouter(deps)); // POST /council/v1/records: authenticates and parses its own body (council-routes.ts)
  app.use(igRouter(deps)); // /ig/v1: IG API, information-governance clients only (src/ig/ig-routes.ts)
  app.use(igWebRouter(deps)); // /ig: the IG web page for people, cookie sessions (src/ig-web/routes.ts, docs/ig-web.md)
  app.use(cdsRouter(deps)); // CDS Hooks consent decision service (src/cds/cds-routes.ts)
  app.post(
    TOKEN_PATH,
    ...tokenRateLimit(config, deps.metrics),
    express.urlencoded({ extended: false, limit: TOKEN_FORM_LIMIT, parameterLimit: 20 }),
    tokenEndpoint({
      clients: deps.auth.clients,
      sql: deps.db,
      tokens: deps.auth.tokens,
      tokenUrl: `${deps.baseUrl}${TOKEN_PATH}`,
      jwks: deps.auth.jwks,
      logger,
      audit: deps.audit,
    }),
    tokenFormError({ audit: deps.audit, logger })
  );

  // Before body parsing: a request without a valid token is refused without
  // reading (or paying to parse) what it sent.
  app.use('/fhir', authenticate(deps.auth.tokens, config.AUTH_MODE, isPublicFhirPath, deps.auth.clientStatus));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    const accept = req.headers.accept;
    const format = typeof req.query._format === 'string' ? req.query._format : undefined;
    if (format && !/json/.test(format)) {
      next(httpError(406, 'not-supported', `_format "${format}" is not supported; this server speaks application/fhir+json`, ['_format']));
      return;
    }
    if (accept && !req.accepts(['application/fhir+json', 'application/json'])) {
      next(httpError(406, 'not-supported', 'This server answers application/fhir+json only', ['Accept']));
      return;
    }
    next();
  });

  app.use(jsonBody(config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH));

  app.use(measuresRouter(deps)); // /fhir/Measure and $evaluate-measure: definitions, and aggregate reports for IG and managers (src/measures/routes.ts)

  let capability: ReturnType<typeof buildCapabilityStatement> | undefined;
  const router = new FhirRouter();
  app.use(
    '/fhir',
    fhirHandler({
      db: deps.db,
      validator: deps.validator,
      router,
      baseUrl,
      logger,
      gate: deps.gate,
      audit: deps.audit,
      ungated: deps.ungated === true,
      unaudited: deps.unaudited === true,
      ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
      ...(deps.writeRules ? { writeRules: deps.writeRules } : {}),
      capabilityStatement: () => (capability ??= capabilityStatement(deps)),
    })
  );

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(httpError(404, 'not-found', `No endpoint at ${routeShape(req.originalUrl)}`));
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { status, body, unexpected, headers } = toErrorResponse(bodyErrorToHttp(err));
    if (unexpected) {
      // Class and code only: messages from the database can quote values.
      const e = err as { name?: string; code?: string };
      logger.error({ requestId: (res.locals.context as RequestContext | undefined)?.requestId, error: e?.name, code: e?.code }, 'unexpected error');
    }
    if (!res.headersSent) {
      for (const [name, value] of Object.entries(headers ?? {})) {
        try {
          res.setHeader(name, value);
        } catch {
          // A value Node refuses is dropped; the OperationOutcome still goes out (never Express's HTML fallback).
        }
      }
      sendJson(res, status, body);
    }
  });
  return app;
}

function capabilityStatement(deps: AppDeps): ReturnType<typeof buildCapabilityStatement> {
  const security = capabilitySecurity(deps.config.AUTH_MODE, deps.baseUrl);
  const cs = buildCapabilityStatement(`${deps.baseUrl}/fhir`, deps.version, security.description ?? '', deps.profileForType);
  for (const rest of cs.rest ?? []) rest.security = security;
  return cs;
}

/**
 * /fhir paths open without a token: the CapabilityStatement, which says how
 * to get one. Segments are compared as resolveRoute splits them, so
 * "/metadata/" is public too; anything fancier (percent-encoding) is not,
 * which only errs on the safe side.
 */
function isPublicFhirPath(req: Request): boolean {
  const segments = req.path.split('/').filter(Boolean);
  return segments.length === 1 && segments[0] === 'metadata';
}

// Our own discovery and OAuth path segments, kept in logs as they are.
const OWN_PATH_SEGMENTS = new Set(['healthz', 'readyz', '.well-known', 'smart-configuration', 'jwks.json', 'token', 'council', 'v1', 'schema', 'records', 'import', 'cds-services', 'patient-consent-consult', 'CodeSystem', 'Measure', 'ig', 'audit-events', 'audit-events.csv', 'patients', 'access-report', 'reviews', 'audit-chain', 'verify', 'audit', 'audit.csv', 'what-if', 'agreements', 'sign-in', 'sign-out', 'callback', 'demo', 'oidc', 'static', 'ig.css']);

/**
 * The shape of a request path, safe for logs and error texts: a client may
 * choose ids (PUT), so an id could be an NHS number. Only our own vocabulary
 * (resource types, operations, _history, metadata) is kept; every other
 * segment becomes ":id". Query strings are never included.
 */
export function routeShape(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path
    .split('/')
    .map((seg, i) => {
      if (i === 0 || seg === '') return seg;
      if (i === 1 && (seg === 'fhir' || seg === '.well-known' || seg === 'auth')) return seg;
      if (OWN_PATH_SEGMENTS.has(seg)) return seg;
      if (seg.startsWith('$') || seg.startsWith('_') || seg === 'metadata' || isSupportedResourceType(seg)) {
        return /^[$_A-Za-z][A-Za-z-]*$/.test(seg) ? seg : ':id';
      }
      return ':id';
    })
    .join('/');
}
