/**
 * Runs queued jobs. `kb serve` runs one in-process; `kb ingest` runs a job itself when no
 * worker is alive. Jobs of a worker that died (no heartbeat) are claimed again and resume.
 */
import os from "node:os";
import { newId } from "../../stores/ids.ts";
import type { JobsRepo } from "../../stores/sqlite/jobs-repo.ts";
import type { IngestService } from "./ingest-service.ts";

export const HEARTBEAT_MS = 2000;
/** A running job whose worker has been silent this long is considered abandoned. */
export const STALE_MS = 15_000;

export class JobWorker {
  readonly id = newId("wrk");
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly jobs: JobsRepo,
    private readonly ingest: IngestService,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.jobs.workerAlive(this.id, process.pid, os.hostname());
    this.heartbeat = setInterval(() => this.jobs.workerAlive(this.id, process.pid, os.hostname()), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.loop = this.run();
  }

  /** Wakes the loop at once (after a job was submitted in this process). */
  poke(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const jobId = this.jobs.claim(this.id, STALE_MS);
      if (!jobId) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 500);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
        continue;
      }
      try {
        const view = await this.ingest.runJob(jobId, this.id);
        this.log("job finished", { jobId, status: view.status, done: view.progress.done, total: view.progress.total });
      } catch (err) {
        this.log("job crashed", { jobId, err: String(err) });
        this.jobs.finish(jobId, "failed", String(err));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.loop;
    this.jobs.workerGone(this.id);
  }
}
