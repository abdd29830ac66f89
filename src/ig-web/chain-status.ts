import { GENESIS_HASH } from '../audit/hash-chain.ts';
import { latestAnchor, maxSeq, readChain } from '../audit/row-reader.ts';
import { verifyAuditChainInDatabase } from '../audit/in-database-verify.ts';
import { checkRow } from '../audit/verify.ts';
import type { BrokenLink } from '../audit/verify.ts';
import type { AuditRow } from '../audit/types.ts';
import type { Database } from '../db/sql-client.ts';

/** What the overview shows about the audit chain, and when it was last checked. */
export interface ChainStatus {
  state: 'intact' | 'broken' | 'checking';
  /** Records verified, from the archive anchor (or the first record) to head. */
  checked: number;
  head: { seq: number | null; hash: string };
  firstBroken?: BrokenLink;
  /** When the newest records were last checked (incrementally). */
  checkedAt?: Date;
  /** When the whole chain was last walked from the anchor. */
  fullAt?: Date;
}

interface Verified {
  throughSeq: number | null;
  hash: string;
  checked: number;
  anchorSeq: number;
  checkedAt: Date;
  fullAt: Date;
}

const FULL_EVERY_MS = 15 * 60_000;
const PAGE = 10_000;

/**
 * The overview's audit-chain integrity without a full verification on each
 * view. The whole chain is walked once, then again at most every 15 minutes
 * (in the background: views never wait more than `waitMs` for it); in
 * between, a view checks only the records appended since the last check,
 * linked to the last hash verified, and that this last record still carries
 * that hash. So a view over a million records reads a handful of rows, and
 * any rewrite is still found by the next full walk. A broken chain stays
 * reported until a full walk finds it whole again. One per instance.
 */
export class ChainMonitor {
  private verified?: Verified;
  private broken?: { result: ChainStatus };
  private full?: Promise<void>;
  private failure?: unknown;

  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date()
  ) {}

  async status(waitMs = 2_000): Promise<ChainStatus> {
    const v = this.verified;
    if (!v || this.broken || this.full || this.now().getTime() - v.fullAt.getTime() > FULL_EVERY_MS || !(await this.incremental(v))) {
      const walk = this.fullWalk();
      if (waitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([walk, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
        clearTimeout(timer);
      }
    }
    if (this.failure) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
    if (this.broken) return this.broken.result;
    const now = this.verified;
    if (!now) return { state: 'checking', checked: 0, head: { seq: null, hash: GENESIS_HASH } };
    return { state: this.full ? 'checking' : 'intact', checked: now.checked, head: { seq: now.throughSeq, hash: now.hash }, checkedAt: now.checkedAt, fullAt: now.fullAt };
  }

  /** One full verification at a time; later views share the one running. */
  private fullWalk(): Promise<void> {
    this.full ??= (async () => {
      try {
        const started = this.now();
        const r = await verifyAuditChainInDatabase(this.db, { ranges: 1 });
        if (!r.ok) {
          this.broken = { result: { state: 'broken', checked: r.checked, head: r.head, ...(r.firstBroken ? { firstBroken: r.firstBroken } : {}), checkedAt: started, fullAt: started } };
          this.verified = undefined;
          return;
        }
        this.broken = undefined;
        this.verified = { throughSeq: r.head.seq, hash: r.head.hash, checked: r.checked, anchorSeq: r.anchor?.throughSeq ?? 0, checkedAt: started, fullAt: started };
      } catch (err) {
        // Kept for the view that waits on it (or the next one): a walk in the background must not reject unheard.
        this.failure = err;
      } finally {
        this.full = undefined;
      }
    })();
    return this.full;
  }

  /** Checks the records appended since v; false when only a full walk can tell. */
  private async incremental(v: Verified): Promise<boolean> {
    const started = this.now();
    const outcome = await this.db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const anchor = await latestAnchor(tx);
      const anchorSeq = anchor?.throughSeq ?? 0;
      // Archived since the last walk: the count (and maybe the link) changed, so walk again.
      if (anchorSeq !== v.anchorSeq) return 'walk' as const;
      if (v.throughSeq !== null && v.throughSeq > anchorSeq) {
        // The last record verified must still be there, with the same hash, and its content must still match it.
        let last: AuditRow | undefined;
        for await (const page of readChain(tx, v.throughSeq - 1, v.throughSeq, 1)) last = page[0];
        if (!last || last.hash !== v.hash || checkRow(last, last.prev_hash)) return 'walk' as const;
      }
      const through = await maxSeq(tx);
      let expected = v.hash;
      let head = v.throughSeq;
      let checked = v.checked;
      for await (const page of readChain(tx, v.throughSeq ?? anchorSeq, through, PAGE)) {
        for (const row of page) {
          if (checkRow(row, expected)) return 'walk' as const;
          expected = row.hash;
          head = row.seq;
          checked++;
        }
      }
      return { throughSeq: head, hash: expected, checked, anchorSeq, checkedAt: started, fullAt: v.fullAt } satisfies Verified;
    });
    // Anything unexpected is settled by a full walk, which names the first broken record.
    if (outcome === 'walk') return false;
    this.verified = outcome;
    return true;
  }
}
