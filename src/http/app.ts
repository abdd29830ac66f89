import { randomUUID } from 'node:crypto';
import { FhirRouter } from '@medplum/fhir-router';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Database } from '../db/sql-client.ts';
import { buildCapabilityStatement } from '../fhir/capability-statement.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { isSupportedResourceType } from '../fhir/resource-types.ts';
import type { RequestContext } from '../request-context.ts';
import { fhirHandler } from './fhir-handler.ts';
import { sendJson } from './fhir-response.ts';
import { bodyErrorToHttp, jsonBody } from './json-body.ts';
import { httpError, toErrorResponse } from './outcome.ts';

export interface AppDeps {
  config: Config;
  baseUrl: string;
  db: Database;
  validator: ResourceValidator;
  profileForType: (type: string) => string | undefined;
  logger: Logger;
  version: string;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(deps: AppDeps): express.Express {
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
    // Until SMART Backend Services lands, the API is open — and says so in
    // every context, the CapabilityStatement and the start-up log.
    const context: RequestContext = { requestId, authMode: config.AUTH_MODE };
    res.locals.context = context;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          requestId,
          method: req.method,
          route: routeShape(req.originalUrl),
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request'
      );
    });
    next();
  });

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
      capabilityStatement: () =>
        (capability ??= buildCapabilityStatement(
          baseUrl,
          deps.version,
          'OPEN DEVELOPMENT MODE: no authentication. Do not load real personal data.',
          deps.profileForType
        )),
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
      for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
      sendJson(res, status, body);
    }
  });
  return app;
}

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
      if (i === 1 && (seg === 'fhir' || seg === '.well-known')) return seg;
      if (seg.startsWith('$') || seg.startsWith('_') || seg === 'metadata' || isSupportedResourceType(seg)) {
        return /^[$_A-Za-z][A-Za-z-]*$/.test(seg) ? seg : ':id';
      }
      return ':id';
    })
    .join('/');
}
