/**
 * The ingest kind: files uploaded or named by `kb ingest`. Submission records one row per file
 * and resolves each file's document now (by the caller's identity scope, or a document named by
 * id), in one transaction with the job; the run is the batched file pipeline.
 */
import { authorize, can, Document, DocumentCollection, type Actor } from "../../../../policies/index.ts";
import { newId } from "../../../stores/ids.ts";
import { ownerScope, type DocumentRow, type DocumentStore } from "../../../stores/metadata.ts";
import type { NewJobFile } from "../../../stores/metadata.ts";
import { notFound, ServiceError } from "../../errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "../../limits.ts";
import type { FileOptions, IngestFileRequest, JobDeps, JobKindRunner, UpdateTarget } from "../context.ts";
import { documentFor, subjectOf } from "../document-rows.ts";

export const ingestKind: JobKindRunner = {
  async run(ctx, env) {
    const changed = await env.files.runFiles(ctx);
    return { changed, completed: (await env.deps.jobs.pendingFiles(ctx.job.id)).length === 0 };
  },
};

export class IngestService {
  constructor(private readonly deps: JobDeps) {}

  /**
   * What an upload may do, checked before its bytes are read or stored: create documents, and,
   * when it names a document, update that one (404 when the caller may not read it, as for an id
   * that does not exist; 403 when they may read but not update it; 409 when `expectedVersion`
   * is not the live version). Returns the named document.
   */
  async authorizeUpload(actor: Actor, target?: UpdateTarget, documents: DocumentStore = this.deps.documents): Promise<DocumentRow | undefined> {
    authorize(actor, "create", DocumentCollection, null);
    if (!target) return undefined;
    const doc = await documents.byId(target.documentId);
    if (!doc || !can(actor, "read", Document, subjectOf(doc))) {
      if (doc) await this.deps.audit.record(actor, "document.update", doc.id, { reason: "not readable by this user" }, "denied");
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
  async submit(actor: Actor, files: IngestFileRequest[], target?: UpdateTarget): Promise<{ jobId: string; documents: { id: string; source: string }[] }> {
    authorize(actor, "create", DocumentCollection, null);
    if (files.length === 0) throw new ServiceError(400, "bad_request", "no files to ingest");
    for (const f of files) {
      requireMaxLength("source", f.source, TEXT_LIMITS.path);
      requireMaxLength("title", f.title, TEXT_LIMITS.title);
      requireMaxLength("password", f.password, TEXT_LIMITS.pdfPassword);
      if ((f.tags?.length ?? 0) > TEXT_LIMITS.tags) throw new ServiceError(400, "too_long", `tags: at most ${TEXT_LIMITS.tags} per document (got ${f.tags!.length})`);
    }
    if (target && files.length !== 1) throw new ServiceError(400, "one_file", "an update of a named document takes exactly one file");
    const owner = actor.id === "system" ? null : `user:${actor.name}`;
    const jobId = newId("job");
    const docs: { id: string; source: string }[] = [];
    await this.deps.metadata.withTransaction(async (tx) => {
      // Checked again inside the transaction, so the decision and the job are one step.
      const named = await this.authorizeUpload(actor, target, tx.documents);
      const rows: NewJobFile[] = [];
      for (const [ordinal, f] of files.entries()) {
        const options: FileOptions = { title: f.title, allow: f.allow, deny: f.deny, classification: f.classification, password: f.password, tags: f.tags, owner };
        if (target?.expectedVersion !== undefined) options.expectedVersion = target.expectedVersion;
        const doc = named ?? (await documentFor({ ...this.deps, documents: tx.documents }, actor, { scope: ownerScope(owner), key: f.source }, f.source, options));
        docs.push({ id: doc.id, source: doc.source });
        rows.push({ ordinal, source: f.source, path: f.path, documentId: doc.id, options: { ...options, documentId: doc.id } });
      }
      await tx.jobs.create({ id: jobId, kind: "ingest", createdBy: owner ?? "system" }, rows);
    });
    await this.deps.audit.record(actor, "ingest.submit", jobId, { files: files.map((f) => f.source), ...(target ? { documentId: target.documentId } : {}) });
    return { jobId, documents: docs };
  }

}
