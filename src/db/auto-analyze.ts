/**
 * PGlite has no autovacuum, and its planner goes badly wrong on stale
 * statistics after a bulk load (architecture.md: a query fell to 7/s until
 * ANALYZE). This mimics autovacuum's analyse trigger — a fixed threshold plus
 * a fraction of what was there at the last analyse — and runs ANALYZE in the
 * background, one at a time, when enough has been written.
 */
export class AutoAnalyze {
  private written = 0;
  private rowsAtLastAnalyze = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly analyze: () => Promise<void>,
    private readonly threshold = 500,
    private readonly scaleFactor = 0.1
  ) {}

  note(count: number): void {
    this.written += count;
    if (this.running || this.written < this.threshold + this.scaleFactor * this.rowsAtLastAnalyze) {
      return;
    }
    const batch = this.written;
    this.written = 0;
    this.running = this.analyze()
      .catch(() => undefined) // statistics are an optimisation: a failed ANALYZE must not fail writes
      .finally(() => {
        this.rowsAtLastAnalyze += batch;
        this.running = undefined;
      });
  }

  /** Resolves when no ANALYZE is running (for orderly shutdown and tests). */
  async idle(): Promise<void> {
    await this.running;
  }
}
