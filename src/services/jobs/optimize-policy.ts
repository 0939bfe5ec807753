/**
 * When to optimize the active chunk table (fold new rows into the FTS and scalar indexes,
 * compact small fragments, drop table versions older than an hour).
 *
 * Searches are correct without it (LanceDB searches unindexed rows too), only slower as
 * unindexed rows pile up, and every optimize rewrites index files. So a job that changed the
 * table marks it dirty; it is optimized at once when the last optimize is older than the
 * interval, else by an idle worker once the interval has passed. The bookkeeping is in SQLite
 * settings, so `kb serve` and `kb worker` share it.
 */
import type { ActiveIndex } from "../active-index.ts";

const LAST_KEY = "index.optimized_at";
const DIRTY_KEY = "index.dirty_since";

export class OptimizePolicy {
  private running: Promise<void> | null = null;

  constructor(
    private readonly index: ActiveIndex,
    private readonly intervalS: number,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  private async due(): Promise<boolean> {
    const last = await this.index.metadata.settings.get<string>(LAST_KEY);
    return !last || Date.now() - Date.parse(last) >= this.intervalS * 1000;
  }

  /** After a job changed the table: indexes exist at once; the full optimize waits for the interval. */
  async afterChange(): Promise<void> {
    const { settings } = this.index.metadata;
    await settings.set(DIRTY_KEY, new Date().toISOString()); // the latest change
    try {
      const target = await this.index.writeTarget();
      await target.store.ensureIndexes();
      if (await this.due()) await this.run();
    } catch (err) {
      this.log("optimize failed", { err: String(err) });
    }
  }

  /** Optimizes when changes are waiting and the interval has passed (idle workers call this). */
  async ifDue(): Promise<boolean> {
    if (!(await this.index.metadata.settings.get(DIRTY_KEY)) || !(await this.due())) return false;
    await this.run().catch((err) => this.log("optimize failed", { err: String(err) }));
    return true;
  }

  run(cleanupOlderThanMinutes = 60): Promise<void> {
    this.running ??= (async () => {
      const { metadata } = this.index;
      const startedAt = new Date().toISOString();
      const target = await this.index.writeTarget();
      await target.store.optimize(new Date(Date.now() - cleanupOlderThanMinutes * 60_000));
      await metadata.withTransaction(async ({ settings }) => {
        await settings.set(LAST_KEY, startedAt);
        // Changes committed while this ran stay marked.
        const dirty = await settings.get<string>(DIRTY_KEY);
        if (dirty && dirty <= startedAt) await settings.delete(DIRTY_KEY);
      });
    })().finally(() => (this.running = null));
    return this.running;
  }
}
