/**
 * Ingestion jobs: files are recorded in a persisted job (one row per file), then a worker
 * runs each file through the pipeline and writes the result:
 *   read → hash (unchanged content is a no-op) → prepare (extract, chunk, analyze) → embed
 *   → write chunks (one atomic LanceDB commit) → commit the version in SQLite.
 * Chunk ids are deterministic (document, version, ordinal), so a job resumed after a crash
 * rewrites exactly the same rows.
 *
 * Throughput: files are read, hashed and extracted by a bounded pool ahead of the writer
 * (extraction runs in child processes, extract-processes.ts, and overlaps embedding and LanceDB
 * writes); the writer takes them in order, embeds
 * several documents in one call and writes them in one merge-insert (each document still
 * changes atomically: the whole batch is one commit), then commits their versions in one
 * SQLite transaction.
 *
 * Other job kinds (sync, reindex, re-embed, optimize) are planned and run here too; see
 * plans.ts, reembed.ts and consistency.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { IngestError, type ContainerLimits } from "../../../ingest/types.ts";
import { prepareDocument, type PreparedDocument } from "../../../ingest/pipeline.ts";
import { authorize, Document, DocumentCollection, resolveAcl, type Access, type Actor, can, type DocumentFacts, type ExplicitAccess } from "../../../policies/index.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../../domain/sensitive/index.ts";
import type { EmbeddingProvider } from "../../models/embeddings.ts";
import type { BlobStore } from "../../stores/blob-store.ts";
import { newId, sha256Hex } from "../../stores/ids.ts";
import type { ChunkRow, ChunkStore } from "../../stores/lance/chunk-store.ts";
import { documentIdsWhere } from "../../stores/lance/filter.ts";
import { ownerScope, type DocumentIdentity, type DocumentRow, type DocumentsRepo } from "../../stores/sqlite/documents-repo.ts";
import type { JobFileRow, JobFileUpdate, JobRow, JobsRepo, NewJobFile } from "../../stores/sqlite/jobs-repo.ts";
import type { ActiveIndex } from "../active-index.ts";
import type { AuditLog } from "../audit.ts";
import { clampTitle } from "../../domain/limits.ts";
import { notFound, ServiceError } from "../errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "../limits.ts";
import { reconcile, type ReconcileReport } from "./consistency.ts";
import { ExtractProcessPool } from "./extract-processes.ts";
import { OptimizePolicy } from "./optimize-policy.ts";
import { planReindex, planSync } from "./plans.ts";
import { runReembed } from "./reembed.ts";

export interface IngestFileRequest {
  /** Shown to users; together with the caller it names the document again (see `submit`). */
  source: string;
  /** Where the bytes are now (a local file or a stored upload blob). */
  path: string;
  title?: string;
  allow?: string[];
  deny?: string[];
  classification?: number;
  password?: string;
  /** Tags for a new document (document default rules can match on them). */
  tags?: string[];
}

/** What a job file carries besides its location: the request's options and the uploader. */
export interface FileOptions extends Omit<IngestFileRequest, "source" | "path"> {
  owner: string | null;
  /** The live version an update by id was based on (If-Match): another one at write time fails the file. */
  expectedVersion?: number;
  /** The file comes from a folder sync: document rules can match it (`match.synced`). */
  synced?: boolean;
}

/** An upload that updates one named document, whoever owns it, instead of the caller's own. */
export interface UpdateTarget {
  documentId: string;
  /** The version the caller last saw (If-Match); another live version answers 409. */
  expectedVersion?: number;
}

const subjectOf = (d: DocumentRow) => ({ allow: d.aclAllow, deny: d.aclDeny, classification: d.classification, owner: d.owner, managers: d.aclManage });

export interface JobView {
  id: string;
  kind: string;
  status: JobRow["status"];
  progress: { done: number; total: number };
  /** Files (documents, for re-embed jobs) finished per second, recently; null before the first one. */
  throughput: number | null;
  /** Seconds left at that rate; null when unknown, 0 when finished. */
  etaSeconds: number | null;
  /** What a multi-phase job is doing now (planning, copying, catching up, switching…). */
  phase?: string;
  /** File counts per status. */
  counts: Record<string, number>;
  /** What the job was asked to do (folder, filter, model…). */
  params: Record<string, unknown>;
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  files: { source: string; documentId?: string; action?: JobFileRow["action"]; status: JobFileRow["status"]; error?: string; errorCode?: string }[];
}

export interface IngestDeps {
  documents: DocumentsRepo;
  jobs: JobsRepo;
  /** The chunk store readers use (follows the active table). */
  chunks: ChunkStore;
  /** The active table pointer: where writes go, with which model, and the switch protocol. */
  index: ActiveIndex;
  blobs: BlobStore;
  audit: AuditLog;
  /** The embedder whose vectors match the chunk table readers use, or null (lexical only). */
  embedder: () => EmbeddingProvider | null;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Default access of documents (policies/document-rules.ts with the current rules file); default: built-in default. */
  resolveAccess?: (facts: DocumentFacts, explicit: ExplicitAccess) => Access & { tags?: string[] };
  /** Records personal data found in a new version's chunks (services/sensitive.ts). */
  recordSensitive?: (documentId: string, chunks: readonly { chunkId: string; text: string }[]) => void;
  /** Files extracted ahead of the writer (default 4). */
  concurrency?: number;
  /**
   * Where files are extracted (extract-processes.ts). `processes` > 0: in that many child
   * processes with a time limit and an RSS cap per file; 0 or absent: in this process, with the
   * decompression caps only.
   */
  extraction?: { processes: number; timeoutMs: number; maxRssBytes: number; limits?: ContainerLimits };
  /** Seconds between optimize runs of the active table (default 300; 0: after every job that changed it). */
  optimizeIntervalS?: number;
  /** Seconds a re-embed waits after its switch before checking the new table against SQLite (default 5). */
  switchGraceS?: number;
}

/** What a job run may ask of the service and the worker running it. */
export interface JobRunContext {
  job: JobRow;
  workerId: string;
  /** False once the job was cancelled or taken over, or the worker is stopping. */
  shouldContinue(): boolean;
  progress(file: string): void;
  log(msg: string, fields?: Record<string, unknown>): void;
}

export interface RunJobOptions {
  onProgress?: (done: number, total: number, file: string) => void;
  /** True when the worker is shutting down: the job is given back to the queue after the current batch. */
  stopping?: () => boolean;
}

const TEXT_MAX_PAGES = 5000;
/** Documents and chunks per LanceDB write. */
const BATCH_DOCS = 16;
const BATCH_CHUNKS = 1024;
/**
 * How long prepared documents may wait for more to fill their batch while the next file is
 * still being extracted. Fewer, larger merge-inserts (each reads the table's id columns once)
 * for at most this much extra delay before a document is searchable.
 */
const BATCH_WAIT_MS = 1000;

type Outcome = Required<Pick<JobFileRow, "status">> & JobFileUpdate;

/** A file after the parallel stage (read, hash, extract), waiting for the ordered writer. */
type Staged =
  | { kind: "failed"; file: JobFileRow; code: string; message: string }
  | { kind: "delete"; file: JobFileRow }
  | {
      kind: "content";
      file: JobFileRow;
      hash: string;
      size: number;
      mtimeMs: number | null;
      bytes: Buffer;
      /** Absent when the content equalled the live version at read time (extraction skipped). */
      prepared?: PreparedDocument;
    };

interface PendingWrite {
  file: JobFileRow;
  doc: DocumentRow;
  rows: ChunkRow[];
  embeddingTexts: string[];
  values: Parameters<DocumentsRepo["commitVersion"]>[1];
  pages: { page: number; text: string }[];
}

function failure(err: unknown): { code: string; message: string } {
  return { code: err instanceof IngestError ? err.code : "internal_error", message: err instanceof Error ? err.message : String(err) };
}

const sameList = (a: string[], b: string[]) => a.join("\u0000") === b.join("\u0000");

export class IngestService {
  private readonly optimizer: OptimizePolicy;
  private readonly pool: ExtractProcessPool | null;

  constructor(private readonly deps: IngestDeps) {
    this.optimizer = new OptimizePolicy(deps.index, deps.optimizeIntervalS ?? 300, (msg, f) => deps.log?.(msg, f));
    const x = deps.extraction;
    this.pool =
      x && x.processes > 0
        ? new ExtractProcessPool({
            size: x.processes,
            timeoutMs: x.timeoutMs,
            maxRssBytes: x.maxRssBytes,
            // The V8 heap stops short of the RSS cap, so a plain heap blow-up ends as a heap-limit
            // abort; the watchdog catches what lives outside the heap (Buffers, WASM).
            heapMb: Math.floor((x.maxRssBytes * 0.75) / (1024 * 1024)),
            limits: x.limits,
            log: deps.log,
          })
        : null;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  /**
   * What an upload may do, checked before its bytes are read or stored: create documents, and,
   * when it names a document, update that one (404 when the caller may not read it, as for an id
   * that does not exist; 403 when they may read but not update it; 409 when `expectedVersion`
   * is not the live version). Returns the named document.
   */
  authorizeUpload(actor: Actor, target?: UpdateTarget): DocumentRow | undefined {
    authorize(actor, "create", DocumentCollection, null);
    if (!target) return undefined;
    const doc = this.deps.documents.byId(target.documentId);
    if (!doc || !can(actor, "read", Document, subjectOf(doc))) {
      if (doc) this.deps.audit.record(actor, "document.update", doc.id, { reason: "not readable by this user" }, "denied");
      throw notFound("document");
    }
    authorize(actor, "update", Document, subjectOf(doc));
    if (target.expectedVersion !== undefined && doc.version !== target.expectedVersion) {
      throw new ServiceError(409, "version_conflict", `the document is at version ${doc.version}, not ${target.expectedVersion}`);
    }
    return doc;
  }

  /**
   * Records a job for the files and returns at once. Each file gets its document now, so
   * callers can follow them: `target`'s when one is named (one file only), else the caller's
   * own document of that name (`source`, in the caller's identity scope), else a new one. A
   * name is never looked up among other people's documents, so it can neither update nor
   * reveal them. The documents and the job are written in one transaction: a crash cannot
   * leave a document row without the job that will fill it.
   */
  submit(actor: Actor, files: IngestFileRequest[], target?: UpdateTarget): { jobId: string; documents: { id: string; source: string }[] } {
    authorize(actor, "create", DocumentCollection, null);
    if (files.length === 0) throw new ServiceError(400, "bad_request", "no files to ingest");
    for (const f of files) {
      requireMaxLength("source", f.source, TEXT_LIMITS.path);
      requireMaxLength("title", f.title, TEXT_LIMITS.title);
      if ((f.tags?.length ?? 0) > TEXT_LIMITS.tags) throw new ServiceError(400, "too_long", `tags: at most ${TEXT_LIMITS.tags} per document (got ${f.tags!.length})`);
    }
    if (target && files.length !== 1) throw new ServiceError(400, "one_file", "an update of a named document takes exactly one file");
    const owner = actor.id === "system" ? null : `user:${actor.name}`;
    const jobId = newId("job");
    const docs: { id: string; source: string }[] = [];
    this.deps.jobs.transaction(() => {
      // Checked again inside the transaction, so the decision and the job are one step.
      const named = this.authorizeUpload(actor, target);
      const rows: NewJobFile[] = [];
      for (const [ordinal, f] of files.entries()) {
        const options: FileOptions = { title: f.title, allow: f.allow, deny: f.deny, classification: f.classification, password: f.password, tags: f.tags, owner };
        if (target?.expectedVersion !== undefined) options.expectedVersion = target.expectedVersion;
        const doc = named ?? this.documentFor(actor, { scope: ownerScope(owner), key: f.source }, f.source, options);
        docs.push({ id: doc.id, source: doc.source });
        rows.push({ ordinal, source: f.source, path: f.path, documentId: doc.id, options: { ...options, documentId: doc.id } });
      }
      this.deps.jobs.create({ id: jobId, kind: "ingest", createdBy: owner ?? "system" }, rows);
    });
    this.deps.audit.record(actor, "ingest.submit", jobId, { files: files.map((f) => f.source), ...(target ? { documentId: target.documentId } : {}) });
    return { jobId, documents: docs };
  }

  /**
   * The document `identity` names, or a new row for it (status processing, no version yet).
   * A named document the actor may not update is never touched: one they cannot read (an admin
   * took it away) stops being named by it and a new document takes the name; one they can read
   * but not update is a 403, since they see it anyway.
   */
  documentFor(actor: Actor, identity: DocumentIdentity, source: string, options: FileOptions): DocumentRow {
    const existing = this.deps.documents.byIdentity(identity);
    if (existing) {
      const subject = subjectOf(existing);
      if (can(actor, "update", Document, subject)) return existing;
      if (can(actor, "read", Document, subject)) authorize(actor, "update", Document, subject);
      this.deps.documents.detachIdentity(existing.id);
    }
    const acl: Access & { tags?: string[] } = (this.deps.resolveAccess ?? resolveAcl)({ source, owner: options.owner, tags: options.tags, synced: options.synced }, options);
    const id = newId("doc");
    try {
      this.deps.documents.insert({
        id,
        source,
        identityScope: identity.scope,
        identityKey: identity.key,
        title: clampTitle(options.title ?? path.basename(source)),
        status: "processing",
        owner: options.owner,
        aclAllow: acl.allow,
        aclDeny: acl.deny,
        classification: acl.classification,
        tags: acl.tags ?? options.tags ?? [],
      });
    } catch (err) {
      // Another process of the same owner (or sync) inserted the same name concurrently.
      const again = this.deps.documents.byIdentity(identity);
      if (again) return again;
      throw err;
    }
    return this.deps.documents.byId(id)!;
  }

  view(jobId: string, options: { files?: boolean } = {}): JobView | undefined {
    const { jobs } = this.deps;
    const job = jobs.byId(jobId);
    if (!job) return undefined;
    const { throughput, etaSeconds } = this.rate(job);
    const { password: _password, ...params } = job.params as Record<string, unknown>;
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      progress: { done: job.done, total: job.total },
      throughput,
      etaSeconds,
      ...(job.phase ? { phase: job.phase } : {}),
      counts: jobs.counts(jobId),
      params,
      createdBy: job.createdBy,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(job.error ? { error: job.error } : {}),
      files:
        options.files === false
          ? []
          : jobs.files(jobId).map((f) => ({
              source: f.source,
              ...(f.documentId ? { documentId: f.documentId } : {}),
              ...(f.action !== "ingest" ? { action: f.action } : {}),
              status: f.status,
              ...(f.error ? { error: f.error } : {}),
              ...(f.errorCode ? { errorCode: f.errorCode } : {}),
            })),
    };
  }

  /** Files per second over the last minute (running), or over the whole run (finished); ETA from it. */
  private rate(job: JobRow): { throughput: number | null; etaSeconds: number | null } {
    if (!job.startedAt) return { throughput: null, etaSeconds: null };
    const started = Date.parse(job.startedAt);
    if (job.status !== "running") {
      const end = job.finishedAt ? Date.parse(job.finishedAt) : Date.now();
      const secs = Math.max((end - started) / 1000, 0.001);
      return { throughput: job.done > 0 ? round2(job.done / secs) : null, etaSeconds: job.status === "queued" ? null : 0 };
    }
    const now = Date.now();
    const windowStart = Math.max(started, now - 60_000);
    const secs = Math.max((now - windowStart) / 1000, 0.001);
    const recent = this.deps.jobs.finishedSince(job.id, new Date(windowStart).toISOString());
    if (recent === 0) return { throughput: null, etaSeconds: null };
    const throughput = recent / secs;
    return { throughput: round2(throughput), etaSeconds: Math.round(Math.max(job.total - job.done, 0) / throughput) };
  }

  /**
   * Runs a claimed job to its end (or until it is cancelled, taken over, or the worker stops),
   * then sets its final status. Safe to call again on a job whose previous run died: it
   * continues from the per-file records.
   */
  async runJob(jobId: string, workerId: string, options: RunJobOptions | ((done: number, total: number, file: string) => void) = {}): Promise<JobView> {
    const opts: RunJobOptions = typeof options === "function" ? { onProgress: options } : options;
    const { jobs } = this.deps;
    const job = jobs.byId(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    let lost = false;
    const heartbeat = setInterval(() => {
      if (!jobs.heartbeat(jobId, workerId)) lost = true;
    }, 2000);
    heartbeat.unref();
    const ctx: JobRunContext = {
      job,
      workerId,
      shouldContinue: () => !lost && !opts.stopping?.() && jobs.holds(jobId, workerId),
      progress: (file) => {
        const after = jobs.byId(jobId);
        if (after) opts.onProgress?.(after.done, after.total, file);
      },
      log: (msg, fields) => this.deps.log?.(msg, { jobId, ...fields }),
    };
    let changed = false;
    let completed = true;
    try {
      switch (job.kind) {
        case "ingest":
          changed = await this.runFiles(ctx);
          completed = jobs.pendingFiles(jobId).length === 0;
          break;
        case "sync":
        case "reindex":
          if (!job.params.planned) {
            jobs.setPhase(jobId, "planning");
            if (job.kind === "sync") planSync(this.deps, this, ctx);
            else planReindex(this.deps, ctx);
          }
          jobs.setPhase(jobId, null);
          changed = await this.runFiles(ctx);
          completed = jobs.pendingFiles(jobId).length === 0;
          break;
        case "reembed":
          completed = await runReembed(this.deps, this, ctx);
          break;
        case "optimize":
          jobs.setPhase(jobId, "optimizing");
          await this.optimizer.run(ctx.job.params.cleanupOlderThanMinutes as number | undefined);
          break;
        default:
          throw new ServiceError(400, "bad_job", `unknown job kind ${job.kind}`);
      }
    } catch (err) {
      if (err instanceof IngestError && ctx.shouldContinue()) {
        // A job-level failure (e.g. the sync folder is missing): recorded, not retried.
        jobs.finish(jobId, "failed", `${err.code}: ${err.message}`);
        return this.view(jobId)!;
      }
      throw err;
    } finally {
      clearInterval(heartbeat);
    }
    if (changed) await this.optimizer.afterChange();
    if (!jobs.holds(jobId, workerId)) {
      // Cancelled: nothing of this run is half-written (the last batch was completed), so
      // the files it did not finish are marked cancelled. Taken over: left to the new worker.
      if (jobs.byId(jobId)?.status === "cancelled" && !lost) jobs.cancelUnfinishedFiles(jobId);
      return this.view(jobId)!;
    }
    if (!completed) {
      // The worker is stopping: the job goes back to the queue and resumes later.
      jobs.release(jobId, workerId);
      return this.view(jobId)!;
    }
    const counts = jobs.counts(jobId);
    const files = Object.values(counts).reduce((a, b) => a + b, 0);
    const failed = counts.failed ?? 0;
    jobs.finish(jobId, failed === 0 ? "succeeded" : failed === files ? "failed" : "partial");
    return this.view(jobId)!;
  }

  /**
   * Runs every pending file of a job: a bounded pool reads, hashes and extracts ahead; the
   * writer takes results in order and writes them in batches. True when something changed.
   */
  private async runFiles(ctx: JobRunContext): Promise<boolean> {
    const { jobs } = this.deps;
    const jobId = ctx.job.id;
    const pending = jobs.pendingFiles(jobId);
    const ahead = Math.max(1, this.deps.concurrency ?? 4, this.pool ? this.pool.size + 1 : 0);
    const staged: { promise: Promise<Staged>; settled: boolean }[] = [];
    let next = 0;
    const startMore = () => {
      while (next < pending.length && next - cursor < ahead) {
        const file = pending[next++]!;
        const slot = { promise: this.stage(file), settled: false };
        slot.promise.then(() => (slot.settled = true));
        staged.push(slot);
      }
    };
    let cursor = 0;
    let changed = false;
    const batch: PendingWrite[] = [];
    let batchSince = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const items = batch.splice(0);
      changed = (await this.writeBatch(ctx, items)) || changed;
      for (const w of items) ctx.progress(w.file.source);
    };
    const record = (file: JobFileRow, outcome: Outcome) => {
      jobs.setFile(jobId, file.ordinal, outcome);
      ctx.progress(file.source);
    };
    startMore();
    while (cursor < staged.length) {
      if (!ctx.shouldContinue()) break;
      const slot = staged[cursor]!;
      if (!slot.settled && batch.length) {
        // Prepared documents wait a little for company, not for a long extraction.
        const wait = BATCH_WAIT_MS - (Date.now() - batchSince);
        if (wait > 0) await Promise.race([slot.promise, new Promise((r) => setTimeout(r, wait).unref())]);
        if (!slot.settled) await flush();
      }
      const item = await slot.promise;
      cursor++;
      startMore();
      if (item.kind === "failed") {
        record(item.file, await this.settleFailure(item.file, item.code, item.message));
        continue;
      }
      if (item.kind === "delete") {
        await flush();
        const outcome = await this.deleteMissing(ctx, item.file);
        changed ||= outcome.status === "succeeded";
        if (outcome.status !== "running") record(item.file, outcome);
        continue;
      }
      let result: Outcome | PendingWrite;
      try {
        result = await this.decide(item);
      } catch (err) {
        const f = failure(err);
        this.deps.log?.("ingest failed", { source: item.file.source, code: f.code, message: f.message });
        record(item.file, await this.settleFailure(item.file, f.code, f.message));
        continue;
      }
      if ("status" in result) {
        if (result.status === "succeeded") changed = true;
        if (result.status !== "running") record(item.file, result);
        continue;
      }
      if (batch.some((w) => w.doc.id === result.doc.id)) await flush();
      if (batch.length === 0) batchSince = Date.now();
      batch.push(result);
      if (batch.length >= BATCH_DOCS || batch.reduce((n, w) => n + w.rows.length, 0) >= BATCH_CHUNKS) await flush();
    }
    if (ctx.shouldContinue() || jobs.byId(jobId)?.status === "cancelled") await flush();
    // Let extraction still in flight finish before returning (nothing is written for it).
    await Promise.allSettled(staged.slice(cursor).map((s) => s.promise));
    return changed;
  }

  /** The parallel part: read, hash and (unless the content is the live version's) extract. */
  private async stage(file: JobFileRow): Promise<Staged> {
    const opts = file.options as unknown as FileOptions & { documentId?: string };
    const doc = this.documentOf(file);
    if (!doc) return { kind: "failed", file, code: "document_deleted", message: "the document was deleted before it was ingested" };
    if (file.action === "delete") return { kind: "delete", file };
    this.deps.jobs.setFile(file.jobId, file.ordinal, { status: "running" });
    const reindex = file.action === "reindex";
    const filePath = reindex ? (doc.blobPath ?? "") : file.path;
    let bytes: Buffer;
    let mtimeMs: number | null = null;
    try {
      // stat before read: if the file changes in between, the next sync sees a newer mtime.
      if (!reindex) mtimeMs = Math.trunc(fs.statSync(filePath).mtimeMs);
      bytes = await fs.promises.readFile(filePath);
    } catch (err) {
      const code = reindex ? "blob_missing" : "file_unreadable";
      return { kind: "failed", file, code, message: `cannot read ${filePath || "(no stored original)"}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
    const hash = sha256Hex(bytes);
    const titleChanged = opts.title !== undefined && opts.title !== doc.title;
    if (!reindex && doc.status === "ready" && doc.contentHash === hash && !titleChanged) {
      return { kind: "content", file, hash, size: bytes.length, mtimeMs, bytes };
    }
    try {
      const prepared = await this.extract(doc.source, bytes, opts);
      return { kind: "content", file, hash, size: bytes.length, mtimeMs, bytes, prepared };
    } catch (err) {
      const f = failure(err);
      this.deps.log?.("ingest failed", { source: file.source, code: f.code, message: f.message });
      return { kind: "failed", file, ...f };
    }
  }

  private async extract(source: string, bytes: Buffer, opts: { title?: string; password?: string }): Promise<PreparedDocument> {
    const prepared = this.pool
      ? await this.pool.prepare(source, bytes, { title: opts.title, password: opts.password })
      : await prepareDocument({ source, bytes, password: opts.password }, { title: opts.title, password: opts.password, limits: this.deps.extraction?.limits });
    if (prepared.pages.length > TEXT_MAX_PAGES) throw new IngestError("too_many_pages", `document has ${prepared.pages.length} pages (limit ${TEXT_MAX_PAGES})`);
    if (prepared.chunks.length === 0) throw new IngestError("no_text", "no text could be extracted from this file");
    return prepared;
  }

  /** The document a file was recorded for (never looked up by source: sources are not unique). */
  private documentOf(file: JobFileRow): DocumentRow | undefined {
    const opts = file.options as { documentId?: string };
    const id = file.documentId ?? opts.documentId;
    return (id && this.deps.documents.byId(id)) || undefined;
  }

  /**
   * The ordered part, with the document as it is now: unchanged, an in-place ACL update, or a
   * new version to write (returned for the batch).
   */
  private async decide(item: Extract<Staged, { kind: "content" }>): Promise<Outcome | PendingWrite> {
    const { documents, index, blobs } = this.deps;
    const { file, hash } = item;
    const opts = file.options as unknown as FileOptions;
    const doc = this.documentOf(file);
    if (!doc) return { status: "failed", documentId: null, errorCode: "document_deleted", error: "the document was deleted before it was ingested" };
    if (opts.expectedVersion !== undefined && doc.version !== opts.expectedVersion) {
      // Another update went live after this one was accepted (If-Match holds at write time too).
      throw new IngestError("version_conflict", `the document is at version ${doc.version}, not ${opts.expectedVersion}`);
    }
    const reindex = file.action === "reindex";
    const acl = (this.deps.resolveAccess ?? resolveAcl)({ source: doc.source, owner: doc.owner, tags: doc.tags, synced: opts.synced }, {
      allow: opts.allow ?? (doc.version > 0 ? doc.aclAllow : undefined),
      deny: opts.deny ?? (doc.version > 0 ? doc.aclDeny : undefined),
      classification: opts.classification ?? (doc.version > 0 ? doc.classification : undefined),
    });
    const aclChanged = !sameList(acl.allow, doc.aclAllow) || !sameList(acl.deny, doc.aclDeny) || acl.classification !== doc.classification;
    const titleChanged = opts.title !== undefined && opts.title !== doc.title;
    const ok = { documentId: doc.id, errorCode: null, error: null };

    if (reindex && doc.contentHash !== hash) return { status: "failed", ...ok, errorCode: "blob_mismatch", error: "the stored original does not match the live version" };
    if (!reindex && doc.status === "ready" && doc.contentHash === hash && !titleChanged) {
      if (!aclChanged) {
        if (item.mtimeMs !== null && doc.sourceMtimeMs !== item.mtimeMs) documents.update(doc.id, { sourceMtimeMs: item.mtimeMs });
        return { status: "unchanged", ...ok };
      }
      for (;;) {
        const target = await index.writeTarget();
        await target.store.updateAccess(doc.id, acl);
        if (index.commit(target.name, () => documents.update(doc.id, { aclAllow: acl.allow, aclDeny: acl.deny, classification: acl.classification, ...(item.mtimeMs !== null ? { sourceMtimeMs: item.mtimeMs } : {}) }))) break;
      }
      return { status: "succeeded", ...ok };
    }

    const prepared = item.prepared ?? (await this.extract(doc.source, item.bytes, opts));
    const blob = blobs.put(item.bytes);
    // The version is derived from the content, not a counter, so a resumed job writes the same ids.
    const sameContentAsLive = doc.contentHash === hash && doc.version > 0;
    const version = sameContentAsLive ? doc.version : doc.version + 1;
    const rows = this.rowsFor(doc, version, prepared, acl);
    if (reindex && (await this.sameAsStored(doc, rows, prepared))) {
      // The current detector finds nothing the stored index lacks: it is current as it is.
      if (doc.sensitiveVersion !== SENSITIVE_DETECTOR_VERSION) documents.update(doc.id, { sensitiveVersion: SENSITIVE_DETECTOR_VERSION });
      return { status: "unchanged", ...ok };
    }
    return {
      file,
      doc,
      rows,
      embeddingTexts: prepared.chunks.map((c) => c.embeddingText),
      values: {
        title: prepared.title,
        mime: prepared.type.mime,
        contentHash: hash,
        version,
        status: "ready",
        aclAllow: acl.allow,
        aclDeny: acl.deny,
        classification: acl.classification,
        pageCount: prepared.pages.length,
        chunkCount: rows.length,
        sizeBytes: item.size,
        blobPath: blob.path,
        sensitiveVersion: SENSITIVE_DETECTOR_VERSION,
        ...(item.mtimeMs !== null ? { sourceMtimeMs: item.mtimeMs } : {}),
        error: prepared.warnings.length ? prepared.warnings.join("; ") : null,
      },
      pages: prepared.pages,
    };
  }

  private rowsFor(doc: DocumentRow, version: number, prepared: PreparedDocument, acl: Access): ChunkRow[] {
    return prepared.chunks.map((c) => ({
      chunkId: `${doc.id}:${version}:${c.ordinal}`,
      documentId: doc.id,
      documentVersion: version,
      ordinal: c.ordinal,
      title: prepared.title,
      source: doc.source,
      pageStart: c.pageStart,
      pageEnd: c.pageEnd,
      headings: c.headings.join(" > "),
      text: c.text,
      analyzed: c.analyzed,
      allow: acl.allow,
      deny: acl.deny,
      classification: acl.classification,
    }));
  }

  /** A reindex that would write exactly what the active table and SQLite hold changes nothing. */
  private async sameAsStored(doc: DocumentRow, rows: ChunkRow[], prepared: PreparedDocument): Promise<boolean> {
    if (doc.title !== prepared.title || doc.pageCount !== prepared.pages.length || doc.chunkCount !== rows.length) return false;
    const target = await this.deps.index.writeTarget();
    const stored = await target.store.rowsOf([doc.id], true);
    if (stored.length !== rows.length) return false;
    const key = (r: ChunkRow) =>
      [r.chunkId, r.title, r.source, r.pageStart, r.pageEnd, r.headings, r.text, r.analyzed, r.allow.join(","), r.deny.join(","), r.classification].join("\u0001");
    const vectorsOk = !target.store.vectors || !target.embedder || stored.every((r) => r.vector);
    return vectorsOk && stored.every((r, i) => key(r) === key(rows[i]!));
  }

  /**
   * Embeds and writes several documents in one LanceDB commit, then commits their versions
   * (and the files' outcomes) in one SQLite transaction. If the active table was switched in
   * between, the write is repeated on the new table with its model.
   */
  private async writeBatch(ctx: JobRunContext, items: PendingWrite[]): Promise<boolean> {
    const { documents, index, jobs } = this.deps;
    for (;;) {
      const target = await index.writeTarget();
      let vectors: Float32Array[] | null = null;
      if (target.embedder) {
        try {
          vectors = await target.embedder.embedPassages(items.flatMap((w) => w.embeddingTexts));
        } catch (err) {
          const f = failure(err);
          this.deps.log?.("embedding failed", { message: f.message });
          for (const w of items) jobs.setFile(ctx.job.id, w.file.ordinal, await this.settleFailure(w.file, "embedding_failed", f.message));
          return false;
        }
      }
      let k = 0;
      for (const w of items) for (const r of w.rows) r.vector = vectors ? vectors[k++] : undefined;
      for (const w of items) this.deps.recordSensitive?.(w.doc.id, w.rows);
      await target.store.replaceDocuments(items.map((w) => ({ documentId: w.doc.id, rows: w.rows })));
      const gone: string[] = [];
      const committed = index.commit(target.name, () => {
        for (const w of items) if (!documents.commitVersion(w.doc.id, w.values, w.pages)) gone.push(w.doc.id);
        jobs.setFiles(
          ctx.job.id,
          items.map((w) => ({
            ordinal: w.file.ordinal,
            ...(gone.includes(w.doc.id)
              ? { status: "failed" as const, documentId: w.doc.id, errorCode: "document_deleted", error: "the document was deleted while it was ingested" }
              : { status: "succeeded" as const, documentId: w.doc.id, errorCode: null, error: null }),
          })),
        );
      });
      if (!committed) continue;
      // Deleted while we wrote it: take its rows out again.
      if (gone.length) await target.store.replaceDocuments(gone.map((documentId) => ({ documentId, rows: [] })));
      return true;
    }
  }

  /** A file that disappeared from a synced folder: its document goes (chunks first, then the row). */
  private async deleteMissing(ctx: JobRunContext, file: JobFileRow): Promise<Outcome> {
    const { documents, index, jobs } = this.deps;
    const doc = this.documentOf(file);
    if (!doc) return { status: "succeeded", documentId: null, errorCode: null, error: null };
    if (fs.existsSync(file.path)) return { status: "unchanged", documentId: doc.id, errorCode: "reappeared", error: "the file exists again; left as it is" };
    jobs.setFile(ctx.job.id, file.ordinal, { status: "running" });
    for (;;) {
      const target = await index.writeTarget();
      await target.store.deleteDocument(doc.id);
      const done = index.commit(target.name, () => {
        documents.delete(doc.id);
        jobs.setFile(ctx.job.id, file.ordinal, { status: "succeeded", documentId: doc.id, errorCode: null, error: null });
      });
      if (done) break;
    }
    ctx.progress(file.source);
    return { status: "running" }; // already recorded in the commit
  }

  /**
   * A file failed. A document that never had a good version is marked failed; a live one keeps
   * serving its last version, and if a previous run died between its LanceDB write and its
   * SQLite commit, the table is put back to that version.
   */
  private async settleFailure(file: JobFileRow, code: string, message: string): Promise<Outcome> {
    const doc = this.documentOf(file);
    if (!doc) return { status: "failed", documentId: null, errorCode: code, error: message };
    if (doc.version === 0) this.deps.documents.update(doc.id, { status: "failed", error: `${code}: ${message}` });
    await this.restoreIfDiverged(doc).catch((err) => this.deps.log?.("could not restore the live version", { documentId: doc.id, err: String(err) }));
    return { status: "failed", documentId: doc.id, errorCode: code, error: message };
  }

  /** Makes the active table hold exactly the SQLite version of a document, if it does not. */
  async restoreIfDiverged(doc: DocumentRow): Promise<boolean> {
    const target = await this.deps.index.writeTarget();
    const where = documentIdsWhere([doc.id]);
    const other = await target.store.count(`${where} AND document_version <> ${doc.version}`);
    const mine = await target.store.count(`${where} AND document_version = ${doc.version}`);
    if (other === 0 && (doc.status !== "ready" || mine === doc.chunkCount)) return false;
    await this.restoreDocument(doc);
    return true;
  }

  /**
   * Rewrites a document's rows in the active table from SQLite's truth: its live version
   * re-extracted from the stored original (none: no rows).
   */
  async restoreDocument(doc: DocumentRow): Promise<void> {
    const { index, documents } = this.deps;
    let rows: ChunkRow[] = [];
    let texts: string[] = [];
    if (doc.version > 0 && doc.status === "ready") {
      if (!doc.blobPath || !fs.existsSync(doc.blobPath)) throw new IngestError("blob_missing", `the stored original of ${doc.source} is missing`);
      const bytes = fs.readFileSync(doc.blobPath);
      const prepared = await this.extract(doc.source, bytes, { title: doc.title });
      rows = this.rowsFor(doc, doc.version, prepared, { allow: doc.aclAllow, deny: doc.aclDeny, classification: doc.classification });
      texts = prepared.chunks.map((c) => c.embeddingText);
      this.deps.recordSensitive?.(doc.id, rows);
    }
    for (;;) {
      const target = await index.writeTarget();
      const vectors = target.embedder && texts.length ? await target.embedder.embedPassages(texts) : null;
      rows.forEach((r, i) => (r.vector = vectors?.[i]));
      await target.store.replaceDocuments([{ documentId: doc.id, rows }]);
      if (index.commit(target.name, () => documents.byId(doc.id))) break;
    }
    this.deps.log?.("restored a document's chunks to its live version", { documentId: doc.id, version: doc.version });
  }

  /** Deletes a document: chunks first (so it disappears from search at once), then metadata. */
  async deleteDocument(actor: Actor, id: string): Promise<void> {
    const doc = this.deps.documents.byId(id);
    if (!doc) throw new ServiceError(404, "not_found", "document not found");
    const subject = { allow: doc.aclAllow, deny: doc.aclDeny, classification: doc.classification, owner: doc.owner, managers: doc.aclManage };
    if (!can(actor, "read", Document, subject)) throw new ServiceError(404, "not_found", "document not found");
    authorize(actor, "delete", Document, subject);
    for (;;) {
      const target = await this.deps.index.writeTarget();
      await target.store.deleteDocument(id);
      if (this.deps.index.commit(target.name, () => this.deps.documents.delete(id))) break;
    }
    this.deps.audit.record(actor, "document.delete", id, { source: doc.source });
  }

  /** Makes the active table agree with SQLite (see consistency.ts); `full` compares every document. */
  reconcile(options: { full: boolean; settleMs?: number }): Promise<ReconcileReport> {
    return reconcile(this.deps, this, options);
  }

  /** Runs the optimize policy now (compaction, index folding, old-version clean-up). */
  optimizeNow(cleanupOlderThanMinutes?: number): Promise<void> {
    return this.optimizer.run(cleanupOlderThanMinutes);
  }

  /** Called by idle workers: optimizes when changes are waiting and the interval has passed. */
  optimizeIfDue(): Promise<boolean> {
    return this.optimizer.ifDue();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
