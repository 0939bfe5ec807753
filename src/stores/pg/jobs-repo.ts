/**
 * The persisted job queue on PostgreSQL (metadata.ts's JobStore). A claim is one transaction:
 * `SELECT … FOR UPDATE SKIP LOCKED` picks a claimable job that no other transaction holds, then
 * takes it, so workers on any number of processes or hosts never take the same job and never
 * wait on each other's candidates. Multi-statement methods lock the rows they read and change.
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, notLike, sql, type SQL } from "drizzle-orm";
import { FILE_OPTION_SECRETS, withoutFileSecrets, type JobFileRow, type JobFileStatus, type JobFileUpdate, type JobQueueStat, type JobRow, type JobStatus, type JobStore, type NewJobFile } from "../metadata.ts";
import { changed, nowSql, type PgContext } from "./context.ts";
import { jobFiles, jobs, workers } from "./schema.ts";

/** A file's options without their secrets (metadata.ts: FILE_OPTION_SECRETS), and whether it holds any. */
const secretKeys = sql.raw(`ARRAY[${FILE_OPTION_SECRETS.map((k) => `'${k}'`).join(", ")}]::text[]`);
const optionsWithoutSecrets = sql`${jobFiles.options} - ${secretKeys}`;
const holdsSecrets = sql`${jobFiles.options} ?| ${secretKeys}`;

const TERMINAL_FILE_STATUSES: JobFileStatus[] = ["succeeded", "unchanged", "failed", "cancelled"];
const ACTIVE_JOB_STATUSES: JobStatus[] = ["queued", "running"];
const isTerminalFile = (s: JobFileStatus | undefined) => s !== undefined && TERMINAL_FILE_STATUSES.includes(s);

export class PgJobsRepo implements JobStore {
  constructor(private readonly c: PgContext) {}

  async create(job: { id: string; kind: string; createdBy: string | null; params?: Record<string, unknown> }, files: NewJobFile[] = []): Promise<void> {
    await this.c.tx(async () => {
      await this.c
        .q()
        .insert(jobs)
        .values({ id: job.id, kind: job.kind, status: "queued", createdBy: job.createdBy, params: job.params ?? {}, total: 0 });
      await this.addFiles(job.id, files);
    });
  }

  async addFiles(jobId: string, files: NewJobFile[]): Promise<void> {
    if (files.length === 0) return;
    await this.c.tx(async () => {
      let done = 0;
      const rows = files.map((f) => {
        const status = f.status ?? "queued";
        if (isTerminalFile(status)) done++;
        return { ...f, jobId, status, options: isTerminalFile(status) ? withoutFileSecrets(f.options ?? {}) : (f.options ?? {}), action: f.action ?? "ingest", finishedAt: isTerminalFile(status) ? new Date().toISOString() : null };
      });
      for (let i = 0; i < rows.length; i += 500) await this.c.q().insert(jobFiles).values(rows.slice(i, i + 500));
      await this.c
        .q()
        .update(jobs)
        .set({ total: sql`${jobs.total} + ${files.length}`, done: sql`${jobs.done} + ${done}` })
        .where(eq(jobs.id, jobId));
    });
  }

  async byId(id: string): Promise<JobRow | undefined> {
    return (await this.c.q().select().from(jobs).where(eq(jobs.id, id)))[0];
  }

  async files(jobId: string): Promise<JobFileRow[]> {
    return this.c.q().select().from(jobFiles).where(eq(jobFiles.jobId, jobId)).orderBy(asc(jobFiles.ordinal));
  }

  async list(filter: { limit?: number; offset?: number; status?: JobStatus[]; kind?: string[]; createdBy?: string } = {}): Promise<JobRow[]> {
    const where: SQL[] = [];
    if (filter.status?.length) where.push(inArray(jobs.status, filter.status));
    if (filter.kind?.length) where.push(inArray(jobs.kind, filter.kind));
    if (filter.createdBy !== undefined) where.push(eq(jobs.createdBy, filter.createdBy));
    return this.c
      .q()
      .select()
      .from(jobs)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(jobs.createdAt), desc(jobs.id))
      .limit(filter.limit ?? 50)
      .offset(filter.offset ?? 0);
  }

  private claimable(staleBefore: string): SQL {
    return sql`(${jobs.status} = 'queued' OR (${jobs.status} = 'running' AND (${jobs.heartbeatAt} IS NULL OR ${jobs.heartbeatAt} < ${staleBefore})))`;
  }

  async claim(workerId: string, staleMs: number, kinds?: string[]): Promise<string | undefined> {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    return this.c.tx(async () => {
      const candidate = (
        await this.c
          .q()
          .select({ id: jobs.id })
          .from(jobs)
          .where(and(this.claimable(staleBefore), kinds?.length ? inArray(jobs.kind, kinds) : undefined))
          .orderBy(asc(jobs.createdAt), asc(jobs.id))
          .limit(1)
          .for("update", { skipLocked: true })
      )[0];
      if (!candidate) return undefined;
      await this.take(candidate.id, workerId);
      return candidate.id;
    });
  }

  async claimJob(jobId: string, workerId: string, staleMs: number): Promise<boolean> {
    const staleBefore = new Date(Date.now() - staleMs).toISOString();
    return this.c.tx(async () => {
      const ok = (
        await this.c
          .q()
          .select({ id: jobs.id })
          .from(jobs)
          .where(and(eq(jobs.id, jobId), this.claimable(staleBefore)))
          .for("update", { skipLocked: true })
      )[0];
      if (!ok) return false;
      await this.take(jobId, workerId);
      return true;
    });
  }

  private async take(jobId: string, workerId: string): Promise<void> {
    await this.c
      .q()
      .update(jobs)
      .set({ status: "running", workerId, heartbeatAt: new Date().toISOString(), startedAt: sql`coalesce(${jobs.startedAt}, ${nowSql})` })
      .where(eq(jobs.id, jobId));
  }

  async heartbeat(jobId: string, workerId: string): Promise<boolean> {
    const r = await this.c
      .q()
      .update(jobs)
      .set({ heartbeatAt: new Date().toISOString() })
      .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")));
    return changed(r) > 0;
  }

  async holds(jobId: string, workerId: string): Promise<boolean> {
    const j = await this.byId(jobId);
    return j !== undefined && j.status === "running" && j.workerId === workerId;
  }

  async pendingFiles(jobId: string): Promise<JobFileRow[]> {
    return this.c
      .q()
      .select()
      .from(jobFiles)
      .where(and(eq(jobFiles.jobId, jobId), inArray(jobFiles.status, ["queued", "running"])))
      .orderBy(asc(jobFiles.ordinal));
  }

  async setFile(jobId: string, ordinal: number, values: JobFileUpdate): Promise<void> {
    await this.setFiles(jobId, [{ ordinal, ...values }]);
  }

  async setFiles(jobId: string, updates: (JobFileUpdate & { ordinal: number })[]): Promise<void> {
    if (updates.length === 0) return;
    await this.c.tx(async () => {
      // The job row first: concurrent updates of one job's files queue here instead of racing on `done`.
      await this.c.q().select({ id: jobs.id }).from(jobs).where(eq(jobs.id, jobId)).for("update");
      let delta = 0;
      for (const { ordinal, ...values } of updates) {
        const where = and(eq(jobFiles.jobId, jobId), eq(jobFiles.ordinal, ordinal));
        const before = (await this.c.q().select({ status: jobFiles.status }).from(jobFiles).where(where))[0];
        if (!before) continue;
        const after = values.status ?? before.status;
        const finished = isTerminalFile(after);
        if (finished && !isTerminalFile(before.status)) delta++;
        if (!finished && isTerminalFile(before.status)) delta--;
        await this.c
          .q()
          .update(jobFiles)
          .set({ ...values, finishedAt: finished ? nowSql : null, ...(finished ? { options: optionsWithoutSecrets } : {}) })
          .where(where);
      }
      if (delta) await this.c.q().update(jobs).set({ done: sql`${jobs.done} + ${delta}` }).where(eq(jobs.id, jobId));
    });
  }

  async setPhase(jobId: string, phase: string | null): Promise<void> {
    await this.c.q().update(jobs).set({ phase }).where(eq(jobs.id, jobId));
  }

  async mergeParams(jobId: string, values: Record<string, unknown>): Promise<void> {
    // jsonb's `||` merges top-level keys in one statement.
    await this.c
      .q()
      .update(jobs)
      .set({ params: sql`${jobs.params} || ${JSON.stringify(values)}::jsonb` })
      .where(eq(jobs.id, jobId));
  }

  async finish(jobId: string, status: JobStatus, error?: string): Promise<void> {
    await this.c.tx(async () => {
      await this.c
        .q()
        .update(jobs)
        .set({ status, error: error ?? null, finishedAt: nowSql, phase: null })
        .where(and(eq(jobs.id, jobId), sql`${jobs.status} <> 'cancelled'`));
      // A finished job never reads its files again (a file left queued included).
      await this.c.q().update(jobFiles).set({ options: optionsWithoutSecrets }).where(and(eq(jobFiles.jobId, jobId), holdsSecrets));
    });
  }

  async cancel(jobId: string): Promise<boolean> {
    return this.c.tx(async () => {
      const r = await this.c
        .q()
        .update(jobs)
        .set({ status: "cancelled", finishedAt: nowSql, phase: null })
        .where(and(eq(jobs.id, jobId), inArray(jobs.status, ACTIVE_JOB_STATUSES)));
      if (changed(r) === 0) return false;
      await this.cancelQueuedFiles(jobId);
      return true;
    });
  }

  async cancelQueuedFiles(jobId: string): Promise<void> {
    await this.cancelFiles(jobId, ["queued"]);
  }

  async cancelUnfinishedFiles(jobId: string): Promise<void> {
    await this.cancelFiles(jobId, ["queued", "running"]);
  }

  private async cancelFiles(jobId: string, statuses: JobFileStatus[]): Promise<void> {
    await this.c.tx(async () => {
      const queued = await this.c
        .q()
        .select({ ordinal: jobFiles.ordinal })
        .from(jobFiles)
        .where(and(eq(jobFiles.jobId, jobId), inArray(jobFiles.status, statuses)));
      await this.setFiles(
        jobId,
        queued.map((f) => ({ ordinal: f.ordinal, status: "cancelled" as const })),
      );
    });
  }

  async release(jobId: string, workerId: string): Promise<void> {
    await this.c.tx(async () => {
      const r = await this.c
        .q()
        .update(jobs)
        .set({ status: "queued", workerId: null, heartbeatAt: null })
        .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")));
      if (changed(r) === 0) return;
      await this.c
        .q()
        .update(jobFiles)
        .set({ status: "queued" })
        .where(and(eq(jobFiles.jobId, jobId), eq(jobFiles.status, "running")));
    });
  }

  async interruptedFiles(): Promise<JobFileRow[]> {
    const rows = await this.c
      .q()
      .select({ f: jobFiles })
      .from(jobFiles)
      .innerJoin(jobs, eq(jobs.id, jobFiles.jobId))
      .where(and(eq(jobFiles.status, "running"), sql`${jobs.status} NOT IN ('queued', 'running')`));
    return rows.map((r) => r.f);
  }

  async documentsInActiveJobs(): Promise<Set<string>> {
    const rows = await this.c
      .q()
      .select({ id: jobFiles.documentId })
      .from(jobFiles)
      .innerJoin(jobs, eq(jobs.id, jobFiles.jobId))
      .where(and(inArray(jobs.status, ACTIVE_JOB_STATUSES), inArray(jobFiles.status, ["queued", "running"]), isNotNull(jobFiles.documentId)));
    return new Set(rows.map((r) => r.id!));
  }

  async activeJobWith(kind: string, match: (params: Record<string, unknown>) => boolean): Promise<JobRow | undefined> {
    const rows = await this.c
      .q()
      .select()
      .from(jobs)
      .where(and(eq(jobs.kind, kind), inArray(jobs.status, ACTIVE_JOB_STATUSES)));
    return rows.find((j) => match(j.params));
  }

  async finishedSince(jobId: string, sinceIso: string): Promise<number> {
    const r = await this.c
      .q()
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(jobFiles)
      .where(and(eq(jobFiles.jobId, jobId), gt(jobFiles.finishedAt, sinceIso)));
    return r[0]?.n ?? 0;
  }

  async counts(jobId: string): Promise<Record<string, number>> {
    const rows = await this.c
      .q()
      .select({ status: jobFiles.status, n: sql<number>`count(*)`.mapWith(Number) })
      .from(jobFiles)
      .where(eq(jobFiles.jobId, jobId))
      .groupBy(jobFiles.status);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async queueStats(): Promise<JobQueueStat[]> {
    return (await this.c
      .q()
      .select({ kind: jobs.kind, status: jobs.status, count: sql<number>`count(*)`.mapWith(Number), oldestCreatedAt: sql<string>`min(${jobs.createdAt})` })
      .from(jobs)
      .where(inArray(jobs.status, ["queued", "running"]))
      .groupBy(jobs.kind, jobs.status)) as JobQueueStat[];
  }

  async countByStatus(): Promise<Partial<Record<JobStatus, number>>> {
    const rows = await this.c.q().select({ status: jobs.status, n: sql<number>`count(*)`.mapWith(Number) }).from(jobs).groupBy(jobs.status);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async anyLiveWorker(withinMs: number): Promise<boolean> {
    const since = new Date(Date.now() - withinMs).toISOString();
    const rows = await this.c
      .q()
      .select({ id: workers.id })
      .from(workers)
      .where(and(gt(workers.heartbeatAt, since), notLike(workers.id, "cli-%")))
      .limit(1);
    return rows.length > 0;
  }

  async workerAlive(id: string, pid: number, host: string): Promise<void> {
    const at = new Date().toISOString();
    await this.c.q().insert(workers).values({ id, pid, host, heartbeatAt: at }).onConflictDoUpdate({ target: workers.id, set: { heartbeatAt: at } });
  }

  async workerGone(id: string): Promise<void> {
    await this.c.q().delete(workers).where(eq(workers.id, id));
  }

  async reapDeadWorkers(host: string, isDead: (pid: number, id: string) => boolean): Promise<string[]> {
    const find = async () =>
      (await this.c.q().select().from(workers).where(eq(workers.host, host))).filter((w) => isDead(w.pid, w.id)).map((w) => w.id);
    if ((await find()).length === 0) return [];
    return this.c.tx(async () => {
      const dead = await find();
      if (dead.length === 0) return dead;
      await this.c.q().delete(workers).where(inArray(workers.id, dead));
      await this.c
        .q()
        .update(jobs)
        .set({ heartbeatAt: null })
        .where(and(inArray(jobs.workerId, dead), eq(jobs.status, "running")));
      return dead;
    });
  }
}
