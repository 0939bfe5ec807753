/**
 * Ingestion jobs: files are recorded in a persisted job (one row per file), then a worker
 * runs each file through the pipeline and writes the result:
 *   read → hash (unchanged content is a no-op) → prepare (extract, chunk, analyze) → embed
 *   → write chunks (one atomic LanceDB commit) → commit the version in SQLite.
 * Chunk ids are deterministic (document, version, ordinal), so a job resumed after a crash
 * rewrites exactly the same rows.
 */
import fs from "node:fs";
import path from "node:path";
import { IngestError } from "../../../ingest/types.ts";
import { prepareDocument } from "../../../ingest/pipeline.ts";
import { authorize, Document, DocumentCollection, resolveAcl, type Actor, can } from "../../../policies/index.ts";
import type { EmbeddingProvider } from "../../models/embeddings.ts";
import type { BlobStore } from "../../stores/blob-store.ts";
import { newId, sha256Hex } from "../../stores/ids.ts";
import type { ChunkRow, ChunkStore } from "../../stores/lance/chunk-store.ts";
import type { DocumentRow, DocumentsRepo } from "../../stores/sqlite/documents-repo.ts";
import type { JobFileRow, JobRow, JobsRepo } from "../../stores/sqlite/jobs-repo.ts";
import type { AuditLog } from "../audit.ts";
import { ServiceError } from "../errors.ts";

export interface IngestFileRequest {
  /** Shown to users and used to recognise the same document again. */
  source: string;
  /** Where the bytes are now (a local file or a stored upload blob). */
  path: string;
  title?: string;
  allow?: string[];
  deny?: string[];
  classification?: number;
  password?: string;
}

export interface FileOptions {
  title?: string;
  allow?: string[];
  deny?: string[];
  classification?: number;
  password?: string;
  owner: string | null;
}

export interface JobView {
  id: string;
  kind: string;
  status: JobRow["status"];
  progress: { done: number; total: number };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  files: { source: string; documentId?: string; status: JobFileRow["status"]; error?: string; errorCode?: string }[];
}

export interface IngestDeps {
  documents: DocumentsRepo;
  jobs: JobsRepo;
  chunks: ChunkStore;
  blobs: BlobStore;
  audit: AuditLog;
  /** The embedder whose vectors match the chunk table, or null (lexical only). */
  embedder: () => EmbeddingProvider | null;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const TEXT_MAX_PAGES = 5000;

export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  /**
   * Records a job for the files and returns at once. Each file gets its document id now
   * (existing documents are matched by source), so callers can follow them.
   */
  submit(actor: Actor, files: IngestFileRequest[]): { jobId: string; documents: { id: string; source: string }[] } {
    authorize(actor, "create", DocumentCollection, null);
    if (files.length === 0) throw new ServiceError(400, "bad_request", "no files to ingest");
    const owner = actor.id === "system" ? null : `user:${actor.name}`;
    const jobId = newId("job");
    const docs: { id: string; source: string }[] = [];
    const rows: Omit<JobFileRow, "jobId" | "status" | "errorCode" | "error" | "documentId">[] = [];
    for (const [ordinal, f] of files.entries()) {
      const options: FileOptions = { title: f.title, allow: f.allow, deny: f.deny, classification: f.classification, password: f.password, owner };
      const doc = this.documentFor(actor, f.source, options);
      docs.push({ id: doc.id, source: f.source });
      rows.push({ ordinal, source: f.source, path: f.path, options: { ...options, documentId: doc.id } });
    }
    this.deps.jobs.create({ id: jobId, kind: "ingest", createdBy: owner ?? "system" }, rows);
    this.deps.audit.record(actor, "ingest.submit", jobId, { files: files.map((f) => f.source) });
    return { jobId, documents: docs };
  }

  /** Finds the document for a source, or creates its row (status processing, no version yet). */
  private documentFor(actor: Actor, source: string, options: FileOptions): DocumentRow {
    const existing = this.deps.documents.bySource(source);
    if (existing) {
      authorize(actor, "update", Document, { allow: existing.aclAllow, deny: existing.aclDeny, classification: existing.classification, owner: existing.owner });
      return existing;
    }
    const acl = resolveAcl({ source, owner: options.owner }, options);
    const id = newId("doc");
    try {
      this.deps.documents.insert({
        id,
        source,
        title: options.title ?? path.basename(source),
        status: "processing",
        owner: options.owner,
        aclAllow: acl.allow,
        aclDeny: acl.deny,
        classification: acl.classification,
      });
    } catch (err) {
      // Another process inserted the same source concurrently.
      const again = this.deps.documents.bySource(source);
      if (again) return again;
      throw err;
    }
    return this.deps.documents.byId(id)!;
  }

  view(jobId: string): JobView | undefined {
    const job = this.deps.jobs.byId(jobId);
    if (!job) return undefined;
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      progress: { done: job.done, total: job.total },
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(job.error ? { error: job.error } : {}),
      files: this.deps.jobs.files(jobId).map((f) => ({
        source: f.source,
        ...(f.documentId ? { documentId: f.documentId } : {}),
        status: f.status,
        ...(f.error ? { error: f.error } : {}),
        ...(f.errorCode ? { errorCode: f.errorCode } : {}),
      })),
    };
  }

  /** Runs every pending file of a claimed job, then sets the job's final status. */
  async runJob(jobId: string, workerId: string, onProgress?: (done: number, total: number, file: string) => void): Promise<JobView> {
    const { jobs } = this.deps;
    const heartbeat = setInterval(() => jobs.heartbeat(jobId, workerId), 2000);
    heartbeat.unref();
    let changed = false;
    try {
      for (const file of jobs.pendingFiles(jobId)) {
        const job = jobs.byId(jobId);
        if (!job || job.status === "cancelled") break;
        jobs.setFile(jobId, file.ordinal, { status: "running" });
        const outcome = await this.ingestFile(file);
        changed ||= outcome.status === "succeeded";
        jobs.setFile(jobId, file.ordinal, outcome);
        const after = jobs.byId(jobId)!;
        onProgress?.(after.done, after.total, file.source);
      }
    } finally {
      clearInterval(heartbeat);
    }
    if (changed) {
      // Fold the new rows into the indexes; searches are correct either way, just faster after.
      await this.deps.chunks.optimize().catch((err) => this.deps.log?.("optimize failed", { err: String(err) }));
    }
    const files = jobs.files(jobId);
    const current = jobs.byId(jobId)!;
    if (current.status !== "cancelled") {
      const failed = files.filter((f) => f.status === "failed").length;
      const status = failed === 0 ? "succeeded" : failed === files.length ? "failed" : "partial";
      jobs.finish(jobId, status);
    }
    return this.view(jobId)!;
  }

  private async ingestFile(file: JobFileRow): Promise<Pick<JobFileRow, "status" | "documentId" | "errorCode" | "error">> {
    const opts = file.options as unknown as FileOptions & { documentId?: string };
    const doc = (opts.documentId && this.deps.documents.byId(opts.documentId)) || this.deps.documents.bySource(file.source);
    if (!doc) return { status: "failed", documentId: null, errorCode: "document_deleted", error: "the document was deleted before it was ingested" };
    try {
      const status = await this.ingestDocument(doc, file.path, opts);
      return { status, documentId: doc.id, errorCode: null, error: null };
    } catch (err) {
      const code = err instanceof IngestError ? err.code : "internal_error";
      const message = err instanceof Error ? err.message : String(err);
      this.deps.log?.("ingest failed", { source: file.source, code, message });
      // A document that never had a good version is marked failed; a live one keeps serving its last version.
      if (doc.version === 0) this.deps.documents.update(doc.id, { status: "failed", error: `${code}: ${message}` });
      return { status: "failed", documentId: doc.id, errorCode: code, error: message };
    }
  }

  private async ingestDocument(doc: DocumentRow, filePath: string, opts: FileOptions): Promise<"succeeded" | "unchanged"> {
    const { documents, chunks, blobs } = this.deps;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(filePath);
    } catch (err) {
      throw new IngestError("file_unreadable", `cannot read ${filePath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const hash = sha256Hex(bytes);
    const acl = resolveAcl({ source: doc.source, owner: doc.owner }, {
      allow: opts.allow ?? (doc.version > 0 ? doc.aclAllow : undefined),
      deny: opts.deny ?? (doc.version > 0 ? doc.aclDeny : undefined),
      classification: opts.classification ?? (doc.version > 0 ? doc.classification : undefined),
    });
    const aclChanged = acl.allow.join() !== doc.aclAllow.join() || acl.deny.join() !== doc.aclDeny.join() || acl.classification !== doc.classification;
    const titleChanged = opts.title !== undefined && opts.title !== doc.title;

    if (doc.status === "ready" && doc.contentHash === hash && !titleChanged) {
      if (!aclChanged) return "unchanged";
      await chunks.updateAccess(doc.id, acl);
      documents.update(doc.id, { aclAllow: acl.allow, aclDeny: acl.deny, classification: acl.classification });
      return "succeeded";
    }

    const blob = blobs.put(bytes);
    const prepared = await prepareDocument({ source: doc.source, bytes, password: opts.password }, { title: opts.title, password: opts.password });
    if (prepared.pages.length > TEXT_MAX_PAGES) throw new IngestError("too_many_pages", `document has ${prepared.pages.length} pages (limit ${TEXT_MAX_PAGES})`);
    if (prepared.chunks.length === 0) throw new IngestError("no_text", "no text could be extracted from this file");

    // The version is derived from the content, not a counter, so a resumed job writes the same ids.
    const sameContentAsLive = doc.contentHash === hash && doc.version > 0;
    const version = sameContentAsLive ? doc.version : doc.version + 1;
    const embedder = this.deps.embedder();
    const vectors = embedder ? await embedder.embedPassages(prepared.chunks.map((c) => c.embeddingText)) : null;
    const rows: ChunkRow[] = prepared.chunks.map((c, i) => ({
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
      ...(vectors ? { vector: vectors[i] } : {}),
    }));
    await chunks.replaceDocument(doc.id, rows);
    documents.commitVersion(
      doc.id,
      {
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
        sizeBytes: bytes.length,
        blobPath: blob.path,
        error: prepared.warnings.length ? prepared.warnings.join("; ") : null,
      },
      prepared.pages,
    );
    return "succeeded";
  }

  /** Deletes a document: chunks first (so it disappears from search at once), then metadata. */
  async deleteDocument(actor: Actor, id: string): Promise<void> {
    const doc = this.deps.documents.byId(id);
    if (!doc) throw new ServiceError(404, "not_found", "document not found");
    const subject = { allow: doc.aclAllow, deny: doc.aclDeny, classification: doc.classification, owner: doc.owner };
    if (!can(actor, "read", Document, subject)) throw new ServiceError(404, "not_found", "document not found");
    authorize(actor, "delete", Document, subject);
    await this.deps.chunks.deleteDocument(id);
    this.deps.documents.delete(id);
    this.deps.audit.record(actor, "document.delete", id, { source: doc.source });
  }
}
