/**
 * Document metadata routes' logic. Every read goes through the same document read rule as
 * retrieval: a document the actor may not read is reported as not found (its existence is
 * not revealed either).
 */
import path from "node:path";
import { canRead, parsePrincipalList, type Actor } from "../../policies/index.ts";
import type { BlobStore } from "../stores/blob-store.ts";
import type { DocumentRow, DocumentsRepo } from "../stores/sqlite/documents-repo.ts";
import { ServiceError, notFound } from "./errors.ts";
import type { IngestService } from "./ingest/ingest-service.ts";

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
  acl: { allow: string[]; deny: string[]; classification: number };
  owner: string | null;
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
    acl: { allow: d.aclAllow, deny: d.aclDeny, classification: d.classification },
    owner: d.owner,
    error: d.error,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

const accessOf = (d: DocumentRow) => ({ allow: d.aclAllow, deny: d.aclDeny, classification: d.classification });

/** Upload names are display names only: keep the last path segment, never a path. */
export function safeUploadName(name: string): string {
  const base = path.posix.basename(name.replaceAll("\\", "/")).replace(/[\u0000-\u001f]/g, "").trim();
  if (!base || base === "." || base === "..") throw new ServiceError(400, "bad_file_name", `invalid file name "${name}"`);
  return base.slice(0, 255);
}

export class DocumentService {
  constructor(
    private readonly repo: DocumentsRepo,
    private readonly blobs: BlobStore,
    private readonly ingest: IngestService,
  ) {}

  list(actor: Actor, page: { limit: number; offset: number }): { items: DocumentView[]; total: number } {
    const visible = this.repo.all().filter((d) => canRead(actor, accessOf(d)));
    return { items: visible.slice(page.offset, page.offset + page.limit).map(documentView), total: visible.length };
  }

  private readable(actor: Actor, id: string): DocumentRow {
    const d = this.repo.byId(id);
    if (!d || !canRead(actor, accessOf(d))) throw notFound("document");
    return d;
  }

  get(actor: Actor, id: string): DocumentView {
    return documentView(this.readable(actor, id));
  }

  text(actor: Actor, id: string): { id: string; pages: { page: number; text: string }[] } {
    this.readable(actor, id);
    return { id, pages: this.repo.pages(id) };
  }

  /** Stores uploaded files as blobs and submits an ingest job for them. */
  upload(
    actor: Actor,
    files: { name: string; bytes: Uint8Array }[],
    fields: { allow?: string; deny?: string; title?: string },
  ): { jobId: string; documents: { id: string; source: string }[] } {
    let allow: string[];
    let deny: string[];
    try {
      allow = parsePrincipalList(fields.allow);
      deny = parsePrincipalList(fields.deny);
    } catch (err) {
      throw new ServiceError(400, "bad_principal", (err as Error).message);
    }
    const requests = files.map((f) => {
      const source = safeUploadName(f.name);
      const blob = this.blobs.put(f.bytes);
      return {
        source,
        path: blob.path,
        title: files.length === 1 ? fields.title : undefined,
        allow: allow.length ? allow : undefined,
        deny: deny.length ? deny : undefined,
      };
    });
    return this.ingest.submit(actor, requests);
  }

  delete(actor: Actor, id: string): Promise<void> {
    return this.ingest.deleteDocument(actor, id);
  }
}
