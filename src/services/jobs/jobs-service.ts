/**
 * Jobs as users see them: list, follow, cancel, and submit the whole-index kinds (folder sync,
 * reindex, re-embed, optimize). Every action is authorized by policies/jobs.ts and audited.
 * Also where a process runs a job itself (`runHere`: the `kb` command when no worker is alive).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { authorize, can, canRead, Job, SYSTEM_ACTOR, type Actor } from "../../../policies/index.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../../domain/sensitive/index.ts";
import { newId } from "../../stores/ids.ts";
import { accessOfRow, type JobRow, type JobStatus, type MetadataRepositories, type MetadataStore } from "../../stores/metadata.ts";
import { ServiceError, notFound } from "../errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "../limits.ts";
import { redactorFor } from "../sensitive.ts";
import { unfilled, type ReconcileReport } from "./consistency.ts";
import { HEARTBEAT_MS, STALE_MS, type JobDeps } from "./context.ts";
import type { JobKind } from "./kinds.ts";
import type { ReembedParams } from "./kinds/reembed.ts";
import type { ReindexParams } from "./kinds/reindex.ts";
import type { SyncParams } from "./kinds/sync.ts";
import type { JobRunner, RunJobOptions } from "./runner.ts";
import { jobView, type JobView } from "./views.ts";

export { JOB_KINDS, type JobKind } from "./kinds.ts";

/** What a job shows in place of the name of a file whose document the viewer may not read. */
export const HIDDEN_SOURCE = "[not shown: a document you may not read]";

const ownerOf = (actor: Actor) => (actor.id === "system" ? null : `user:${actor.name}`);

/**
 * The real path of `p` with every symlink and `..` resolved, also when its last parts do not
 * exist yet (the deepest existing ancestor is resolved, the rest appended): a folder that is
 * created later under a symlinked parent is judged by where it will really be.
 */
export function realFolder(p: string): string {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(at), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      const parent = path.dirname(at);
      if (parent === at) return path.resolve(p);
      rest.push(path.basename(at));
      at = parent;
    }
  }
}

const within = (folder: string, root: string) => folder === root || folder.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

export interface JobsServiceOptions {
  /**
   * `KB_SYNC_ROOTS`: the folders under which syncs may read. Empty: only the operator (the `kb`
   * command and the schedules of KB_SYNC_SOURCES, both written by whoever runs the server) may
   * sync, anywhere; the API refuses every folder.
   */
  syncRoots?: readonly string[];
  /** Refuses principals that look like an existing user or group without being one (Accounts). */
  checkPrincipals?: (principals: string[]) => Promise<void>;
}

export class JobsService {
  constructor(
    private readonly deps: JobDeps,
    private readonly runner: JobRunner,
    /** Wakes in-process workers after a submit. */
    private readonly wake: () => void = () => {},
    private readonly options: JobsServiceOptions = {},
  ) {}

  /**
   * The real folder a sync of `folder` would read, if `actor` may sync it: under a configured
   * sync root (after resolving symlinks and `..`), or anywhere for the operator when no roots
   * are configured. Throws a 403 otherwise.
   */
  syncFolder(actor: Actor, folder: string): string {
    if (!path.isAbsolute(folder)) throw new ServiceError(400, "bad_request", "folder must be an absolute path on the server");
    const real = realFolder(folder);
    const roots = this.options.syncRoots ?? [];
    if (roots.length === 0) {
      if (actor.id === SYSTEM_ACTOR.id) return real;
      throw new ServiceError(403, "sync_roots_not_configured", "folder syncs through the API need KB_SYNC_ROOTS: the server operator lists the folders that may be synced");
    }
    if (!roots.some((r) => within(real, realFolder(r)))) {
      throw new ServiceError(403, "folder_not_allowed", `${folder} is not under a sync root (KB_SYNC_ROOTS)${real !== path.resolve(folder) ? `: it resolves to ${real}` : ""}`);
    }
    return real;
  }

  /** A job's view without an authorization check: for the operator's `kb` command and workers. */
  view(jobId: string, options: { files?: boolean } = {}): Promise<JobView | undefined> {
    return jobView(this.deps.jobs, jobId, options);
  }

  /** Runs a job this process has claimed (a worker, or `runHere`). */
  run(jobId: string, workerId: string, options: RunJobOptions | ((done: number, total: number, file: string) => void) = {}): Promise<JobView> {
    return this.runner.run(jobId, workerId, options);
  }

  /** Optimizes the active table now, without a job (for the operator's tools and tests). */
  optimizeNow(cleanupOlderThanMinutes?: number): Promise<void> {
    return this.runner.optimizeNow(cleanupOlderThanMinutes);
  }

  /** Makes the active table agree with SQLite now (consistency.ts; workers run it at start and every 15 min). */
  reconcile(options: { full: boolean; settleMs?: number }): Promise<ReconcileReport> {
    return this.runner.reconcile(options);
  }

  /** True when some worker process is alive and will run queued jobs. */
  anyLiveWorker(): Promise<boolean> {
    return this.deps.jobs.anyLiveWorker(STALE_MS);
  }

  /**
   * Runs a job in this process (the `kb` command when no worker is alive): claims it, registers
   * this process as its runner (so if the process is killed, a `kb worker` on this host resumes
   * the job at once) and runs it. Undefined when another process holds it.
   */
  async runHere(jobId: string, onProgress?: (done: number, total: number, file: string) => void): Promise<JobView | undefined> {
    const { jobs } = this.deps;
    const workerId = `cli-${process.pid}-${Date.now().toString(36)}`;
    if (!(await jobs.claimJob(jobId, workerId, STALE_MS))) return undefined;
    const alive = () => jobs.workerAlive(workerId, process.pid, os.hostname());
    await alive();
    const beat = setInterval(() => void alive().catch((err: unknown) => this.deps.log?.("worker heartbeat failed", { jobId, err: String(err) })), HEARTBEAT_MS);
    beat.unref();
    try {
      return await this.runner.run(jobId, workerId, onProgress ? { onProgress } : {});
    } finally {
      clearInterval(beat);
      await jobs.workerGone(workerId);
    }
  }

  private async readable(actor: Actor, id: string): Promise<JobRow> {
    const job = await this.deps.jobs.byId(id);
    if (!job || !can(actor, "read", Job, { createdBy: job.createdBy })) throw notFound("job");
    return job;
  }

  async get(actor: Actor, id: string, options: { files?: boolean } = {}): Promise<JobView> {
    const job = await this.readable(actor, id);
    return this.shownTo(actor, job, (await this.view(id, options))!);
  }

  /**
   * A job's file list as `actor` may see it. Following a job is not reading its documents:
   * a document manager (`manage_all_documents` without `read_all_documents`) follows everyone's
   * jobs, but a file whose document they may not read is shown without its name, document id
   * or error text (status and error code stay), like any document they may not read. The job's
   * creator sees the files they submitted. Personal data in names is masked as everywhere.
   */
  private async shownTo(actor: Actor, job: JobRow, view: JobView): Promise<JobView> {
    const creator = ownerOf(actor) === job.createdBy || (actor.id === "system" && job.createdBy === "system");
    const redact = redactorFor(actor);
    const files: JobView["files"] = [];
    for (const f of view.files) {
      const doc = f.documentId ? await this.deps.documents.byId(f.documentId) : undefined;
      const readable = doc ? canRead(actor, accessOfRow(doc)) : creator;
      if (readable || creator) {
        files.push({ ...f, source: redact(f.source), ...(f.error ? { error: redact(f.error) } : {}) });
        continue;
      }
      const { documentId: _id, error: _error, ...rest } = f;
      files.push({ ...rest, source: HIDDEN_SOURCE });
    }
    return { ...view, files };
  }

  /** Newest first; managers see every job, others their own. Without per-file lists. */
  async list(actor: Actor, filter: { status?: JobStatus[]; kind?: string[]; limit?: number; offset?: number } = {}): Promise<JobView[]> {
    const mine = can(actor, "manage", Job, { createdBy: null }) ? undefined : (ownerOf(actor) ?? "system");
    const views: JobView[] = [];
    for (const j of await this.deps.jobs.list({ ...filter, createdBy: mine })) {
      if (can(actor, "read", Job, { createdBy: j.createdBy })) views.push((await this.view(j.id, { files: false }))!);
    }
    return views;
  }

  /**
   * Cancels a queued or running job. Files not yet started are marked cancelled at once (a
   * live worker finishes the batch it is writing, then stops); documents created for the job
   * that will now never get a version are removed.
   */
  async cancel(actor: Actor, id: string): Promise<JobView> {
    const job = await this.readable(actor, id);
    authorize(actor, "cancel", Job, { createdBy: job.createdBy });
    if (!(await this.deps.jobs.cancel(id))) throw new ServiceError(409, "job_finished", `job ${id} is already ${(await this.deps.jobs.byId(id))?.status}`);
    await this.deps.audit.record(actor, "job.cancel", id, { kind: job.kind });
    await this.removeUnfilledDocuments(id);
    return this.shownTo(actor, job, (await this.view(id))!);
  }

  private async removeUnfilledDocuments(jobId: string): Promise<void> {
    const { jobs, documents } = this.deps;
    const busy = await jobs.documentsInActiveJobs();
    for (const f of await jobs.files(jobId)) {
      if (f.status !== "cancelled" || !f.documentId || busy.has(f.documentId)) continue;
      const d = await documents.byId(f.documentId);
      if (!d || d.version !== 0 || d.status !== "processing") continue;
      await this.runner.writer.delete(d.id, { onlyIf: (now, tx) => unfilled(now, tx.jobs) });
    }
  }

  /**
   * Submits a job of any kind (admins only), audited as `job.<kind>`; a worker is woken. `tx`:
   * the job is created in the caller's transaction (a schedule's check-and-submit).
   */
  async submit(actor: Actor, kind: JobKind, params: Record<string, unknown>, createdBy?: string, tx?: MetadataRepositories): Promise<{ jobId: string }> {
    authorize(actor, "manage", Job, { createdBy: null });
    const jobId = newId("job");
    await (tx ?? this.deps).jobs.create({ id: jobId, kind, createdBy: createdBy ?? ownerOf(actor) ?? "system", params });
    await this.deps.audit.record(actor, `job.${kind}`, jobId, params); // inside the caller's tx when there is one (same async context)
    this.wake();
    return { jobId };
  }

  /** Sync a folder: add new files, update changed ones, delete documents whose file is gone. */
  async submitSync(
    actor: Actor,
    request: { folder: string; allow?: string[]; deny?: string[]; classification?: number },
    options: { schedule?: string; tx?: MetadataRepositories } = {},
  ): Promise<{ jobId: string }> {
    requireMaxLength("folder", request.folder, TEXT_LIMITS.path);
    authorize(actor, "manage", Job, { createdBy: null });
    await this.options.checkPrincipals?.([...(request.allow ?? []), ...(request.deny ?? [])]);
    const params: SyncParams = {
      // The real path: what was checked against the sync roots is what the job reads.
      folder: this.syncFolder(actor, request.folder),
      ...(request.allow?.length ? { allow: request.allow } : {}),
      ...(request.deny?.length ? { deny: request.deny } : {}),
      ...(request.classification !== undefined ? { classification: request.classification } : {}),
      owner: ownerOf(actor),
      ...(options.schedule ? { schedule: options.schedule } : {}),
    };
    return this.submit(actor, "sync", params as unknown as Record<string, unknown>, options.schedule ? `schedule:${options.schedule}` : undefined, options.tx);
  }

  /**
   * Re-extract from the stored originals and rewrite chunks (all documents, or a filter).
   * `sensitiveStale`: only documents indexed by an older personal-data detector.
   */
  async submitReindex(
    actor: Actor,
    filter: { documentIds?: string[]; sourcePrefix?: string; sensitiveStale?: boolean } = {},
    tx?: MetadataRepositories,
  ): Promise<{ jobId: string }> {
    requireMaxLength("sourcePrefix", filter.sourcePrefix, TEXT_LIMITS.path);
    const params: ReindexParams = {
      ...(filter.documentIds?.length ? { documentIds: filter.documentIds } : {}),
      ...(filter.sourcePrefix ? { sourcePrefix: filter.sourcePrefix } : {}),
      ...(filter.sensitiveStale ? { sensitiveVersionBelow: SENSITIVE_DETECTOR_VERSION } : {}),
    };
    return this.submit(actor, "reindex", params as Record<string, unknown>, undefined, tx);
  }

  /**
   * Re-embed every chunk into a new table with `model` (default: the configured model; null:
   * no vectors), switching when complete; `rollback`: back to the previous table.
   */
  async submitReembed(actor: Actor, request: { model?: string | null; rollback?: boolean; force?: boolean } = {}): Promise<{ jobId: string }> {
    let params: ReembedParams;
    if (request.rollback) {
      const prev = await this.deps.index.previous();
      if (!prev) throw new ServiceError(409, "no_previous_index", "there is no previous chunk table to roll back to");
      params = { table: prev.table };
    } else {
      const model = request.model === undefined ? this.deps.index.wantedModel : request.model;
      if (request.model === undefined && !model) throw new ServiceError(400, "no_model", "no embedding model is configured or found; name one (or null for a lexical-only index)");
      params = { model, ...(request.force ? { force: true } : {}) };
    }
    return this.submit(actor, "reembed", params as Record<string, unknown>);
  }

  async submitOptimize(actor: Actor, options: { cleanupOlderThanMinutes?: number } = {}): Promise<{ jobId: string }> {
    return this.submit(actor, "optimize", options.cleanupOlderThanMinutes !== undefined ? { cleanupOlderThanMinutes: options.cleanupOlderThanMinutes } : {});
  }
}

/**
 * A new detector version finds values the previous one missed, and the full-text index of a
 * document written by the previous one holds those values' characters as ordinary terms (the
 * index blanks out only what the detector that wrote it saw). Each document records the
 * detector version that indexed it; when a worker starts, documents below the current version
 * get one reindex job (re-extracted from the stored originals, so index terms, keys and the
 * spans of the admin report all come from the current detector), unless such a job is already
 * queued or running. A document whose re-index fails stays below the version and is tried again
 * at the next start. Until its job is done, retrieval keeps such documents from confirming a
 * value (Retriever drops a lexical hit found through a value the reader sees masked).
 */
export function reindexDocumentsOfOlderDetector(deps: { metadata: MetadataStore; jobsService: JobsService }): Promise<{
  /** Documents indexed by an older detector. */
  stale: number;
  /** The job re-indexing them (new, or already queued or running); null when none is needed. */
  jobId: string | null;
  submitted: boolean;
}> {
  return deps.metadata.withTransaction(async (tx) => {
    const stale = await tx.documents.countIndexedBeforeSensitiveVersion(SENSITIVE_DETECTOR_VERSION);
    if (stale === 0) return { stale, jobId: null, submitted: false };
    const running = await tx.jobs.activeJobWith("reindex", (p) => p.sensitiveVersionBelow === SENSITIVE_DETECTOR_VERSION);
    if (running) return { stale, jobId: running.id, submitted: false };
    return { stale, jobId: (await deps.jobsService.submitReindex(SYSTEM_ACTOR, { sensitiveStale: true }, tx)).jobId, submitted: true };
  });
}
