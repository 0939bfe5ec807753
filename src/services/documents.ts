/**
 * Document metadata routes' logic. Every read goes through the same document read rule as
 * retrieval: a document the actor may not read is reported as not found (its existence is
 * not revealed either).
 */
import path from "node:path";
import { authorize, can, canRead, Document, isValidName, parsePrincipalList, type Access, type Actor } from "../../policies/index.ts";
import type { BlobStore } from "../stores/blob-store.ts";
import type { AuditLog } from "./audit.ts";
import { redactorFor, type SensitiveIndex } from "./sensitive.ts";
import { accessOfRow, subjectOfRow, type DocumentRow, type DocumentStore } from "../stores/metadata.ts";
import { ServiceError, notFound } from "./errors.ts";
import type { DocumentWriter } from "./document-writer.ts";
import type { UpdateTarget } from "./jobs/context.ts";
import type { IngestService } from "./jobs/kinds/ingest.ts";

export interface DocumentView {
  id: string;
  source: string;
  title: string;
  mime: string | null;
  status: DocumentRow["status"];
  version: number;
  pageCount: number;
  chunkCount: number;
  sizeBytes: number;
  acl: Access & { manage?: string[] };
  tags?: string[];
  owner: string | null;
  /** Personal data found, per kind (only for those who may see sensitive-data reports). */
  sensitive?: Record<string, number>;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export function documentView(d: DocumentRow): DocumentView {
  return {
    id: d.id,
    source: d.source,
    title: d.title,
    mime: d.mime,
    status: d.status,
    version: d.version,
    pageCount: d.pageCount,
    chunkCount: d.chunkCount,
    sizeBytes: d.sizeBytes,
    acl: { allow: d.aclAllow, deny: d.aclDeny, classification: d.classification, ...(d.aclManage?.length ? { manage: d.aclManage } : {}) },
    ...(d.tags?.length ? { tags: d.tags } : {}),
    owner: d.owner,
    error: d.error,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

const accessOf = accessOfRow;

/** Upload names are display names only: keep the last path segment, never a path. */
export function safeUploadName(name: string): string {
  const base = path.posix.basename(name.replaceAll("\\", "/")).replace(/[\u0000-\u001f]/g, "").trim();
  if (!base || base === "." || base === "..") throw new ServiceError(400, "bad_file_name", `invalid file name "${name}"`);
  return base.slice(0, 255);
}

/** What a reader is shown of a document: personal data in title and source masked as for any text. */
function viewFor(actor: Actor, d: DocumentRow): DocumentView {
  const view = documentView(d);
  const redact = redactorFor(actor);
  return { ...view, title: redact(view.title), source: redact(view.source) };
}

export class DocumentService {
  constructor(
    private readonly repo: DocumentStore,
    private readonly blobs: BlobStore,
    private readonly ingest: IngestService,
    private readonly extras: { writer: DocumentWriter; sensitive?: SensitiveIndex; audit?: AuditLog; checkPrincipals?: (principals: string[]) => void },
  ) {}

  async list(actor: Actor, page: { limit: number; offset: number }): Promise<{ items: DocumentView[]; total: number }> {
    const visible = (await this.repo.all()).filter((d) => canRead(actor, accessOf(d)));
    return { items: visible.slice(page.offset, page.offset + page.limit).map((d) => viewFor(actor, d)), total: visible.length };
  }

  /** The document if `actor` may read it; otherwise "not found" (existence is not revealed), audited as denied when it exists. */
  private async readable(actor: Actor, id: string, action: string): Promise<DocumentRow> {
    const d = await this.repo.byId(id);
    if (!d || !canRead(actor, accessOf(d))) {
      if (d) await this.extras.audit?.record(actor, action, id, { reason: "not readable by this user" }, "denied");
      throw notFound("document");
    }
    return d;
  }

  async get(actor: Actor, id: string): Promise<DocumentView> {
    const d = await this.readable(actor, id, "document.read");
    const counts = await this.extras.sensitive?.countsFor(actor, id);
    return { ...viewFor(actor, d), ...(counts ? { sensitive: counts } : {}) };
  }

  async text(actor: Actor, id: string): Promise<{ id: string; pages: { page: number; text: string }[] }> {
    await this.readable(actor, id, "document.text");
    const redact = redactorFor(actor);
    return { id, pages: (await this.repo.pages(id)).map((p) => ({ page: p.page, text: redact(p.text) })) };
  }

  /**
   * May `actor` upload (and, with a target, update that document)? Routes call it before
   * reading the request body, so a refused upload's bytes are never read nor stored.
   */
  async authorizeUpload(actor: Actor, target?: UpdateTarget): Promise<void> {
    await this.ingest.authorizeUpload(actor, target);
  }

  /**
   * Stores uploaded files as blobs and submits an ingest job for them: each file updates the
   * caller's own document of that name or creates one; with `target`, the one file updates
   * that document (see IngestService.submit).
   */
  async upload(
    actor: Actor,
    files: { name: string; bytes: Uint8Array }[],
    fields: { allow?: string; deny?: string; title?: string; tags?: string },
    target?: UpdateTarget,
  ): Promise<{ jobId: string; documents: { id: string; source: string }[] }> {
    await this.ingest.authorizeUpload(actor, target);
    if (target && files.length !== 1) throw new ServiceError(400, "one_file", "an update of a named document takes exactly one file");
    let allow: string[];
    let deny: string[];
    try {
      allow = parsePrincipalList(fields.allow);
      deny = parsePrincipalList(fields.deny);
    } catch (err) {
      throw new ServiceError(400, "bad_principal", (err as Error).message);
    }
    this.extras.checkPrincipals?.([...allow, ...deny]);
    const tags = [...new Set((fields.tags ?? "").split(",").map((x) => x.trim()).filter(Boolean))];
    const badTag = tags.find((x) => !isValidName(x));
    if (badTag !== undefined) throw new ServiceError(400, "bad_tag", `invalid tag "${badTag}" (letters, digits, . _ @ -; at most 64)`);
    const requests = files.map((f) => {
      const source = safeUploadName(f.name);
      const blob = this.blobs.put(f.bytes);
      return {
        source,
        path: blob.path,
        title: files.length === 1 ? fields.title : undefined,
        allow: allow.length ? allow : undefined,
        deny: deny.length ? deny : undefined,
        tags: tags.length ? tags : undefined,
      };
    });
    return this.ingest.submit(actor, requests, target);
  }

  /** Deletes a document: chunks first (so it disappears from search at once), then metadata. */
  async delete(actor: Actor, id: string): Promise<void> {
    const doc = await this.repo.byId(id);
    if (!doc) throw new ServiceError(404, "not_found", "document not found");
    const subject = subjectOfRow(doc);
    if (!can(actor, "read", Document, subject)) throw new ServiceError(404, "not_found", "document not found");
    authorize(actor, "delete", Document, subject);
    await this.extras.writer.delete(id);
    // Ids only: the event outlives the document (erasure keeps no name or source of it).
    await this.extras.audit?.record(actor, "document.delete", id);
    // Its text leaves LanceDB's files and SQLite's WAL before the call reports done.
    await this.extras.writer.erase();
  }
}
