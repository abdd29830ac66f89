import type { Response } from 'express';
import type { Logger } from 'pino';
import type { AuditBatcher } from '../audit/audit-batcher.ts';
import type { RestInteraction } from '../audit/balp-codes.ts';
import { buildExchangeAuditRecord } from '../audit/balp.ts';
import type { AuditOutcome } from '../audit/types.ts';
import type { RequestContext } from '../request-context.ts';
import { holdUntilAudited } from '../http/audit-response.ts';

export interface IgAuditTarget {
  interaction: RestInteraction;
  /** The query string as received (redacted before it is stored: audit/exchange-facts.ts). */
  query?: string;
  operation?: string;
}

/**
 * An IG exchange's own audit record, committed exactly once. Like
 * http/audit-response.ts it holds res.end back until the record is
 * committed; unlike it, a streamed answer (CSV) commits BEFORE its first
 * byte with commitNow(), so nothing is disclosed without its record even
 * though the body goes out in pages. A refusal (401/403) is recorded as a
 * deny: someone tried to read the audit trail. A review writes its own
 * record in its transaction and calls recordedElsewhere(). The record names
 * no patient: it is about reading the audit trail, not the person's record,
 * so it does not show in the person's access report.
 */
export class IgExchangeAudit {
  private done: Promise<void> | undefined;
  private skip = false;

  constructor(
    private readonly batcher: AuditBatcher,
    private readonly context: RequestContext,
    private readonly target: IgAuditTarget
  ) {}

  commitNow(status: number): Promise<void> {
    if (this.skip) return Promise.resolve();
    return (this.done ??= this.write(status));
  }

  recordedElsewhere(): void {
    this.skip = true;
  }

  private async write(status: number): Promise<void> {
    const outcome: AuditOutcome = status < 400 ? 'permit' : status === 401 || status === 403 ? 'deny' : 'error';
    const { actor } = this.context;
    await this.batcher.append(
      buildExchangeAuditRecord({
        recorded: new Date(),
        requestId: this.context.requestId,
        ...(actor ? { actor } : {}),
        interaction: this.target.interaction,
        ...(this.target.query !== undefined ? { query: this.target.query } : {}),
        ...(this.target.operation ? { operation: this.target.operation } : {}),
        outcome,
        // Every IG refusal is the token's: no IG client, or none at all.
        ...(outcome === 'deny' ? { refusedBy: 'token' as const } : {}),
      })
    );
  }

  /** Holds every answer back until the record is committed; if it cannot be, a 500 instead of the data. */
  holdResponse(res: Response, logger: Logger): void {
    holdUntilAudited(res, (status) => this.commitNow(status), logger, this.context.requestId);
  }
}
