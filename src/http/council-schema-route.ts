import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { councilJsonSchemaText } from '../council/schema.ts';

export const COUNCIL_SCHEMA_PATH = '/council/v1/schema';

/**
 * GET /council/v1/schema: the JSON Schema of the council format v1, as
 * application/schema+json. Public (it describes a format, no data), cacheable,
 * with a strong ETag so clients can revalidate cheaply.
 */
export function councilSchemaHandler(): RequestHandler {
  let etag: string | undefined;
  return (req: Request, res: Response) => {
    const body = councilJsonSchemaText();
    etag ??= `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('Vary', 'Accept');
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
      res.status(304).end();
      return;
    }
    res.status(200).type('application/schema+json; charset=utf-8').send(body);
  };
}
