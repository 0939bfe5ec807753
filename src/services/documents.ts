/**
 * Document metadata routes' logic. Every read goes through the same document read rule as
 * retrieval: a document the actor may not read is reported as not found (its existence is
 * not revealed either).
 */
import path from "node:path";
import { authorize, can, canRead, CLASSIFICATIONS, classificationLabel, Document, DocumentCollection, isValidName, mustMask, parsePrincipalList, type Access, type Actor } from "../../policies/index.ts";
import type { Readable } from "node:stream";
import { SENSITIVE_DETECTOR_VERSION } from "../domain/sensitive/index.ts";
import type { BlobStore } from "../stores/blob-store.ts";
import type { ScopeClause } from "../stores/lance/filter.ts";
import type { SearchScope } from "./retrieval.ts";
import type { AuditLog } from "./audit.ts";
import { redactorFor, type SensitiveIndex } from "./sensitive.ts";
import { accessOfRow, subjectOfRow, type DocumentRow, type DocumentStore } from "../stores/metadata.ts";
import { ServiceError, notFound } from "./errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";
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
  /** The file type: the source's extension in lower case ("pdf", "docx", "hwp"), or "" when it has none. */
  type: string;
  /** The classification's label ("public", "internal", "confidential", "secret"). */
  classification: string;
  tags?: string[];
  owner: string | null;
  /** Personal data found, per kind (only for those who may see sensitive-data reports). */
  sensitive?: Record<string, number>;
  error: string | null;
  /** When the live version's content was written (null before the first): what the date filter tests. */
  versionAt: string | null;
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
    type: typeOf(d.source),
    classification: classificationLabel(d.classification),
    ...(d.tags?.length ? { tags: d.tags } : {}),
    owner: d.owner,
    error: d.error,
    versionAt: d.versionAt,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

const accessOf = accessOfRow;

/** A document's type: its source's extension, lower case, without the dot ("" when none). */
export function typeOf(source: string): string {
  const ext = path.posix.extname(path.posix.basename(source.replaceAll("\\", "/")));
  return ext.length > 1 ? ext.slice(1).toLowerCase() : "";
}

/** An upload's classification: a label ("confidential") or a level ("2"); absent or empty: the default rules decide. */
function parseClassification(value: string | undefined): number | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  if (/^\d$/.test(v) && Number(v) < CLASSIFICATIONS.length) return Number(v);
  const level = (CLASSIFICATIONS as readonly string[]).indexOf(v);
  if (level < 0) throw new ServiceError(400, "bad_classification", `unknown classification "${value}" (one of ${CLASSIFICATIONS.join(", ")}, or 0-${CLASSIFICATIONS.length - 1})`);
  return level;
}

/**
 * A file name safe in a Content-Disposition header: the source's last segment without control
 * characters, quotes, backslashes or path separators (never empty).
 */
export function safeDownloadName(source: string): string {
  const base = path.posix.basename(source.replaceAll("\\", "/"));
  const clean = base.replace(/[\u0000-\u001f\u007f"\\/]/g, "_").trim().slice(0, 200);
  return clean && clean !== "." && clean !== ".." ? clean : "document";
}

/** The documents list filters exactly as a search is scoped (one definition, retrieval.ts). */
export type DocumentFilter = SearchScope;

/** The test of a DocumentFilter on what an actor is shown of a document. */
export function documentMatcher(filter: DocumentFilter): (v: DocumentView) => boolean {
  const types = filter.types?.length ? new Set(filter.types.map((x) => x.trim().toLowerCase().replace(/^\./, ""))) : null;
  const q = filter.q?.trim().toLowerCase();
  return (v) =>
    (!types || types.has(v.type)) &&
    (!filter.folder || v.source.startsWith(filter.folder)) &&
    (!filter.tag || (v.tags ?? []).includes(filter.tag)) &&
    (!filter.updatedSince || (v.versionAt !== null && v.versionAt >= filter.updatedSince)) &&
    (!filter.updatedUntil || (v.versionAt !== null && v.versionAt <= filter.updatedUntil)) &&
    (!q || v.title.toLowerCase().includes(q));
}

/** File types as given (pdf, .PDF): lower case, without the dot; anything but letters and digits refused. */
function normalTypes(types: readonly string[]): string[] {
  return [...new Set(types.map((x) => x.trim().toLowerCase().replace(/^\./, "")))].map((x) => {
    if (!/^[\p{L}\p{N}]{1,20}$/u.test(x)) throw new ServiceError(400, "bad_type", `invalid document type "${x}" (an extension such as pdf, docx)`);
    return x;
  });
}

/**
 * A search scope as a clause the chunk table tests inside the search, selecting the same
 * documents as `DocumentService.list` with the same filter (among those the actor may read;
 * access is the other half of the filter):
 * - type: the source's suffix (".pdf"), on the chunk table's `source` column;
 * - folder: a prefix of the source, on `source` too. For an actor shown sources masked, the few
 *   readable documents whose source holds personal data are decided on the masked source by id
 *   (so a prefix cannot probe a masked value), the rest by the column;
 * - tag, date range: on the chunk table's `tags` and `version_at` columns (chunk layout 3), which
 *   the writer fills from the document row with every version;
 * - title: as shown to the actor (masked), so as ids of the readable documents that match (or of
 *   those that do not, when that list is shorter).
 */
export async function scopeClause(allRows: () => Promise<readonly DocumentRow[]>, actor: Actor, filter: DocumentFilter): Promise<ScopeClause> {
  const clauses: ScopeClause[] = [];
  if (filter.types?.length) clauses.push({ op: "sourceSuffix", suffixes: normalTypes(filter.types).map((x) => `.${x}`) });
  // The document rows are read only for the parts that need them (not for type, nor for a folder
  // asked by a reader shown sources unmasked).
  let readableRows: DocumentRow[] | null = null;
  const readableDocs = async () => (readableRows ??= (await allRows()).filter((d) => canRead(actor, accessOf(d))));
  if (filter.folder) {
    const folder = filter.folder;
    if (!mustMask(actor)) clauses.push({ op: "sourcePrefix", prefix: folder });
    else {
      const redact = redactorFor(actor);
      const masked = (await readableDocs()).filter((d) => redact(d.source) !== d.source);
      clauses.push({
        op: "any",
        clauses: [
          { op: "all", clauses: [{ op: "sourcePrefix", prefix: folder }, { op: "notIds", ids: masked.map((d) => d.id) }] },
          { op: "ids", ids: masked.filter((d) => redact(d.source).startsWith(folder)).map((d) => d.id) },
        ],
      });
    }
  }
  if (filter.tag) clauses.push({ op: "tag", tag: filter.tag });
  if (filter.updatedSince || filter.updatedUntil) clauses.push({ op: "versionAt", since: filter.updatedSince || undefined, until: filter.updatedUntil || undefined });
  if (filter.q?.trim()) {
    const matches = documentMatcher({ q: filter.q });
    const include: string[] = [];
    const exclude: string[] = [];
    for (const d of await readableDocs()) (matches(viewFor(actor, d)) ? include : exclude).push(d.id);
    clauses.push(include.length <= exclude.length ? { op: "ids", ids: include } : { op: "notIds", ids: exclude });
  }
  return { op: "all", clauses };
}

export interface DocumentPageView {
  id: string;
  page: number;
  pageCount: number;
  title: string;
  source: string;
  type: string;
  mime: string | null;
  classification: string;
  text: string;
  /** True when the original may be downloaded by this user (GET /documents/{id}/original). */
  originalAvailable: boolean;
}

/** What a reader may scope a search to (`DocumentService.sources`). */
export interface DocumentSources {
  /** Documents the reader may read. */
  documents: number;
  folders: { folder: string; documents: number }[];
  tags: { tag: string; documents: number }[];
  types: { type: string; documents: number }[];
}

export interface OriginalFile {
  fileName: string;
  mime: string;
  size: number;
  stream: () => Readable;
}

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
    private readonly extras: { writer: DocumentWriter; sensitive?: SensitiveIndex; audit?: AuditLog; checkPrincipals?: (principals: string[]) => Promise<void> },
  ) {}

  /**
   * The documents `actor` may read, filtered. Filters on text (folder, title) are matched
   * against what the actor is shown (masked for actors without view_sensitive), so a filter
   * cannot probe masked personal data in a path or title.
   */
  async list(actor: Actor, page: { limit: number; offset: number }, filter: DocumentFilter = {}): Promise<{ items: DocumentView[]; total: number }> {
    authorize(actor, "read", DocumentCollection, null);
    const matches = documentMatcher(filter);
    const visible = (await this.repo.all())
      .filter((d) => canRead(actor, accessOf(d)))
      .map((d) => viewFor(actor, d))
      .filter(matches);
    return { items: visible.slice(page.offset, page.offset + page.limit), total: visible.length };
  }

  /** The document if `actor` may read it; otherwise "not found" (existence is not revealed), audited as denied when it exists. */
  private async readable(actor: Actor, id: string, action: string): Promise<DocumentRow> {
    // Before the lookup: a token whose scopes leave reading out is refused alike for every id.
    authorize(actor, "read", DocumentCollection, null);
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
   * What `actor` may scope a search to (the MCP server's `list_sources`): the folders, tags and
   * file types of the documents the actor may read, each with how many documents it holds,
   * computed on what the actor is shown (sources masked as in `list`), so nothing names a
   * document the actor may not read. A folder is a source's parent path, as `scope.folder`
   * matches it (a prefix of the source); documents without one (uploads) are counted in none.
   * `via`: the channel, recorded in the audit event `document.sources`.
   */
  async sources(actor: Actor, options: { via?: string } = {}): Promise<DocumentSources> {
    authorize(actor, "read", DocumentCollection, null);
    const visible = (await this.repo.all()).filter((d) => canRead(actor, accessOf(d))).map((d) => viewFor(actor, d));
    const folders = new Map<string, number>();
    const tags = new Map<string, number>();
    const types = new Map<string, number>();
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const v of visible) {
      const slash = Math.max(v.source.lastIndexOf("/"), v.source.lastIndexOf("\\"));
      if (slash > 0) count(folders, v.source.slice(0, slash + 1));
      for (const t of v.tags ?? []) count(tags, t);
      if (v.type) count(types, v.type);
    }
    const sorted = <K extends string>(m: Map<string, number>, key: K) =>
      [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, documents]) => ({ [key]: k, documents }) as { [P in K]: string } & { documents: number });
    if (options.via) await this.extras.audit?.record(actor, "document.sources", null, { documents: visible.length, via: options.via });
    return { documents: visible.length, folders: sorted(folders, "folder"), tags: sorted(tags, "tag"), types: sorted(types, "type") };
  }

  /**
   * May `actor` download the original? Only with view_sensitive, or when the document's
   * personal-data record is current (the live version, indexed by the current detector) and
   * empty. Masking works on extracted text; an original cannot be masked, so it is withheld.
   */
  private async originalRefusal(actor: Actor, d: DocumentRow): Promise<ServiceError | null> {
    if (!d.blobPath) return new ServiceError(404, "original_not_stored", "the original of this document is not stored");
    if (!mustMask(actor)) return null;
    if (d.status !== "ready" || d.sensitiveVersion < SENSITIVE_DETECTOR_VERSION || !this.extras.sensitive) {
      return new ServiceError(403, "personal_data_unchecked", "the original is withheld until the document's personal data has been checked (its text is readable at /text)");
    }
    const counts = await this.extras.sensitive.recordedCounts(d.id);
    if (Object.values(counts).some((n) => n > 0)) {
      return new ServiceError(403, "original_has_personal_data", "the original contains personal data you may not see (view_sensitive); read its masked text instead");
    }
    return null;
  }

  /**
   * One page's extracted text, masked as by `text`, with what a viewer shows beside it.
   * `via`: a channel other than the API (the MCP server's `get_document_page`), whose reads are
   * audited as `document.page` (an agent's reading is what a reviewer wants to see; the web
   * app's page views, one per citation shown, are not).
   */
  async page(actor: Actor, id: string, n: number, options: { via?: string } = {}): Promise<DocumentPageView> {
    const d = await this.readable(actor, id, "document.text");
    const pages = await this.repo.pages(id);
    const p = pages.find((x) => x.page === n);
    if (!p) throw new ServiceError(404, "page_not_found", `page ${n} not found (the document has ${pages.length} pages)`);
    const redact = redactorFor(actor);
    const view = viewFor(actor, d);
    if (options.via) await this.extras.audit?.record(actor, "document.page", id, { page: n, via: options.via });
    return {
      id,
      page: n,
      pageCount: Math.max(d.pageCount, pages.length),
      title: view.title,
      source: view.source,
      type: view.type,
      mime: d.mime,
      classification: view.classification,
      text: redact(p.text),
      originalAvailable: (await this.originalRefusal(actor, d)) === null,
    };
  }

  /**
   * The original file, when `actor` may read the document and see its personal data (or it has
   * none): 404 when it is not readable (audited as denied), 403 with a code saying why
   * otherwise. A download is audited.
   */
  async original(actor: Actor, id: string): Promise<OriginalFile> {
    const d = await this.readable(actor, id, "document.original");
    const refusal = await this.originalRefusal(actor, d);
    // A 403 is audited by the HTTP layer as access.denied with its code (as every refusal).
    if (refusal) throw refusal;
    const blob = this.blobs.open(d.blobPath!);
    if (!blob) throw new ServiceError(404, "original_not_stored", "the original of this document is not stored");
    await this.extras.audit?.record(actor, "document.original", id, { bytes: blob.size });
    return { fileName: safeDownloadName(redactorFor(actor)(d.source)), mime: d.mime ?? "application/octet-stream", size: blob.size, stream: blob.stream };
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
    fields: { allow?: string; deny?: string; title?: string; tags?: string; classification?: string; password?: string },
    target?: UpdateTarget,
  ): Promise<{ jobId: string; documents: { id: string; source: string }[] }> {
    await this.ingest.authorizeUpload(actor, target);
    if (target && files.length !== 1) throw new ServiceError(400, "one_file", "an update of a named document takes exactly one file");
    // Checked again by IngestService.submit; here before any byte is stored.
    requireMaxLength("title", fields.title, TEXT_LIMITS.title);
    requireMaxLength("password", fields.password, TEXT_LIMITS.pdfPassword);
    let allow: string[];
    let deny: string[];
    try {
      allow = parsePrincipalList(fields.allow);
      deny = parsePrincipalList(fields.deny);
    } catch (err) {
      throw new ServiceError(400, "bad_principal", (err as Error).message);
    }
    await this.extras.checkPrincipals?.([...allow, ...deny]);
    const classification = parseClassification(fields.classification);
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
        ...(classification !== undefined ? { classification } : {}),
        // Read only by the PDF extractor, for an encrypted PDF; dropped from the job's rows once
        // the file is processed (stores: FILE_OPTION_SECRETS), never in a view or the audit log.
        ...(fields.password ? { password: fields.password } : {}),
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
