/**
 * The only code that changes a document in both stores: its chunks in the active LanceDB table
 * and its row (version, access, page texts) in SQLite. Every operation goes through
 * `ActiveIndex.write`: Lance first, then one SQLite transaction that holds only if the table it
 * wrote is still the active one (else the whole step is repeated on the new table). So SQLite
 * never records a change the active table lacks, and a crash between the two steps leaves rows
 * that the consistency check (jobs/consistency.ts) or the resumed job puts right.
 *
 * Callers add their own bookkeeping to the same transaction (`alsoCommit`: a job file's outcome,
 * an audit event), so "the document changed" and "we recorded that it changed" are one step.
 * Deleting a document has exactly one method here (`delete`), whoever asks for it.
 */
import fs from "node:fs";
import type { PreparedDocument } from "../../ingest/pipeline.ts";
import { IngestError } from "../../ingest/types.ts";
import type { Access } from "../../policies/index.ts";
import type { ChunkRow } from "../stores/lance/chunk-store.ts";
import { documentIdsWhere } from "../stores/lance/filter.ts";
import type { DocumentRow, DocumentsRepo, NewDocumentRow } from "../stores/sqlite/documents-repo.ts";
import type { ActiveIndex } from "./active-index.ts";

export interface DocumentWriterDeps {
  documents: DocumentsRepo;
  index: ActiveIndex;
  /** Records personal data found in a new version's chunks (services/sensitive.ts). */
  recordSensitive?: (documentId: string, chunks: readonly { chunkId: string; text: string }[]) => void;
  /** Extracts a stored original again (`restore`); absent: documents with a live version cannot be restored. */
  extract?: (source: string, bytes: Buffer, opts: { title?: string }) => Promise<PreparedDocument>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A new version of one document, ready to embed and write. */
export interface VersionWrite {
  documentId: string;
  rows: ChunkRow[];
  /** What the embedding model sees per chunk (same order as `rows`). */
  embeddingTexts: string[];
  /** The document row's values once the version is live. */
  values: Partial<NewDocumentRow>;
  pages: { page: number; text: string }[];
}

/** New access for some documents (the same for all of them). */
export interface AccessChange {
  documentIds: string[];
  /** The chunk columns, and the managers when they change too. */
  access: Access & { manage?: string[] };
  /** Other columns of the rows written in the same transaction (the file's mtime, a renamed owner). */
  fields?: Partial<NewDocumentRow>;
}

/** The active table's model could not embed a batch: nothing of it was written. */
export class EmbeddingFailed extends Error {}

/** The rows of a document's version, with deterministic ids (a resumed job rewrites the same ones). */
export function chunkRowsFor(doc: Pick<DocumentRow, "id" | "source">, version: number, prepared: PreparedDocument, acl: Access): ChunkRow[] {
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

/** Lance updates per access change (one `IN` list each). */
const ACCESS_SLICE = 500;

export class DocumentWriter {
  constructor(private readonly deps: DocumentWriterDeps) {}

  /**
   * Writes new versions of several documents: embedded with the active table's model, written
   * in one merge-insert (each document changes atomically), then their rows committed in one
   * SQLite transaction with `alsoCommit`. A document deleted meanwhile is not committed (it is
   * in `gone`, and its rows are taken out of the table again). Throws `EmbeddingFailed`
   * (nothing written) when the model fails.
   */
  async writeVersions(items: VersionWrite[], alsoCommit: (gone: ReadonlySet<string>) => void = () => {}): Promise<{ gone: string[] }> {
    const { documents, index } = this.deps;
    const { result: gone, target } = await index.write(
      async (target) => {
        let vectors: Float32Array[] | null = null;
        if (target.embedder) {
          try {
            vectors = await target.embedder.embedPassages(items.flatMap((w) => w.embeddingTexts));
          } catch (err) {
            throw new EmbeddingFailed(err instanceof Error ? err.message : String(err), { cause: err });
          }
        }
        let k = 0;
        for (const w of items) for (const r of w.rows) r.vector = vectors ? vectors[k++] : undefined;
        for (const w of items) this.deps.recordSensitive?.(w.documentId, w.rows);
        await target.store.replaceDocuments(items.map((w) => ({ documentId: w.documentId, rows: w.rows })));
        return new Set<string>();
      },
      (gone) => {
        for (const w of items) if (!documents.commitVersion(w.documentId, w.values, w.pages)) gone.add(w.documentId);
        alsoCommit(gone);
      },
    );
    // Deleted while we wrote it: take its rows out again.
    if (gone.size) await target.store.replaceDocuments([...gone].map((documentId) => ({ documentId, rows: [] })));
    return { gone: [...gone] };
  }

  /** Gives documents new access: chunk columns rewritten in place (no re-embedding), rows updated, `alsoCommit` in the same transaction. */
  async updateAccess(changes: AccessChange[], alsoCommit: () => void = () => {}): Promise<void> {
    const { documents, index } = this.deps;
    await index.write(
      async (target) => {
        for (const c of changes) {
          for (let i = 0; i < c.documentIds.length; i += ACCESS_SLICE) await target.store.updateAccessMany(c.documentIds.slice(i, i + ACCESS_SLICE), c.access);
        }
      },
      () => {
        for (const c of changes) {
          const { allow, deny, classification, manage } = c.access;
          for (const id of c.documentIds) documents.update(id, { aclAllow: allow, aclDeny: deny, classification, ...(manage ? { aclManage: manage } : {}), ...c.fields });
        }
        alsoCommit();
      },
    );
  }

  /**
   * Deletes a document: its chunks first (it disappears from search at once), then its row.
   * `onlyIf` is checked inside the SQLite transaction (a job may have picked the document up
   * meanwhile); when it says no, the row stays (its chunks were none to begin with, or are
   * written again by that job). True when the row was deleted.
   */
  async delete(documentId: string, options: { onlyIf?: (now: DocumentRow | undefined) => boolean; alsoCommit?: () => void } = {}): Promise<boolean> {
    const { documents, index } = this.deps;
    const { result: removed } = await index.write(
      async (target) => {
        await target.store.deleteDocument(documentId);
        return { done: false };
      },
      (removed) => {
        if (options.onlyIf && !options.onlyIf(documents.byId(documentId))) return;
        documents.delete(documentId);
        removed.done = true;
        options.alsoCommit?.();
      },
    );
    return removed.done;
  }

  /** Rewrites a document's access columns in the active table from its SQLite row (repair). */
  async repairAccess(doc: DocumentRow): Promise<void> {
    await this.deps.index.write((target) => target.store.updateAccess(doc.id, { allow: doc.aclAllow, deny: doc.aclDeny, classification: doc.classification }));
  }

  /** Makes the active table hold exactly the SQLite version of a document, if it does not. */
  async restoreIfDiverged(doc: DocumentRow): Promise<boolean> {
    const target = await this.deps.index.writeTarget();
    const where = documentIdsWhere([doc.id]);
    const other = await target.store.count(`${where} AND document_version <> ${doc.version}`);
    const mine = await target.store.count(`${where} AND document_version = ${doc.version}`);
    if (other === 0 && (doc.status !== "ready" || mine === doc.chunkCount)) return false;
    await this.restore(doc);
    return true;
  }

  /**
   * Rewrites a document's rows in the active table from SQLite's truth: its live version
   * re-extracted from the stored original (none: no rows).
   */
  async restore(doc: DocumentRow): Promise<void> {
    const { index, documents } = this.deps;
    let rows: ChunkRow[] = [];
    let texts: string[] = [];
    if (doc.version > 0 && doc.status === "ready") {
      if (!doc.blobPath || !fs.existsSync(doc.blobPath)) throw new IngestError("blob_missing", `the stored original of ${doc.source} is missing`);
      if (!this.deps.extract) throw new IngestError("no_extractor", "this process cannot extract documents");
      const bytes = fs.readFileSync(doc.blobPath);
      const prepared = await this.deps.extract(doc.source, bytes, { title: doc.title });
      rows = chunkRowsFor(doc, doc.version, prepared, { allow: doc.aclAllow, deny: doc.aclDeny, classification: doc.classification });
      texts = prepared.chunks.map((c) => c.embeddingText);
      this.deps.recordSensitive?.(doc.id, rows);
    }
    await index.write(
      async (target) => {
        const vectors = target.embedder && texts.length ? await target.embedder.embedPassages(texts) : null;
        rows.forEach((r, i) => (r.vector = vectors?.[i]));
        await target.store.replaceDocuments([{ documentId: doc.id, rows }]);
      },
      () => documents.byId(doc.id),
    );
    this.deps.log?.("restored a document's chunks to its live version", { documentId: doc.id, version: doc.version });
  }
}
