import type { Response } from 'express';
import type { Logger } from 'pino';
import type { ExchangeAudit } from '../audit/exchange-audit.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { databaseUnavailableResponse } from './outcome.ts';

const AUDIT_FAILED = JSON.stringify({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'exception', details: { text: 'Internal error: the exchange could not be audited, so nothing was returned.' } }],
});

/**
 * Holds the response back until the exchange's audit record is committed:
 * every answer (success, refusal or error, whichever code path sends it)
 * ends through res.end, so intercepting it here records each exchange once
 * without every handler remembering to. If the audit cannot be committed the
 * answer becomes a 500 and the data is not sent: no disclosure without its
 * record. A streamed answer (NDJSON import) has already sent its status, so
 * it can only end.
 */
export function auditBeforeResponse(res: Response, audit: ExchangeAudit, logger: Logger, requestId: string): void {
  holdUntilAudited(res, (status) => audit.finish(status), logger, requestId);
}

/**
 * The mechanism under auditBeforeResponse, for any audit that commits once
 * per response (the IG API's and web page's IgExchangeAudit too).
 */
export function holdUntilAudited(res: Response, commit: (status: number) => Promise<unknown>, logger: Logger, requestId: string): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  let ending = false;
  res.end = ((...args: unknown[]) => {
    if (ending) return end(...args);
    ending = true;
    commit(res.statusCode).then(
      () => end(...args),
      (err: unknown) => {
        logger.error({ requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'audit record could not be committed');
        if (res.headersSent) {
          end();
          return;
        }
        for (const h of ['content-length', 'etag', 'location', 'last-modified', 'content-location', 'content-disposition', 'content-security-policy', 'retry-after']) res.removeHeader(h);
        res.setHeader('content-type', 'application/fhir+json; charset=utf-8');
        if (isDatabaseUnavailable(err)) {
          // The database went away: the same 503 as any other request now gets, and still nothing disclosed.
          const u = databaseUnavailableResponse();
          res.statusCode = u.status;
          for (const [name, value] of Object.entries(u.headers)) res.setHeader(name, value);
          end(JSON.stringify(u.body));
          return;
        }
        res.statusCode = 500;
        end(AUDIT_FAILED);
      }
    );
    return res;
  }) as Response['end'];
}
