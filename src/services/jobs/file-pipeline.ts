/**
 * The batched file pipeline of ingest, sync and reindex jobs: every pending file row of a job is
 *   read → hash (unchanged content is a no-op) → prepare (extract, chunk, analyze) → embed
 *   → write chunks (one atomic LanceDB commit) → commit the version in SQLite.
 * Chunk ids are deterministic (document, version, ordinal), so a job resumed after a crash
 * rewrites exactly the same rows.
 *
 * Throughput: files are read, hashed and extracted by a bounded pool ahead of the writer
 * (extraction runs in child processes, extract-processes.ts, and overlaps embedding and LanceDB
 * writes); the writer takes them in order, embeds several documents in one call and writes them
 * in one merge-insert (each document still changes atomically: the whole batch is one commit),
 * then commits their versions in one SQLite transaction. Both stores are written through the
 * DocumentWriter only.
 */
import fs from "node:fs";
import { IngestError } from "../../../ingest/types.ts";
import type { PreparedDocument } from "../../../ingest/pipeline.ts";
import { resolveAcl } from "../../../policies/index.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../../domain/sensitive/index.ts";
import { sha256Hex } from "../../stores/ids.ts";
import type { ChunkRow } from "../../stores/lance/chunk-store.ts";
import type { DocumentRow, JobFileRow, JobFileUpdate } from "../../stores/metadata.ts";
import { chunkRowsFor, EmbeddingFailed, type DocumentWriter, type VersionWrite } from "../document-writer.ts";
import type { FileOptions, JobDeps, JobRunContext } from "./context.ts";
import type { Extractor } from "./extractor.ts";

/** Documents and chunks per LanceDB write. */
const BATCH_DOCS = 16;
const BATCH_CHUNKS = 1024;
/**
 * How long prepared documents may wait for more to fill their batch while the next file is
 * still being extracted. Fewer, larger merge-inserts (each reads the table's id columns once)
 * for at most this much extra delay before a document is searchable.
 */
const BATCH_WAIT_MS = 1000;
/**
 * A job whose files neither finish nor get written for this long logs "ingest: no file finished
 * for a while": what the loop awaits, what the write in flight is doing, the step each staged
 * file is at and the extraction processes' state (again every such period while it lasts).
 * Diagnostics only: nothing is stopped.
 */
const STALL_LOG_MS = 120_000;

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

interface PendingWrite extends VersionWrite {
  file: JobFileRow;
  doc: DocumentRow;
  /** The original's bytes (stored again after the commit if a concurrent erasure removed them). */
  original: Uint8Array;
}

function failure(err: unknown): { code: string; message: string } {
  return { code: err instanceof IngestError ? err.code : "internal_error", message: err instanceof Error ? err.message : String(err) };
}

const sameList = (a: string[], b: string[]) => a.join("\u0000") === b.join("\u0000");

/**
 * The order a job's pending files are started in: largest first (by the bytes on disk), so a
 * long file starts while there are short ones left to fill the other extraction processes and
 * the writer beside it, instead of starting last and running alone at the end (longest
 * processing time first). Files of one document keep their job order among themselves: each
 * document's files take the places its files got, in ordinal order. A size that cannot be read
 * counts 0 (the file fails when it is read, as before).
 */
export function largestFirst<T extends { ordinal: number }>(files: T[], size: (f: T) => number, documentOf: (f: T) => string | undefined): T[] {
  const order = [...files].sort((a, b) => size(b) - size(a) || a.ordinal - b.ordinal);
  const byDoc = new Map<string, T[]>();
  for (const f of [...files].sort((a, b) => a.ordinal - b.ordinal)) {
    const d = documentOf(f);
    if (d === undefined) continue;
    const list = byDoc.get(d);
    if (list) list.push(f);
    else byDoc.set(d, [f]);
  }
  const taken = new Map<string, number>();
  return order.map((f) => {
    const d = documentOf(f);
    const list = d === undefined ? undefined : byDoc.get(d);
    if (!list || list.length < 2) return f;
    const k = taken.get(d!) ?? 0;
    taken.set(d!, k + 1);
    return list[k]!;
  });
}

/** Each file's size on disk (0 for a reindex or re-embedding, whose bytes are the stored original, and for a file that cannot be read). */
async function sizesOnDisk(files: JobFileRow[]): Promise<Map<JobFileRow, number>> {
  const sizes = new Map<JobFileRow, number>();
  for (let i = 0; i < files.length; i += 256) {
    await Promise.all(
      files.slice(i, i + 256).map(async (f) => {
        sizes.set(f, f.action === "ingest" && f.path ? await fs.promises.stat(f.path).then((st) => st.size, () => 0) : 0);
      }),
    );
  }
  return sizes;
}

export class FilePipeline {
  constructor(
    private readonly deps: JobDeps,
    private readonly writer: DocumentWriter,
    private readonly extractor: Extractor,
  ) {}

  /**
   * Runs every pending file of a job: a bounded pool reads, hashes and extracts ahead; the
   * writer takes results in order and writes them in batches. True when something changed.
   */
  async runFiles(ctx: JobRunContext): Promise<boolean> {
    const { jobs } = this.deps;
    const jobId = ctx.job.id;
    const docOf = (file: JobFileRow) => file.documentId ?? (file.options as { documentId?: string }).documentId;
    const queued = await jobs.pendingFiles(jobId);
    const sizes = await sizesOnDisk(queued);
    const pending = largestFirst(queued, (f) => sizes.get(f) ?? 0, docOf);
    // Files staged ahead of the writer (read, extracting or extracted, not yet taken): with
    // extraction processes, two per process (one extracting, one waiting in its queue) and one
    // more, so the processes never wait for the writer's batch to fill or commit; in this
    // process, KB_INGEST_CONCURRENCY.
    const processes = this.extractor.processes;
    const ahead = Math.max(1, this.deps.concurrency ?? 4, processes ? 2 * processes + 1 : 0);
    // Staged files are taken as they finish, not in job order: one long file must not hold the
    // window while the other processes idle. Only files of the same document keep their order.
    type Slot = { file: JobFileRow; promise: Promise<Staged>; settled: boolean; taken: boolean; docId: string | undefined; step: string; stepAt: number };
    const staged: Slot[] = [];
    let next = 0;
    let waiting = 0; // staged, not yet taken
    const startMore = () => {
      while (next < pending.length && waiting < ahead) {
        const file = pending[next++]!;
        const slot: Slot = { file, promise: Promise.resolve(null as unknown as Staged), settled: false, taken: false, docId: docOf(file), step: "queued", stepAt: Date.now() };
        slot.promise = this.stage(file, (step) => {
          slot.step = step;
          slot.stepAt = Date.now();
        });
        // settled either way; a rejection is handled where the slot is awaited
        slot.promise.then(
          () => (slot.settled = true),
          () => (slot.settled = true),
        );
        staged.push(slot);
        waiting++;
      }
    };
    /** The first finished slot with no earlier untaken slot of its document (null: none yet). */
    const ready = (): Slot | null => {
      const before = new Set<string>();
      for (const slot of staged) {
        if (slot.taken) continue;
        if (slot.settled && !(slot.docId && before.has(slot.docId))) return slot;
        if (slot.docId) before.add(slot.docId);
      }
      return null;
    };
    /**
     * Resolves when one more staged file finishes (one that is still running). With none running
     * there is nothing to wait for (a race of no promises never settles): callers check `ready()`
     * first, so that is a bug, and it throws rather than leave the job hanging.
     */
    const anySettles = () => {
      const running = staged.filter((x) => !x.taken && !x.settled);
      if (running.length === 0) return Promise.reject(new Error("ingest pipeline: waiting for a staged file, but none is still running (a finished one was not taken)"));
      return Promise.race(running.map((x) => x.promise.then(() => undefined, () => undefined)));
    };
    let changed = false;
    const batch: PendingWrite[] = [];
    let batchSince = 0;
    // The write in flight (embed → LanceDB → SQLite, one batch at a time, in order): it runs
    // while this loop takes the next files, so extraction, embedding and writing overlap. A file
    // of a document that is being written waits for that write (`settle`).
    let writing: Promise<void> = Promise.resolve();
    let writingDocs = new Set<string>();
    let writeError: { err: unknown } | null = null;
    // For the "no file finished" log: what the loop and the write in flight await, and since when.
    let loopStep = "starting";
    let writerStep = "idle";
    let progressAt = Date.now();
    const step = <T>(label: string, p: Promise<T>): Promise<T> => {
      loopStep = label;
      return p;
    };
    const stallWatch = setInterval(() => {
      const now = Date.now();
      const idle = now - progressAt;
      if (idle < STALL_LOG_MS) return;
      progressAt = now; // logged again after another period without progress
      this.deps.log?.("ingest: no file finished for a while", {
        seconds: Math.round(idle / 1000),
        jobId,
        loop: loopStep,
        writer: writerStep,
        files: staged.filter((x) => !x.taken).map((x) => ({ source: x.file.source, step: x.settled ? "staged, waiting for the writer" : x.step, seconds: Math.round((now - x.stepAt) / 1000) })),
        extraction: this.extractor.state(),
      });
    }, Math.min(STALL_LOG_MS, 10_000));
    stallWatch.unref();
    const settle = async () => {
      await writing;
      writingDocs = new Set();
      if (writeError) throw writeError.err;
    };
    const flush = async () => {
      if (batch.length === 0) return;
      const items = batch.splice(0);
      await settle();
      writingDocs = new Set(items.map((w) => w.doc.id));
      writing = (async () => {
        writerStep = `writing ${items.length} documents (${items.map((w) => w.file.source).join(", ").slice(0, 300)})`;
        changed = (await this.writeBatch(ctx, items)) || changed;
        progressAt = Date.now();
        writerStep = "recording progress";
        for (const w of items) await ctx.progress(w.file.source);
        writerStep = "idle";
      })().catch((err: unknown) => {
        writerStep = "failed";
        writeError = { err };
      });
    };
    const record = async (file: JobFileRow, outcome: Outcome) => {
      await jobs.setFile(jobId, file.ordinal, outcome);
      await ctx.progress(file.source);
    };
    startMore();
    try {
      while (waiting > 0) {
        if (writeError) break;
        if (!(await step("checking the job is still held", ctx.shouldContinue()))) break;
        let slot = ready();
        if (!slot && batch.length) {
          // Prepared documents wait a little for company, not for a long extraction.
          const wait = BATCH_WAIT_MS - (Date.now() - batchSince);
          if (wait > 0) await step("waiting for a file to fill the batch", Promise.race([anySettles(), new Promise((r) => setTimeout(r, wait).unref())]));
          slot = ready();
          if (!slot) {
            await step("waiting for the previous write (flush)", flush());
            // Files may have finished while the previous write was awaited (on PostgreSQL a
            // commit takes long enough for all of them to): look again before waiting for one.
            continue;
          }
        }
        if (!slot) {
          await step("waiting for a staged file to finish", anySettles());
          continue;
        }
        slot.taken = true;
        waiting--;
        progressAt = Date.now();
        const item = await slot.promise;
        loopStep = `deciding on ${item.file.source}`;
        startMore();
        // Its document's previous version waits in the batch or is being written: decide on it
        // once that is committed (its version number follows the committed one's, as it would
        // after a crash between the two).
        const docId = slot.docId;
        if (docId && batch.some((w) => w.doc.id === docId)) await flush();
        if (docId && writingDocs.has(docId)) await settle();
        if (item.kind === "failed") {
          await record(item.file, await this.settleFailure(item.file, item.code, item.message));
          continue;
        }
        if (item.kind === "delete") {
          await flush();
          await settle();
          const outcome = await this.deleteMissing(ctx, item.file);
          changed ||= outcome.status === "succeeded";
          if (outcome.status !== "running") await record(item.file, outcome);
          continue;
        }
        let result: Outcome | PendingWrite;
        try {
          result = await this.decide(item);
        } catch (err) {
          const f = failure(err);
          this.deps.log?.("ingest failed", { source: item.file.source, code: f.code, message: f.message });
          await record(item.file, await this.settleFailure(item.file, f.code, f.message));
          continue;
        }
        if ("status" in result) {
          if (result.status === "succeeded") changed = true;
          if (result.status !== "running") await record(item.file, result);
          continue;
        }
        if (batch.length === 0) batchSince = Date.now();
        batch.push(result);
        if (batch.length >= BATCH_DOCS || batch.reduce((n, w) => n + w.rows.length, 0) >= BATCH_CHUNKS) await flush();
      }
      if (!writeError && ((await ctx.shouldContinue()) || (await jobs.byId(jobId))?.status === "cancelled")) await flush();
      await settle();
    } finally {
      loopStep = "finishing: waiting for the last write and the extraction in flight";
      // Nothing is left writing when this returns (or throws), and extraction still in flight
      // finishes (nothing is written for it).
      await writing;
      await Promise.allSettled(staged.filter((x) => !x.taken).map((x) => x.promise));
      clearInterval(stallWatch);
    }
    return changed;
  }

  /** The parallel part: read, hash and (unless the content is the live version's) extract. */
  private async stage(file: JobFileRow, at: (step: string) => void = () => {}): Promise<Staged> {
    const opts = file.options as unknown as FileOptions & { documentId?: string };
    at("reading its document row");
    const doc = await this.documentOf(file);
    if (!doc) return { kind: "failed", file, code: "document_deleted", message: "the document was deleted before it was ingested" };
    if (file.action === "delete") return { kind: "delete", file };
    at("marking it running");
    await this.deps.jobs.setFile(file.jobId, file.ordinal, { status: "running" });
    at("reading the file");
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
      at("extracting");
      const prepared = await this.extract(doc.source, bytes, opts);
      return { kind: "content", file, hash, size: bytes.length, mtimeMs, bytes, prepared };
    } catch (err) {
      const f = failure(err);
      this.deps.log?.("ingest failed", { source: file.source, code: f.code, message: f.message });
      return { kind: "failed", file, ...f };
    }
  }

  private extract(source: string, bytes: Buffer, opts: { title?: string; password?: string }): Promise<PreparedDocument> {
    return this.extractor.prepare(source, bytes, opts);
  }

  /** The document a file was recorded for (never looked up by source: sources are not unique). */
  private async documentOf(file: JobFileRow): Promise<DocumentRow | undefined> {
    const opts = file.options as { documentId?: string };
    const id = file.documentId ?? opts.documentId;
    return id ? await this.deps.documents.byId(id) : undefined;
  }

  /**
   * The ordered part, with the document as it is now: unchanged, an in-place ACL update, or a
   * new version to write (returned for the batch).
   */
  private async decide(item: Extract<Staged, { kind: "content" }>): Promise<Outcome | PendingWrite> {
    const { documents, blobs } = this.deps;
    const { file, hash } = item;
    const opts = file.options as unknown as FileOptions;
    const doc = await this.documentOf(file);
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
        if (item.mtimeMs !== null && doc.sourceMtimeMs !== item.mtimeMs) await documents.update(doc.id, { sourceMtimeMs: item.mtimeMs });
        return { status: "unchanged", ...ok };
      }
      await this.writer.updateAccess([{ documentIds: [doc.id], access: acl, fields: item.mtimeMs !== null ? { sourceMtimeMs: item.mtimeMs } : undefined }]);
      return { status: "succeeded", ...ok };
    }

    const prepared = item.prepared ?? (await this.extract(doc.source, item.bytes, opts));
    const blob = await blobs.putAsync(item.bytes);
    // The version is derived from the content, not a counter, so a resumed job writes the same ids.
    const sameContentAsLive = doc.contentHash === hash && doc.version > 0;
    const version = sameContentAsLive ? doc.version : doc.version + 1;
    // The date a scope tests (chunk column version_at, documents.version_at): a new version's is
    // now; a rewrite of the live version (reindex, restore) keeps its date.
    const versionAt = sameContentAsLive && doc.versionAt ? doc.versionAt : new Date().toISOString();
    const rows = chunkRowsFor(doc, version, versionAt, prepared, acl);
    if (reindex && (await this.sameAsStored(doc, rows, prepared))) {
      // The current detector finds nothing the stored index lacks: it is current as it is.
      if (doc.sensitiveVersion !== SENSITIVE_DETECTOR_VERSION) await documents.update(doc.id, { sensitiveVersion: SENSITIVE_DETECTOR_VERSION });
      return { status: "unchanged", ...ok };
    }
    return {
      file,
      doc,
      original: item.bytes,
      documentId: doc.id,
      rows,
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
        versionAt,
        ...(item.mtimeMs !== null ? { sourceMtimeMs: item.mtimeMs } : {}),
        error: prepared.warnings.length ? prepared.warnings.join("; ") : null,
      },
      pages: prepared.pages,
    };
  }

  /** A reindex that would write exactly what the active table and SQLite hold changes nothing. */
  private async sameAsStored(doc: DocumentRow, rows: ChunkRow[], prepared: PreparedDocument): Promise<boolean> {
    if (doc.title !== prepared.title || doc.pageCount !== prepared.pages.length || doc.chunkCount !== rows.length) return false;
    const target = await this.deps.index.writeTarget();
    const stored = await target.store.rowsOf([doc.id], true);
    if (stored.length !== rows.length) return false;
    const key = (r: ChunkRow) =>
      [r.chunkId, r.title, r.source, r.pageStart, r.pageEnd, r.headings, r.text, r.analyzed, r.allow.join(","), r.deny.join(","), r.classification, (r.tags ?? []).join(","), r.versionAt ?? "", r.context ?? ""].join("\u0001");
    const vectorsOk = !target.store.vectors || !target.embedder || stored.every((r) => r.vector);
    return vectorsOk && stored.every((r, i) => key(r) === key(rows[i]!));
  }

  /**
   * Embeds and writes several documents in one LanceDB commit, then commits their versions
   * (and the files' outcomes) in one SQLite transaction (DocumentWriter.writeVersions).
   */
  private async writeBatch(ctx: JobRunContext, items: PendingWrite[]): Promise<boolean> {
    const { jobs } = this.deps;
    try {
      const { gone } = await this.writer.writeVersions(items, (gone, tx) =>
        tx.jobs.setFiles(
          ctx.job.id,
          items.map((w) => ({
            ordinal: w.file.ordinal,
            ...(gone.has(w.doc.id)
              ? { status: "failed" as const, documentId: w.doc.id, errorCode: "document_deleted", error: "the document was deleted while it was ingested" }
              : { status: "succeeded" as const, documentId: w.doc.id, errorCode: null, error: null }),
          })),
        ),
      );
      // Deleting another document with the same bytes between `put` and this commit removed the
      // original it no longer saw named (DocumentWriter.delete): store it again.
      for (const w of items) if (!gone.includes(w.documentId)) await this.deps.blobs.putAsync(w.original);
      for (const w of items) {
        if (gone.includes(w.documentId)) continue;
        // OCR'd pages as the extractors report them ("page N read by OCR", image and PDF pages).
        const ocrPages = (w.values.error ?? "").split("; ").filter((note) => /^page \d+ read by OCR/.test(note)).length;
        this.deps.metrics?.ingested({ pages: w.pages.length, chunks: w.rows.length, ocrPages });
      }
      return true;
    } catch (err) {
      if (!(err instanceof EmbeddingFailed)) throw err;
      this.deps.log?.("embedding failed", { message: err.message });
      for (const w of items) await jobs.setFile(ctx.job.id, w.file.ordinal, await this.settleFailure(w.file, "embedding_failed", err.message));
      return false;
    }
  }

  /** A file that disappeared from a synced folder: its document goes (chunks first, then the row). */
  private async deleteMissing(ctx: JobRunContext, file: JobFileRow): Promise<Outcome> {
    const { jobs } = this.deps;
    const doc = await this.documentOf(file);
    if (!doc) return { status: "succeeded", documentId: null, errorCode: null, error: null };
    if (fs.existsSync(file.path)) return { status: "unchanged", documentId: doc.id, errorCode: "reappeared", error: "the file exists again; left as it is" };
    await jobs.setFile(ctx.job.id, file.ordinal, { status: "running" });
    await this.writer.delete(doc.id, { alsoCommit: (tx) => tx.jobs.setFile(ctx.job.id, file.ordinal, { status: "succeeded", documentId: doc.id, errorCode: null, error: null }) });
    await ctx.progress(file.source);
    return { status: "running" }; // already recorded in the commit
  }

  /**
   * A file failed. A document that never had a good version is marked failed; a live one keeps
   * serving its last version, and if a previous run died between its LanceDB write and its
   * SQLite commit, the table is put back to that version.
   */
  private async settleFailure(file: JobFileRow, code: string, message: string): Promise<Outcome> {
    const doc = await this.documentOf(file);
    if (!doc) return { status: "failed", documentId: null, errorCode: code, error: message };
    if (doc.version === 0) await this.deps.documents.update(doc.id, { status: "failed", error: `${code}: ${message}` });
    await this.writer.restoreIfDiverged(doc).catch((err) => this.deps.log?.("could not restore the live version", { documentId: doc.id, err: String(err) }));
    return { status: "failed", documentId: doc.id, errorCode: code, error: message };
  }
}
