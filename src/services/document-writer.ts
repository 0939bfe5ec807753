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
import { embeddingTextOf, type PreparedDocument } from "../../ingest/pipeline.ts";
import { IngestError } from "../../ingest/types.ts";
import type { Access } from "../../policies/index.ts";
import type { ChunkRow, ChunkStore } from "../stores/lance/chunk-store.ts";
import { documentIdsWhere } from "../stores/lance/filter.ts";
import type { BlobStore } from "../stores/blob-store.ts";
import { accessOfRow, type DocumentRow, type DocumentStore, type ErasureStore, type MetadataRepositories, type NewDocumentRow, type SettingsStore } from "../stores/metadata.ts";
import type { ActiveIndex, WriteTarget } from "./active-index.ts";

/** Settings key: per chunk table, the fragments that still hold deleted documents' rows (`erase`). */
export const ERASURE_KEY = "index.erasure_pending";
type PendingErasure = Record<string, number[]>;

export interface DocumentWriterDeps {
  documents: DocumentStore;
  index: ActiveIndex;
  /** Records personal data found in a new version's chunks (services/sensitive.ts). */
  recordSensitive?: (documentId: string, chunks: readonly { chunkId: string; text: string }[]) => Promise<unknown>;
  /** Extracts a stored original again (`restore`); absent: documents with a live version cannot be restored. */
  extract?: (source: string, bytes: Buffer, opts: { title?: string }) => Promise<PreparedDocument>;
  /** Originals: removed once nothing needs them (ErasureStore.blobInUse). Absent: originals are left alone. */
  blobs?: BlobStore;
  /** Quotes and audit names of deleted documents, blob references, WAL truncation. Absent: not scrubbed. */
  erasure?: ErasureStore;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A new version of one document, ready to embed and write. */
export interface VersionWrite {
  documentId: string;
  rows: ChunkRow[];
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
export function chunkRowsFor(doc: Pick<DocumentRow, "id" | "source" | "tags">, version: number, versionAt: string, prepared: PreparedDocument, acl: Access): ChunkRow[] {
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
    tags: doc.tags,
    versionAt,
    context: prepared.embeddingContext || null,
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
  async writeVersions(items: VersionWrite[], alsoCommit: (gone: ReadonlySet<string>, tx: MetadataRepositories) => void | Promise<void> = () => {}): Promise<{ gone: string[] }> {
    const { index } = this.deps;
    const superseded: string[] = [];
    const { result: gone, target } = await index.write(
      async (target) => {
        let vectors: Float32Array[] | null = null;
        if (target.unavailable) throw new EmbeddingFailed(target.unavailable);
        if (target.embedder) {
          try {
            vectors = await target.embedder.embedPassages(items.flatMap((w) => w.rows.map(embeddingTextOf)));
          } catch (err) {
            throw new EmbeddingFailed(err instanceof Error ? err.message : String(err), { cause: err });
          }
        }
        let k = 0;
        for (const w of items) for (const r of w.rows) r.vector = vectors ? vectors[k++] : undefined;
        for (const w of items) await this.deps.recordSensitive?.(w.documentId, w.rows);
        await target.store.replaceDocuments(items.map((w) => ({ documentId: w.documentId, rows: w.rows })));
        return new Set<string>();
      },
      async (gone, _target, tx) => {
        superseded.length = 0;
        for (const w of items) {
          const before = (await tx.documents.byId(w.documentId))?.blobPath;
          if (!(await tx.documents.commitVersion(w.documentId, w.values, w.pages))) gone.add(w.documentId);
          else if (before && w.values.blobPath !== undefined && w.values.blobPath !== before) superseded.push(before);
        }
        await alsoCommit(gone, tx);
      },
    );
    // The previous version's original, when nothing else names it (the rollback table holds
    // chunk rows, never a path to an original: a rollback copies rows from the live table).
    await this.releaseBlobs(superseded);
    // Deleted while we wrote it: take its rows out again, and have them erased like the rest.
    if (gone.size) {
      const held = await target.store.fragmentsOf([...gone]);
      await target.store.replaceDocuments([...gone].map((documentId) => ({ documentId, rows: [] })));
      await this.recordErasure(index.metadata.settings, { [target.name]: held });
    }
    return { gone: [...gone] };
  }

  /** Gives documents new access: chunk columns rewritten in place (no re-embedding), rows updated, `alsoCommit` in the same transaction. */
  async updateAccess(changes: AccessChange[], alsoCommit: (tx: MetadataRepositories) => void | Promise<void> = () => {}): Promise<void> {
    const { index } = this.deps;
    await index.write(
      async (target) => {
        for (const c of changes) {
          for (let i = 0; i < c.documentIds.length; i += ACCESS_SLICE) await target.store.updateAccessMany(c.documentIds.slice(i, i + ACCESS_SLICE), c.access);
        }
      },
      async (_result, _target, tx) => {
        for (const c of changes) {
          const { allow, deny, classification, manage } = c.access;
          for (const id of c.documentIds) await tx.documents.update(id, { aclAllow: allow, aclDeny: deny, classification, ...(manage ? { aclManage: manage } : {}), ...c.fields });
        }
        await alsoCommit(tx);
      },
    );
  }

  /**
   * Deletes a document: its chunks first, in every chunk table (active, rollback, a re-embed's
   * shadow; it disappears from search at once), then its row (page texts and personal-data spans
   * cascade), its quotes in conversations and names in audit details, and its original when
   * no other document names it. `onlyIf` is checked inside the SQLite transaction (a job may
   * have picked the document up meanwhile); when it says no, the row stays (its chunks were
   * none to begin with, or are written again by that job). True when the row was deleted.
   *
   * The deleted rows' text is still in LanceDB's files (a delete only marks rows) until
   * `erase` runs: the fragments that held them are recorded here, in the same transaction.
   * Callers run `erase` once after a batch of deletes (a job, an API call) before reporting
   * done, since erasing costs a rewrite of those fragments and an FTS rebuild per table.
   */
  async delete(
    documentId: string,
    options: { onlyIf?: (now: DocumentRow | undefined, tx: MetadataRepositories) => boolean | Promise<boolean>; alsoCommit?: (tx: MetadataRepositories) => void | Promise<void> } = {},
  ): Promise<boolean> {
    const { index } = this.deps;
    const { result: removed } = await index.write(
      async (target) => {
        const fragments: PendingErasure = {};
        for (const store of await this.tablesHolding(target)) {
          const held = await store.fragmentsOf([documentId]);
          if (held.length) fragments[store.name] = held;
          await store.deleteDocument(documentId);
        }
        return { done: false, fragments, blobPath: null as string | null };
      },
      async (removed, _target, tx) => {
        const now = await tx.documents.byId(documentId);
        await this.recordErasure(tx.settings, removed.fragments);
        if (options.onlyIf && !(await options.onlyIf(now, tx))) return;
        await tx.documents.delete(documentId);
        if (this.deps.erasure) await tx.erasure.scrubReferences(documentId);
        removed.done = true;
        removed.blobPath = now?.blobPath ?? null;
        await options.alsoCommit?.(tx);
      },
    );
    if (removed.blobPath) await this.releaseBlobs([removed.blobPath]);
    return removed.done;
  }

  /**
   * Every chunk table a document's rows may live in: the active one, the rollback table, and a
   * re-embed's shadow table being filled (its catch-up would drop the rows too, but only a
   * delete recorded here gets them erased from its files).
   */
  private async tablesHolding(target: WriteTarget): Promise<ChunkStore[]> {
    const stores = [target.store];
    for (const name of await target.store.tableNames()) if (name !== target.name) stores.push(await this.deps.index.table(name));
    return stores;
  }

  /** Always sets the key (even with no fragments): `erase` also truncates SQLite's WAL. */
  private async recordErasure(settings: SettingsStore, fragments: PendingErasure): Promise<void> {
    const pending = (await settings.get<PendingErasure>(ERASURE_KEY)) ?? {};
    for (const [table, held] of Object.entries(fragments)) pending[table] = [...new Set([...(pending[table] ?? []), ...held])].sort((a, b) => a - b);
    await settings.set(ERASURE_KEY, pending);
  }

  /** Removes originals nothing needs any more (no live version names them, no unfinished job file reads them). */
  private async releaseBlobs(paths: string[]): Promise<void> {
    const { blobs, erasure } = this.deps;
    if (!blobs || !erasure) return;
    for (const p of new Set(paths)) {
      if (!(await erasure.blobInUse(p)) && blobs.remove(p)) this.deps.log?.("removed an original no document uses", { blob: p });
    }
  }

  private erasing: Promise<void> | null = null;

  /**
   * Finishes the deletes recorded since the last erasure: in each table, the fragments that
   * held deleted rows are rewritten without them, older table versions are removed and the
   * FTS index rebuilt (chunk-store.ts `eraseFragments`); then SQLite's WAL is truncated. A
   * crash before the end leaves the record, so the next `erase` (any process) finishes it.
   */
  erase(): Promise<void> {
    const run = async () => {
      const { metadata } = this.deps.index;
      const pending = await metadata.settings.get<PendingErasure>(ERASURE_KEY);
      if (!pending) return;
      const target = await this.deps.index.writeTarget();
      const names = await target.store.tableNames();
      for (const [table, fragments] of Object.entries(pending)) {
        if (names.includes(table)) {
          const store = table === target.name ? target.store : await this.deps.index.table(table);
          await store.eraseFragments(fragments);
        }
      }
      await metadata.withTransaction(async ({ settings }) => {
        // Deletes recorded while this ran stay for the next run.
        const now = (await settings.get<PendingErasure>(ERASURE_KEY)) ?? {};
        for (const [table, done] of Object.entries(pending)) {
          const left = (now[table] ?? []).filter((f) => !done.includes(f));
          if (left.length) now[table] = left;
          else delete now[table];
        }
        // A delete committed before the checkpoint below is covered by it; only fragments stay.
        if (Object.keys(now).length) await settings.set(ERASURE_KEY, now);
        else await settings.delete(ERASURE_KEY);
      });
      await this.deps.erasure?.checkpoint();
    };
    // One erasure at a time in this process; a failed one does not stop the next.
    const next = (this.erasing ?? Promise.resolve()).then(run);
    this.erasing = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  /** Rewrites a document's access columns in the active table from its SQLite row (repair). */
  async repairAccess(doc: DocumentRow): Promise<void> {
    await this.deps.index.write((target) => target.store.updateAccess(doc.id, accessOfRow(doc)));
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
    const { index } = this.deps;
    let rows: ChunkRow[] = [];
    let texts: string[] = [];
    if (doc.version > 0 && doc.status === "ready") {
      if (!doc.blobPath || !fs.existsSync(doc.blobPath)) throw new IngestError("blob_missing", `the stored original of ${doc.source} is missing`);
      if (!this.deps.extract) throw new IngestError("no_extractor", "this process cannot extract documents");
      const bytes = fs.readFileSync(doc.blobPath);
      const prepared = await this.deps.extract(doc.source, bytes, { title: doc.title });
      rows = chunkRowsFor(doc, doc.version, doc.versionAt ?? doc.updatedAt, prepared, accessOfRow(doc));
      texts = rows.map(embeddingTextOf);
      await this.deps.recordSensitive?.(doc.id, rows);
    }
    await index.write(
      async (target) => {
        if (target.unavailable && texts.length) throw new IngestError("embedding_failed", target.unavailable);
        const vectors = target.embedder && texts.length ? await target.embedder.embedPassages(texts) : null;
        rows.forEach((r, i) => (r.vector = vectors?.[i]));
        await target.store.replaceDocuments([{ documentId: doc.id, rows }]);
      },
      async (_result, _target, tx) => {
        await tx.documents.byId(doc.id);
      },
    );
    this.deps.log?.("restored a document's chunks to its live version", { documentId: doc.id, version: doc.version });
  }
}
