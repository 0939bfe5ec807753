/**
 * Runs claimed jobs: heartbeats the claim, dispatches by kind (kinds.ts), and sets the final
 * status; a job stopped early goes back to the queue, a cancelled one has its unfinished files
 * marked cancelled. Owns the machinery the kinds share: the extraction processes, the
 * document writer, the batched file pipeline and the optimize policy.
 */
import { IngestError } from "../../../ingest/types.ts";
import { DocumentWriter } from "../document-writer.ts";
import { ServiceError } from "../errors.ts";
import { reconcile, type ReconcileReport } from "./consistency.ts";
import type { JobDeps, JobEnv, JobRunContext } from "./context.ts";
import { Extractor } from "./extractor.ts";
import { FilePipeline } from "./file-pipeline.ts";
import { kindRunner } from "./kinds.ts";
import { OptimizePolicy } from "./optimize-policy.ts";
import { jobView, type JobView } from "./views.ts";

export interface RunJobOptions {
  onProgress?: (done: number, total: number, file: string) => void;
  /** True when the worker is shutting down: the job is given back to the queue after the current batch. */
  stopping?: () => boolean;
}

export class JobRunner {
  readonly writer: DocumentWriter;
  private readonly extractor: Extractor;
  private readonly env: JobEnv;

  constructor(private readonly deps: JobDeps) {
    this.extractor = new Extractor(deps.extraction, deps.log);
    this.writer = new DocumentWriter({
      documents: deps.documents,
      index: deps.index,
      recordSensitive: deps.recordSensitive,
      blobs: deps.blobs,
      erasure: deps.erasure,
      extract: (source, bytes, opts) => this.extractor.prepare(source, bytes, opts),
      log: deps.log,
    });
    const optimizer = new OptimizePolicy(deps.index, deps.optimizeIntervalS ?? 300, (msg, f) => deps.log?.(msg, f));
    this.env = { deps, files: new FilePipeline(deps, this.writer, this.extractor), writer: this.writer, optimizer };
  }

  /**
   * Runs a claimed job to its end (or until it is cancelled, taken over, or the worker stops),
   * then sets its final status. Safe to call again on a job whose previous run died: it
   * continues from the per-file records.
   */
  async run(jobId: string, workerId: string, options: RunJobOptions | ((done: number, total: number, file: string) => void) = {}): Promise<JobView> {
    const opts: RunJobOptions = typeof options === "function" ? { onProgress: options } : options;
    const { jobs } = this.deps;
    const job = await jobs.byId(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    let lost = false;
    const heartbeat = setInterval(() => {
      jobs.heartbeat(jobId, workerId).then(
        (held) => {
          if (!held) lost = true;
        },
        (err: unknown) => this.deps.log?.("job heartbeat failed", { jobId, err: String(err) }),
      );
    }, 2000);
    heartbeat.unref();
    const ctx: JobRunContext = {
      job,
      workerId,
      shouldContinue: async () => !lost && !opts.stopping?.() && (await jobs.holds(jobId, workerId)),
      progress: async (file) => {
        const after = await jobs.byId(jobId);
        if (after) opts.onProgress?.(after.done, after.total, file);
      },
      log: (msg, fields) => this.deps.log?.(msg, { jobId, ...fields }),
    };
    let changed = false;
    let completed = true;
    try {
      const kind = kindRunner(job.kind);
      if (!kind) throw new ServiceError(400, "bad_job", `unknown job kind ${job.kind}`);
      ({ changed, completed } = await kind.run(ctx, this.env));
    } catch (err) {
      if (err instanceof IngestError && (await ctx.shouldContinue())) {
        // A job-level failure (e.g. the sync folder is missing): recorded, not retried.
        await jobs.finish(jobId, "failed", `${err.code}: ${err.message}`);
        return (await jobView(jobs, jobId))!;
      }
      throw err;
    } finally {
      clearInterval(heartbeat);
    }
    // Deletes of this job (or a re-embed's clean-up) become unrecoverable before it reports
    // done (document-writer.ts `erase`; nothing to do when nothing was deleted).
    await this.writer.erase();
    if (changed) await this.env.optimizer.afterChange();
    if (!(await jobs.holds(jobId, workerId))) {
      // Cancelled: nothing of this run is half-written (the last batch was completed), so
      // the files it did not finish are marked cancelled. Taken over: left to the new worker.
      if ((await jobs.byId(jobId))?.status === "cancelled" && !lost) await jobs.cancelUnfinishedFiles(jobId);
      return (await jobView(jobs, jobId))!;
    }
    if (!completed) {
      // The worker is stopping: the job goes back to the queue and resumes later.
      await jobs.release(jobId, workerId);
      return (await jobView(jobs, jobId))!;
    }
    const counts = await jobs.counts(jobId);
    const files = Object.values(counts).reduce((a, b) => a + b, 0);
    const failed = counts.failed ?? 0;
    await jobs.finish(jobId, failed === 0 ? "succeeded" : failed === files ? "failed" : "partial");
    return (await jobView(jobs, jobId))!;
  }


  /** Makes the active table agree with SQLite (see consistency.ts); `full` compares every document. */
  reconcile(options: { full: boolean; settleMs?: number; log?: (msg: string, fields?: Record<string, unknown>) => void }): Promise<ReconcileReport> {
    return reconcile(this.deps, this.writer, options);
  }

  /** Compacts the active table and folds new rows into its indexes now (the optimize kind's work). */
  optimizeNow(cleanupOlderThanMinutes?: number): Promise<void> {
    return this.env.optimizer.run(cleanupOlderThanMinutes);
  }

  /** Called by idle workers: optimizes when changes are waiting and the interval has passed. */
  optimizeIfDue(): Promise<boolean> {
    return this.env.optimizer.ifDue();
  }

  async close(): Promise<void> {
    await this.extractor.close();
  }
}
