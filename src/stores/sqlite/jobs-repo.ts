/**
 * The persisted job queue. Workers claim jobs atomically; a job whose worker stopped sending
 * heartbeats can be claimed again and resumes from its per-file records.
 */
import { and, asc, desc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { jobFiles, jobs, workers } from "./schema.ts";

export type JobRow = typeof jobs.$inferSelect;
export type JobFileRow = typeof jobFiles.$inferSelect;
export type JobStatus = JobRow["status"];
export type JobFileStatus = JobFileRow["status"];

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export class JobsRepo {
  constructor(private readonly db: Db) {}

  create(job: { id: string; kind: string; createdBy: string | null; params?: Record<string, unknown> }, files: Omit<JobFileRow, "jobId" | "status" | "errorCode" | "error" | "documentId">[]): void {
    this.db.transaction((tx) => {
      tx.insert(jobs)
        .values({ id: job.id, kind: job.kind, status: "queued", createdBy: job.createdBy, params: job.params ?? {}, total: files.length })
        .run();
      for (const f of files) tx.insert(jobFiles).values({ ...f, jobId: job.id, status: "queued" }).run();
    });
  }

  byId(id: string): JobRow | undefined {
    return this.db.select().from(jobs).where(eq(jobs.id, id)).get();
  }

  files(jobId: string): JobFileRow[] {
    return this.db.select().from(jobFiles).where(eq(jobFiles.jobId, jobId)).orderBy(asc(jobFiles.ordinal)).all();
  }

  list(limit = 50, offset = 0): JobRow[] {
    return this.db.select().from(jobs).orderBy(desc(jobs.createdAt)).limit(limit).offset(offset).all();
  }

  /**
   * Claims the oldest queued job, or a running job whose worker has been silent for
   * `staleMs` (it crashed). Returns the claimed job id.
   */
  claim(workerId: string, staleMs: number): string | undefined {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    return this.db.transaction((tx) => {
      const candidate = tx
        .select({ id: jobs.id })
        .from(jobs)
        .where(sql`${jobs.status} = 'queued' OR (${jobs.status} = 'running' AND (${jobs.heartbeatAt} IS NULL OR ${jobs.heartbeatAt} < ${staleBefore}))`)
        .orderBy(asc(jobs.createdAt))
        .limit(1)
        .get();
      if (!candidate) return undefined;
      tx.update(jobs)
        .set({ status: "running", workerId, heartbeatAt: new Date().toISOString(), startedAt: sql`coalesce(${jobs.startedAt}, ${nowSql})` })
        .where(eq(jobs.id, candidate.id))
        .run();
      return candidate.id;
    }, { behavior: "immediate" });
  }

  /** Claims one specific job if it is queued or abandoned. */
  claimJob(jobId: string, workerId: string, staleMs: number): boolean {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    const r = this.db
      .update(jobs)
      .set({ status: "running", workerId, heartbeatAt: new Date().toISOString(), startedAt: sql`coalesce(${jobs.startedAt}, ${nowSql})` })
      .where(
        and(
          eq(jobs.id, jobId),
          sql`(${jobs.status} = 'queued' OR (${jobs.status} = 'running' AND (${jobs.heartbeatAt} IS NULL OR ${jobs.heartbeatAt} < ${staleBefore})))`,
        ),
      )
      .run();
    return r.changes > 0;
  }

  heartbeat(jobId: string, workerId: string): boolean {
    const r = this.db
      .update(jobs)
      .set({ heartbeatAt: new Date().toISOString() })
      .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")))
      .run();
    return r.changes > 0;
  }

  /** Files still to do: queued, or running when the previous worker died. */
  pendingFiles(jobId: string): JobFileRow[] {
    return this.db
      .select()
      .from(jobFiles)
      .where(and(eq(jobFiles.jobId, jobId), inArray(jobFiles.status, ["queued", "running"])))
      .orderBy(asc(jobFiles.ordinal))
      .all();
  }

  setFile(jobId: string, ordinal: number, values: Partial<Pick<JobFileRow, "status" | "documentId" | "errorCode" | "error">>): void {
    this.db.transaction((tx) => {
      tx.update(jobFiles)
        .set(values)
        .where(and(eq(jobFiles.jobId, jobId), eq(jobFiles.ordinal, ordinal)))
        .run();
      const done = tx
        .select({ n: sql<number>`count(*)` })
        .from(jobFiles)
        .where(and(eq(jobFiles.jobId, jobId), inArray(jobFiles.status, ["succeeded", "unchanged", "failed"])))
        .get();
      tx.update(jobs).set({ done: done?.n ?? 0 }).where(eq(jobs.id, jobId)).run();
    });
  }

  finish(jobId: string, status: JobStatus, error?: string): void {
    this.db.update(jobs).set({ status, error: error ?? null, finishedAt: nowSql }).where(eq(jobs.id, jobId)).run();
  }

  cancel(jobId: string): boolean {
    const r = this.db
      .update(jobs)
      .set({ status: "cancelled", finishedAt: nowSql })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, ["queued", "running"])))
      .run();
    return r.changes > 0;
  }

  /** True when some worker has shown life recently (used by `kb ingest` to decide who runs a job). */
  anyLiveWorker(withinMs: number): boolean {
    const since = new Date(Date.now() - withinMs).toISOString();
    return this.db.select({ id: workers.id }).from(workers).where(gt(workers.heartbeatAt, since)).limit(1).get() !== undefined;
  }

  workerAlive(id: string, pid: number, host: string): void {
    const at = new Date().toISOString();
    this.db.insert(workers).values({ id, pid, host, heartbeatAt: at }).onConflictDoUpdate({ target: workers.id, set: { heartbeatAt: at } }).run();
  }

  workerGone(id: string): void {
    this.db.delete(workers).where(eq(workers.id, id)).run();
  }
}
