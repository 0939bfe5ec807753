/**
 * The persisted job queue. Workers claim jobs atomically; a job whose worker stopped sending
 * heartbeats (or whose worker process is known dead) can be claimed again and resumes from its
 * per-file records. Synchronous underneath; services use it as metadata.ts's JobStore
 * (metadata-store.ts). Its own multi-statement methods (claim, cancel, setFiles, ...) are one
 * write transaction each (BEGIN IMMEDIATE; a savepoint inside the store's withTransaction).
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "./db.ts";
import { jobFiles, jobs, workers } from "./schema.ts";
import { FILE_OPTION_SECRETS, withoutFileSecrets, type JobQueueStat } from "../metadata.ts";

/** A file's options without their secrets (metadata.ts: FILE_OPTION_SECRETS), and whether it holds any. */
const optionsWithoutSecrets = sql`json_remove(${jobFiles.options}, ${sql.raw(FILE_OPTION_SECRETS.map((k) => `'$.${k}'`).join(", "))})`;
const holdsSecrets = sql`(${sql.join(
  FILE_OPTION_SECRETS.map((k) => sql`json_type(${jobFiles.options}, ${sql.raw(`'$.${k}'`)}) IS NOT NULL`),
  sql` OR `,
)})`;

export type JobRow = typeof jobs.$inferSelect;
export type JobFileRow = typeof jobFiles.$inferSelect;
export type JobStatus = JobRow["status"];
export type JobFileStatus = JobFileRow["status"];
export type JobFileAction = JobFileRow["action"];
/** A file row as callers describe it; status defaults to queued. */
export type NewJobFile = Pick<JobFileRow, "ordinal" | "source" | "path"> &
  Partial<Pick<JobFileRow, "options" | "action" | "documentId" | "status" | "errorCode" | "error">>;
export type JobFileUpdate = Partial<Pick<JobFileRow, "status" | "documentId" | "errorCode" | "error">>;

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;
export const TERMINAL_FILE_STATUSES: JobFileStatus[] = ["succeeded", "unchanged", "failed", "cancelled"];
export const ACTIVE_JOB_STATUSES: JobStatus[] = ["queued", "running"];
const isTerminalFile = (s: JobFileStatus | undefined) => s !== undefined && TERMINAL_FILE_STATUSES.includes(s);

export class JobsRepo {
  constructor(private readonly db: Db) {}

  /** Runs `fn` in one write transaction (nested calls become savepoints). */
  private transaction<T>(fn: () => T): T {
    return this.db.transaction(() => fn(), { behavior: "immediate" });
  }

  create(job: { id: string; kind: string; createdBy: string | null; params?: Record<string, unknown> }, files: NewJobFile[] = []): void {
    this.transaction(() => {
      this.db
        .insert(jobs)
        .values({ id: job.id, kind: job.kind, status: "queued", createdBy: job.createdBy, params: job.params ?? {}, total: 0 })
        .run();
      this.addFiles(job.id, files);
    });
  }

  /** Adds file rows (a planning step) and updates the totals; rows already terminal count as done. */
  addFiles(jobId: string, files: NewJobFile[]): void {
    if (files.length === 0) return;
    this.transaction(() => {
      let done = 0;
      for (const f of files) {
        const status = f.status ?? "queued";
        if (isTerminalFile(status)) done++;
        this.db
          .insert(jobFiles)
          .values({ ...f, jobId, status, options: isTerminalFile(status) ? withoutFileSecrets(f.options ?? {}) : (f.options ?? {}), action: f.action ?? "ingest", finishedAt: isTerminalFile(status) ? new Date().toISOString() : null })
          .run();
      }
      this.db
        .update(jobs)
        .set({ total: sql`${jobs.total} + ${files.length}`, done: sql`${jobs.done} + ${done}` })
        .where(eq(jobs.id, jobId))
        .run();
    });
  }

  byId(id: string): JobRow | undefined {
    return this.db.select().from(jobs).where(eq(jobs.id, id)).get();
  }

  files(jobId: string): JobFileRow[] {
    return this.db.select().from(jobFiles).where(eq(jobFiles.jobId, jobId)).orderBy(asc(jobFiles.ordinal)).all();
  }

  /** Newest first, optionally filtered. */
  list(filter: { limit?: number; offset?: number; status?: JobStatus[]; kind?: string[]; createdBy?: string } = {}): JobRow[] {
    const where: SQL[] = [];
    if (filter.status?.length) where.push(inArray(jobs.status, filter.status));
    if (filter.kind?.length) where.push(inArray(jobs.kind, filter.kind));
    if (filter.createdBy !== undefined) where.push(eq(jobs.createdBy, filter.createdBy));
    return this.db
      .select()
      .from(jobs)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(jobs.createdAt), desc(jobs.id))
      .limit(filter.limit ?? 50)
      .offset(filter.offset ?? 0)
      .all();
  }

  private claimable(staleBefore: string): SQL {
    return sql`(${jobs.status} = 'queued' OR (${jobs.status} = 'running' AND (${jobs.heartbeatAt} IS NULL OR ${jobs.heartbeatAt} < ${staleBefore})))`;
  }

  /**
   * Claims the oldest queued job, or a running job whose worker has been silent for
   * `staleMs` (it crashed). Returns the claimed job id.
   */
  claim(workerId: string, staleMs: number, kinds?: string[]): string | undefined {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    return this.transaction(() => {
      const candidate = this.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(this.claimable(staleBefore), kinds?.length ? inArray(jobs.kind, kinds) : undefined))
        .orderBy(asc(jobs.createdAt), asc(jobs.id))
        .limit(1)
        .get();
      if (!candidate) return undefined;
      this.take(candidate.id, workerId);
      return candidate.id;
    });
  }

  /** Claims one specific job if it is queued or abandoned. */
  claimJob(jobId: string, workerId: string, staleMs: number): boolean {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    return this.transaction(() => {
      const ok = this.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.id, jobId), this.claimable(staleBefore)))
        .get();
      if (!ok) return false;
      this.take(jobId, workerId);
      return true;
    });
  }

  private take(jobId: string, workerId: string): void {
    this.db
      .update(jobs)
      .set({ status: "running", workerId, heartbeatAt: new Date().toISOString(), startedAt: sql`coalesce(${jobs.startedAt}, ${nowSql})` })
      .where(eq(jobs.id, jobId))
      .run();
  }

  /** False when the job is no longer this worker's (cancelled, finished, or taken over). */
  heartbeat(jobId: string, workerId: string): boolean {
    const r = this.db
      .update(jobs)
      .set({ heartbeatAt: new Date().toISOString() })
      .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")))
      .run();
    return r.changes > 0;
  }

  /** True while `workerId` holds the job. */
  holds(jobId: string, workerId: string): boolean {
    const j = this.byId(jobId);
    return j !== undefined && j.status === "running" && j.workerId === workerId;
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

  setFile(jobId: string, ordinal: number, values: JobFileUpdate): void {
    this.setFiles(jobId, [{ ordinal, ...values }]);
  }

  /** Updates several files in one transaction, keeping the job's done count. */
  setFiles(jobId: string, updates: (JobFileUpdate & { ordinal: number })[]): void {
    if (updates.length === 0) return;
    this.transaction(() => {
      let delta = 0;
      for (const { ordinal, ...values } of updates) {
        const where = and(eq(jobFiles.jobId, jobId), eq(jobFiles.ordinal, ordinal));
        const before = this.db.select({ status: jobFiles.status }).from(jobFiles).where(where).get();
        if (!before) continue;
        const after = values.status ?? before.status;
        const finished = isTerminalFile(after);
        if (finished && !isTerminalFile(before.status)) delta++;
        if (!finished && isTerminalFile(before.status)) delta--;
        this.db
          .update(jobFiles)
          .set({ ...values, finishedAt: finished ? nowSql : null, ...(finished ? { options: optionsWithoutSecrets } : {}) })
          .where(where)
          .run();
      }
      if (delta) this.db.update(jobs).set({ done: sql`${jobs.done} + ${delta}` }).where(eq(jobs.id, jobId)).run();
    });
  }

  setPhase(jobId: string, phase: string | null): void {
    this.db.update(jobs).set({ phase }).where(eq(jobs.id, jobId)).run();
  }

  /** Merges values into the job's params (planning results a resumed run must reuse). */
  mergeParams(jobId: string, values: Record<string, unknown>): void {
    this.transaction(() => {
      const job = this.byId(jobId);
      if (!job) return;
      this.db.update(jobs).set({ params: { ...job.params, ...values } }).where(eq(jobs.id, jobId)).run();
    });
  }

  /** Sets the final status, unless the job was cancelled meanwhile. */
  finish(jobId: string, status: JobStatus, error?: string): void {
    this.transaction(() => {
      this.db
        .update(jobs)
        .set({ status, error: error ?? null, finishedAt: nowSql, phase: null })
        .where(and(eq(jobs.id, jobId), sql`${jobs.status} <> 'cancelled'`))
        .run();
      // A finished job never reads its files again (a file left queued included).
      this.db.update(jobFiles).set({ options: optionsWithoutSecrets }).where(and(eq(jobFiles.jobId, jobId), holdsSecrets)).run();
    });
  }

  /**
   * Cancels a queued or running job: its queued files are marked cancelled at once. A file a
   * live worker is writing finishes (the worker stops before the next one).
   */
  cancel(jobId: string): boolean {
    return this.transaction(() => {
      const r = this.db
        .update(jobs)
        .set({ status: "cancelled", finishedAt: nowSql, phase: null })
        .where(and(eq(jobs.id, jobId), inArray(jobs.status, ACTIVE_JOB_STATUSES)))
        .run();
      if (r.changes === 0) return false;
      this.cancelQueuedFiles(jobId);
      return true;
    });
  }

  cancelQueuedFiles(jobId: string): void {
    this.cancelFiles(jobId, ["queued"]);
  }

  /** Queued and running files → cancelled (by the worker that was running them, once it stopped). */
  cancelUnfinishedFiles(jobId: string): void {
    this.cancelFiles(jobId, ["queued", "running"]);
  }

  private cancelFiles(jobId: string, statuses: JobFileStatus[]): void {
    const queued = this.db
      .select({ ordinal: jobFiles.ordinal })
      .from(jobFiles)
      .where(and(eq(jobFiles.jobId, jobId), inArray(jobFiles.status, statuses)))
      .all();
    this.setFiles(
      jobId,
      queued.map((f) => ({ ordinal: f.ordinal, status: "cancelled" as const })),
    );
  }

  /** Gives a running job back to the queue (a worker shutting down cleanly). */
  release(jobId: string, workerId: string): void {
    this.transaction(() => {
      const r = this.db
        .update(jobs)
        .set({ status: "queued", workerId: null, heartbeatAt: null })
        .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")))
        .run();
      if (r.changes === 0) return;
      this.db
        .update(jobFiles)
        .set({ status: "queued" })
        .where(and(eq(jobFiles.jobId, jobId), eq(jobFiles.status, "running")))
        .run();
    });
  }

  /** Files of finished (cancelled/failed) jobs still marked running: their worker died mid-file. */
  interruptedFiles(): JobFileRow[] {
    return this.db
      .select({ f: jobFiles })
      .from(jobFiles)
      .innerJoin(jobs, eq(jobs.id, jobFiles.jobId))
      .where(and(eq(jobFiles.status, "running"), sql`${jobs.status} NOT IN ('queued', 'running')`))
      .all()
      .map((r) => r.f);
  }

  /** Documents named by unfinished files of queued or running jobs (they will be written). */
  documentsInActiveJobs(): Set<string> {
    const rows = this.db
      .select({ id: jobFiles.documentId })
      .from(jobFiles)
      .innerJoin(jobs, eq(jobs.id, jobFiles.jobId))
      .where(and(inArray(jobs.status, ACTIVE_JOB_STATUSES), inArray(jobFiles.status, ["queued", "running"]), isNotNull(jobFiles.documentId)))
      .all();
    return new Set(rows.map((r) => r.id!));
  }

  /** True when some active job of `kind` has these params values (a schedule does not pile up syncs). */
  activeJobWith(kind: string, match: (params: Record<string, unknown>) => boolean): JobRow | undefined {
    return this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.kind, kind), inArray(jobs.status, ACTIVE_JOB_STATUSES)))
      .all()
      .find((j) => match(j.params));
  }

  /** Files finished since `sinceIso` (for throughput). */
  finishedSince(jobId: string, sinceIso: string): number {
    return (
      this.db
        .select({ n: sql<number>`count(*)` })
        .from(jobFiles)
        .where(and(eq(jobFiles.jobId, jobId), gt(jobFiles.finishedAt, sinceIso)))
        .get()?.n ?? 0
    );
  }

  /** Queued and running jobs per kind and status, with the oldest one's creation time (metrics). */
  queueStats(): JobQueueStat[] {
    return this.db
      .select({ kind: jobs.kind, status: jobs.status, count: sql<number>`count(*)`, oldestCreatedAt: sql<string>`min(${jobs.createdAt})` })
      .from(jobs)
      .where(inArray(jobs.status, ["queued", "running"]))
      .groupBy(jobs.kind, jobs.status)
      .all() as JobQueueStat[];
  }

  counts(jobId: string): Record<string, number> {
    const rows = this.db
      .select({ status: jobFiles.status, n: sql<number>`count(*)` })
      .from(jobFiles)
      .where(eq(jobFiles.jobId, jobId))
      .groupBy(jobFiles.status)
      .all();
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  countByStatus(): Partial<Record<JobStatus, number>> {
    const rows = this.db.select({ status: jobs.status, n: sql<number>`count(*)` }).from(jobs).groupBy(jobs.status).all();
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /**
   * True when some worker has shown life recently (used by `kb ingest` to decide who runs a
   * job). CLI processes running their own job (ids `cli-…`) are not workers for others.
   */
  anyLiveWorker(withinMs: number): boolean {
    const since = new Date(Date.now() - withinMs).toISOString();
    return (
      this.db
        .select({ id: workers.id })
        .from(workers)
        .where(and(gt(workers.heartbeatAt, since), sql`${workers.id} NOT LIKE 'cli-%'`))
        .limit(1)
        .get() !== undefined
    );
  }

  workerAlive(id: string, pid: number, host: string): void {
    const at = new Date().toISOString();
    this.db.insert(workers).values({ id, pid, host, heartbeatAt: at }).onConflictDoUpdate({ target: workers.id, set: { heartbeatAt: at } }).run();
  }

  workerGone(id: string): void {
    this.db.delete(workers).where(eq(workers.id, id)).run();
  }

  /**
   * Workers on this host whose process is gone (killed, crashed) are removed, and their running
   * jobs become claimable at once instead of after the heartbeat timeout. Returns their ids.
   */
  reapDeadWorkers(host: string, isDead: (pid: number, id: string) => boolean): string[] {
    const find = () =>
      this.db
        .select()
        .from(workers)
        .where(eq(workers.host, host))
        .all()
        .filter((w) => isDead(w.pid, w.id))
        .map((w) => w.id);
    if (find().length === 0) return []; // the common case, without taking the write lock
    return this.transaction(() => {
      const dead = find();
      if (dead.length === 0) return dead;
      this.db.delete(workers).where(inArray(workers.id, dead)).run();
      this.db
        .update(jobs)
        .set({ heartbeatAt: null })
        .where(and(inArray(jobs.workerId, dead), eq(jobs.status, "running")))
        .run();
      return dead;
    });
  }
}
