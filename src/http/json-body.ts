import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpError } from './outcome.ts';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json', 'application/*+json'];

/** Deepest nesting of arrays/objects, stopping as soon as the limit is passed. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v && typeof v === 'object') {
      if (d > limit) return true;
      for (const child of Object.values(v)) {
        if (child && typeof child === 'object') stack.push([child, d + 1]);
      }
    }
  }
  return false;
}

/**
 * Body parsing with the limits every public endpoint needs: size (413),
 * media type (415), well-formed JSON (400) and nesting depth (400).
 */
export function jsonBody(maxBytes: number, maxDepth: number): RequestHandler[] {
  const parse = express.json({ type: JSON_TYPES, limit: maxBytes, strict: false });
  const form = express.urlencoded({ extended: false, limit: maxBytes });
  const check = (req: Request, _res: Response, next: NextFunction): void => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && ['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is([...JSON_TYPES, 'application/x-www-form-urlencoded'])) {
      next(httpError(415, 'not-supported', `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/fhir+json`, ['Content-Type']));
      return;
    }
    if (req.body !== undefined && exceedsDepth(req.body, maxDepth)) {
      next(httpError(400, 'too-costly', `JSON nesting deeper than ${maxDepth} levels is not accepted`));
      return;
    }
    next();
  };
  return [parse, form, check];
}

/** Turns body-parser's errors into FHIR answers. */
export function bodyErrorToHttp(err: unknown): unknown {
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return httpError(413, 'too-costly', 'Request body is larger than this server accepts');
  if (e?.type === 'entity.parse.failed') return httpError(400, 'structure', 'Request body is not well-formed JSON');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return httpError(415, 'not-supported', 'Request body encoding or charset is not supported', ['Content-Type']);
  }
  if (e?.type === 'request.aborted') return httpError(400, 'incomplete', 'Request body was not received completely');
  return err;
}
