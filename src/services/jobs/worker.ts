/**
 * Runs queued jobs. `kb serve` runs one in-process; `kb worker` runs one standalone; `kb ingest`
 * runs its own job when no worker is alive. Jobs of a worker that died are claimed again and
 * resume: at once when the dead worker ran on this host (its process is gone), else once its
 * heartbeat is older than STALE_MS.
 *
 * Besides jobs, an idle worker submits due scheduled syncs (schedules.ts), optimizes the
 * active table when changes are waiting, and reconciles the index with SQLite now and then.
 */
import os from "node:os";
import { newId } from "../../stores/ids.ts";
import type { JobStore } from "../../stores/metadata.ts";
import { retireTables } from "./consistency.ts";
import { HEARTBEAT_MS, STALE_MS, type JobDeps } from "./context.ts";
import type { JobRunner } from "./runner.ts";
import type { Scheduler } from "./schedules.ts";

export { HEARTBEAT_MS, STALE_MS };
/** How often an idle worker runs the full index check. */
const RECONCILE_EVERY_MS = 15 * 60_000;

export interface JobWorkerOptions {
  /** Exit the loop when no job is left (kb worker --once). */
  once?: boolean;
  /** Submits due scheduled syncs while idle. */
  scheduler?: Scheduler | null;
  /** Run the full index check in the background at start (default true; not with `once`). */
  reconcileAtStart?: boolean;
  /** Job kinds this worker takes (default: all). */
  kinds?: string[];
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** True when no process with this pid exists (or it is this very process: a previous incarnation in a container). */
export function processGone(pid: number, workerId: string, selfIds: Set<string>): boolean {
  if (selfIds.has(workerId)) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export class JobWorker {
  readonly id = newId("wrk");
  private running = false;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastReconcile = 0;
  private background: Promise<unknown> | null = null;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Resolves when a `once` worker has emptied the queue. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly jobs: JobStore,
    private readonly runner: JobRunner,
    private readonly deps: JobDeps,
    private readonly options: JobWorkerOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.beat();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.loop = this.run().finally(() => this.resolveDone());
  }

  private async beat(): Promise<void> {
    try {
      await this.jobs.workerAlive(this.id, process.pid, os.hostname());
    } catch (err) {
      this.log("worker heartbeat failed", { err: String(err) });
    }
  }

  /** Wakes the loop at once (after a job was submitted in this process). */
  poke(): void {
    this.wake?.();
  }

  /** Jobs of dead workers on this host become claimable at once. */
  private async reap(): Promise<void> {
    const dead = await this.jobs.reapDeadWorkers(os.hostname(), (pid, id) => processGone(pid, id, new Set([this.id])));
    if (dead.length) this.log("found dead workers; their jobs resume", { workers: dead });
  }

  private async run(): Promise<void> {
    await this.reap();
    await this.runner.reconcile({ full: false, log: this.log }).catch((err) => this.log("reconcile failed", { err: String(err) }));
    if (this.options.reconcileAtStart !== false && !this.options.once) this.backgroundReconcile();
    while (this.running) {
      const jobId = await this.jobs.claim(this.id, STALE_MS, this.options.kinds);
      if (!jobId) {
        if (this.options.once) break;
        await this.idle();
        continue;
      }
      try {
        const view = await this.runner.run(jobId, this.id, { stopping: () => this.stopping });
        this.log("job finished", { jobId, kind: view.kind, status: view.status, done: view.progress.done, total: view.progress.total });
      } catch (err) {
        this.log("job crashed", { jobId, err: String(err), stack: (err as Error).stack });
        if (await this.jobs.holds(jobId, this.id)) await this.jobs.finish(jobId, "failed", String(err));
      }
    }
    await this.background?.catch(() => {});
  }

  private backgroundReconcile(): void {
    if (this.background) return;
    this.lastReconcile = Date.now();
    this.background = this.runner
      .reconcile({ full: true, log: this.log })
      .then(() => retireTables(this.deps, this.log))
      .catch((err) => this.log("reconcile failed", { err: String(err) }))
      .finally(() => (this.background = null));
  }

  private async idle(): Promise<void> {
    try {
      await this.reap();
      const submitted = (await this.options.scheduler?.tick()) ?? [];
      if (submitted.length) return; // claim it at once
      await this.runner.optimizeIfDue();
      if (Date.now() - this.lastReconcile > RECONCILE_EVERY_MS) this.backgroundReconcile();
    } catch (err) {
      this.log("idle work failed", { err: String(err) });
    }
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = null;
  }

  /** Stops after the current batch; an unfinished job goes back to the queue. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wake?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.loop;
    this.options.scheduler?.close();
    await this.jobs.workerGone(this.id);
  }
}
