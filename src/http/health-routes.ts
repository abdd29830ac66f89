import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { pendingMigrations } from '../db/migrations.ts';
import type { Database } from '../db/sql-client.ts';

/**
 * Liveness and readiness for load balancers and orchestrators, public and
 * free of any data: /healthz says the process answers; /readyz says it can
 * serve (the database answers within a bound and every migration is
 * applied). A not-ready instance answers 503 with an OperationOutcome, so a
 * load balancer takes it out of rotation instead of sending it requests that
 * would fail.
 */
const READY_TIMEOUT_MS = 2_000;

export function healthz(_req: Request, res: Response): void {
  res.status(200).setHeader('Cache-Control', 'no-store').json({ status: 'ok' });
}

export function readyz(db: Database, logger: Logger) {
  return (_req: Request, res: Response): void => {
    const requestId = (res.locals.context as { requestId?: string } | undefined)?.requestId;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('database did not answer in time')), READY_TIMEOUT_MS);
    });
    Promise.race([pendingMigrations(db), timeout])
      .then(
        (pending) => {
          if (pending > 0) return notReady(res, `${pending} migration(s) not yet applied`);
          res.status(200).setHeader('Cache-Control', 'no-store').json({ status: 'ready', database: 'ok', migrations: 'applied' });
        },
        (err: unknown) => {
          // Class and code only: a driver message can quote connection details.
          logger.warn({ requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'not ready: database unreachable');
          notReady(res, 'The database cannot be reached');
        }
      )
      .finally(() => clearTimeout(timer));
  };
}

function notReady(res: Response, text: string): void {
  res
    .status(503)
    .setHeader('Cache-Control', 'no-store')
    .setHeader('Retry-After', '5')
    .type('application/fhir+json')
    .send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', details: { text: `Not ready: ${text}` } }] }));
}
