/**
 * The chunk store: one LanceDB table holding every chunk of every live document version.
 *
 * Access control lives in the rows (`allow`, `deny`, `classification`) so that every search
 * can apply the asker's filter inside LanceDB (prefilter), never after it. A document's new
 * version replaces the old one in a single merge-insert commit, so readers never see zero or
 * double chunks of a document.
 */
import { accessSignature, type Access } from "../access.ts";
import { makePrivateDir } from "../private-files.ts";
import { documentIdsWhere, sqlString } from "./filter.ts";
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { currentLayoutMetadata, layoutVersionOf, upgradeLayout, type LayoutUpgrade, type UpgradeOptions } from "./layout.ts";

export const CHUNKS_TABLE = "chunks";
const META_EMBED_MODEL = "private_kb.embed_model";
const META_EMBED_DIM = "private_kb.embed_dim";

export interface ChunkRow extends Access {
  chunkId: string;
  documentId: string;
  documentVersion: number;
  ordinal: number;
  title: string;
  source: string;
  pageStart: number;
  pageEnd: number;
  /** Heading path joined with " > ". */
  headings: string;
  text: string;
  /** Space-separated lexical terms (our own Korean/English analysis) for BM25. */
  analyzed: string;
  /** The document's tags (a search scope tests them here: `array_has(tags, …)`). */
  tags?: string[];
  /** When the document's live version was written (ISO, UTC; SQLite `documents.version_at`): the date scope. */
  versionAt?: string | null;
  /**
   * The document's context as the embedding model saw it before this chunk (ingest/context.ts,
   * `embeddingContext`); never shown or quoted. Null: none, or written before chunk layout 4.
   */
  context?: string | null;
  vector?: Float32Array | number[];
}

export interface ChunkHit {
  chunkId: string;
  documentId: string;
  documentVersion: number;
  ordinal: number;
  title: string;
  source: string;
  pageStart: number;
  pageEnd: number;
  headings: string;
  text: string;
  /** BM25 score for text search; cosine similarity for vector search. */
  score: number;
}

/** The vector layout of a table: which model wrote it and its dimension. */
export interface VectorLayout {
  model: string;
  dimension: number;
}

const HIT_COLUMNS = [
  "chunk_id",
  "document_id",
  "document_version",
  "ordinal",
  "title",
  "source",
  "page_start",
  "page_end",
  "headings",
  "text",
];

function chunkSchema(vectors: VectorLayout | null): arrow.Schema {
  const utf8List = () => new arrow.List(new arrow.Field("item", new arrow.Utf8(), true));
  const fields: arrow.Field[] = [
    // chunk_id carries the table's layout version (layout.ts).
    new arrow.Field("chunk_id", new arrow.Utf8(), false, currentLayoutMetadata()),
    new arrow.Field("document_id", new arrow.Utf8(), false),
    new arrow.Field("document_version", new arrow.Int32(), false),
    new arrow.Field("ordinal", new arrow.Int32(), false),
    new arrow.Field("title", new arrow.Utf8(), false),
    new arrow.Field("source", new arrow.Utf8(), false),
    new arrow.Field("page_start", new arrow.Int32(), false),
    new arrow.Field("page_end", new arrow.Int32(), false),
    new arrow.Field("headings", new arrow.Utf8(), false),
    new arrow.Field("text", new arrow.Utf8(), false),
    new arrow.Field("analyzed", new arrow.Utf8(), false),
    new arrow.Field("allow", utf8List(), false),
    new arrow.Field("deny", utf8List(), false),
    new arrow.Field("classification", new arrow.Int32(), false),
    new arrow.Field("tags", utf8List(), false),
    new arrow.Field("version_at", new arrow.Utf8(), true),
    new arrow.Field("context", new arrow.Utf8(), true),
  ];
  const metadata = new Map<string, string>();
  if (vectors) {
    fields.push(
      new arrow.Field("vector", new arrow.FixedSizeList(vectors.dimension, new arrow.Field("item", new arrow.Float32(), true)), true),
    );
    metadata.set(META_EMBED_MODEL, vectors.model);
    metadata.set(META_EMBED_DIM, String(vectors.dimension));
  }
  return new arrow.Schema(fields, metadata);
}

function toRecord(row: ChunkRow, withVector: boolean): Record<string, unknown> {
  const record: Record<string, unknown> = {
    chunk_id: row.chunkId,
    document_id: row.documentId,
    document_version: row.documentVersion,
    ordinal: row.ordinal,
    title: row.title,
    source: row.source,
    page_start: row.pageStart,
    page_end: row.pageEnd,
    headings: row.headings,
    text: row.text,
    analyzed: row.analyzed,
    allow: row.allow,
    deny: row.deny,
    classification: row.classification,
    tags: row.tags ?? [],
    version_at: row.versionAt ?? null,
    context: row.context || null,
  };
  if (withVector) {
    // Null when this table's model is not available to the writer: vector search skips the
    // row until a re-embed fills it; lexical search finds it at once.
    record.vector = row.vector ? Array.from(row.vector) : null;
  }
  return record;
}

const ROW_COLUMNS = [...HIT_COLUMNS, "analyzed", "allow", "deny", "classification", "tags", "version_at", "context"];

function listOf(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  return Array.from(v as Iterable<unknown>, String);
}

/** The displayable columns (HIT_COLUMNS) of a row, shared by hits and full rows. */
function displayFields(r: Record<string, unknown>): Omit<ChunkHit, "score"> {
  return {
    chunkId: String(r.chunk_id),
    documentId: String(r.document_id),
    documentVersion: Number(r.document_version),
    ordinal: Number(r.ordinal),
    title: String(r.title),
    source: String(r.source),
    pageStart: Number(r.page_start),
    pageEnd: Number(r.page_end),
    headings: String(r.headings),
    text: String(r.text),
  };
}

function fromRecord(r: Record<string, unknown>): ChunkRow {
  const row: ChunkRow = {
    ...displayFields(r),
    analyzed: String(r.analyzed),
    allow: listOf(r.allow),
    deny: listOf(r.deny),
    classification: Number(r.classification),
    tags: listOf(r.tags),
    versionAt: r.version_at === null || r.version_at === undefined ? null : String(r.version_at),
    context: r.context === null || r.context === undefined ? null : String(r.context),
  };
  if (r.vector !== null && r.vector !== undefined) row.vector = Float32Array.from(r.vector as Iterable<number>);
  return row;
}

/** The vector layout recorded in a table's schema metadata (null: no vector column). */
async function layoutOf(table: lancedb.Table): Promise<VectorLayout | null> {
  const schema = await table.schema();
  const model = schema.metadata.get(META_EMBED_MODEL);
  const dim = Number(schema.metadata.get(META_EMBED_DIM));
  return model && schema.fields.some((f) => f.name === "vector") ? { model, dimension: dim } : null;
}

function toHit(r: Record<string, unknown>, score: number): ChunkHit {
  return { ...displayFields(r), score };
}

/** Per document: what a table holds of it (to compare a shadow table with the live one). */
export interface DocumentSignature {
  version: number;
  chunks: number;
  /** `accessSignature` of its rows, or "mixed" when the rows disagree. */
  access: string;
}

/** The analyzed column is already our own terms: split on whitespace and nothing else. */
const FTS_CONFIG = () =>
  lancedb.Index.fts({
    baseTokenizer: "whitespace",
    lowercase: false,
    stem: false,
    removeStopWords: false,
    asciiFolding: false,
    withPosition: false,
  });

/**
 * When and how a chunk table's vectors are indexed. Below `minRows` a vector search compares the
 * query with every readable vector (exact); from `minRows` on, the full optimize builds an
 * IVF_HNSW_SQ index (HNSW graphs over scalar-quantized vectors: in bench:scale it built 2.8×
 * faster than IVF_PQ and kept recall@10 ≥ 0.95 for narrow filters, where IVF_PQ fell to 0.73),
 * searched with the access filter as a prefilter. A viewer who may read less than
 * `exactBelowShare` of the table gets an exact search over the readable rows instead (few
 * vectors to compare, and a graph search through mostly unreadable nodes finds too few).
 */
export interface VectorIndexSettings {
  /** Rows from which a vector index is built; 0 never builds one. */
  minRows: number;
  /** HNSW candidate-list size at query time: recall against latency. */
  ef: number;
  /** Readable share of the table under which a filtered vector search is exact. */
  exactBelowShare: number;
  /**
   * Re-rank `refine × limit` index candidates by their full vectors (LanceDB's refine factor; 0:
   * off): the scalar-quantized distances alone misorder close neighbours.
   */
  refine?: number;
  /** How often a store without a vector index looks again whether another process built one (default 60 s). */
  recheckMs?: number;
}

export const DEFAULT_VECTOR_INDEX: VectorIndexSettings = { minRows: 50_000, ef: 400, exactBelowShare: 0.01, refine: 2 };

/** A viewer's readable share is re-counted at most this often (it changes with ACLs and ingestion, slowly). */
const SHARE_TTL_MS = 60_000;
const SHARE_CACHE_MAX = 1000;
const INDEX_RECHECK_MS = 60_000;
/** Every partition is probed (one HNSW graph per million rows; LanceDB caps this at the partition count). */
const VECTOR_PROBES = 64;

/** How one vector search runs: exact over the readable rows, or through the index. */
export type VectorSearchPath = { kind: "exact"; why: "asked" | "no index" | "few readable" } | { kind: "index"; ef: number; refine: number; probes: number };

/**
 * Which path a vector search takes (`ChunkStore.searchVector`): exact when asked (the reference
 * for recall), when the table has no index, or when the filter leaves less than
 * `exactBelowShare` of the rows readable (`readableShare`; null: no filter); else the index,
 * with the access filter inside it as a prefilter, every partition probed.
 */
export function vectorSearchPath(settings: VectorIndexSettings, indexed: boolean, limit: number, readableShare: number | null, exact = false): VectorSearchPath {
  if (exact) return { kind: "exact", why: "asked" };
  if (!indexed) return { kind: "exact", why: "no index" };
  if (readableShare !== null && readableShare < settings.exactBelowShare) return { kind: "exact", why: "few readable" };
  return { kind: "index", ef: Math.max(settings.ef, limit), refine: settings.refine ?? 0, probes: VECTOR_PROBES };
}

/**
 * One LanceDB chunk table. The store the container hands out (`kb.chunks`) follows the active
 * table: `adopt` switches it to another table in one step (after a re-embed), and `snapshot`
 * pins the current table for a multi-step read (a hybrid search), so a switch in the middle of
 * a query cannot pair one table with another table's model.
 */
export class ChunkStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private table: lancedb.Table,
    private tableName: string,
    private layout: VectorLayout | null,
    private readonly ownsConnection: boolean,
    private readonly vectorIndex: VectorIndexSettings = DEFAULT_VECTOR_INDEX,
  ) {}

  /**
   * What this process knows of the current table, shared with its snapshots (same table) and
   * replaced on `adopt`: whether it has a vector index (read at open, after an optimize, and again
   * at most once a minute while it has none, because another process (`kb worker`) may build
   * it), and the readable share of each filter seen in the last minute.
   */
  private tableState = { indexed: false, checkedAt: 0, shares: new Map<string, { share: number; at: number }>() };

  /** The vector layout of the table as created; null for a lexical-only table. */
  get vectors(): VectorLayout | null {
    return this.layout;
  }

  /** The LanceDB table this store reads and writes now. */
  get name(): string {
    return this.tableName;
  }

  /**
   * Opens (or creates) the chunk table (`options.table`, default "chunks"). `wantVectors` is
   * the layout of the configured embedding model; it is used only when the table is created.
   * An existing table keeps its layout: compare `store.vectors` with the model to know whether
   * vectors are usable.
   */
  static async open(
    dir: string,
    wantVectors: VectorLayout | null,
    options: { table?: string; vectorIndex?: VectorIndexSettings; readIntervalMs?: number } = {},
  ): Promise<ChunkStore> {
    makePrivateDir(dir);
    // readConsistencyInterval 0 (the default, KB_LANCEDB_READ_INTERVAL_MS): every read checks for
    // other processes' commits (kb ingest beside kb serve, replicas on a shared folder); in seconds.
    const db = await lancedb.connect(dir, { readConsistencyInterval: (options.readIntervalMs ?? 0) / 1000 });
    const store = await ChunkStore.openOn(db, options.table ?? CHUNKS_TABLE, wantVectors, true, options.vectorIndex);
    await store.ensureIndexes();
    return store;
  }

  private static async openOn(
    db: lancedb.Connection,
    name: string,
    wantVectors: VectorLayout | null,
    ownsConnection: boolean,
    vectorIndex: VectorIndexSettings = DEFAULT_VECTOR_INDEX,
  ): Promise<ChunkStore> {
    const names = await db.tableNames();
    let table: lancedb.Table;
    if (names.includes(name)) {
      table = await db.openTable(name);
    } else {
      try {
        table = await db.createEmptyTable(name, chunkSchema(wantVectors), { existOk: false });
      } catch (err) {
        // Another process created it first.
        if (!(await db.tableNames()).includes(name)) throw err;
        table = await db.openTable(name);
      }
    }
    const store = new ChunkStore(db, table, name, await layoutOf(table), ownsConnection, vectorIndex);
    await store.readIndexState();
    return store;
  }

  /** Another chunk table on the same connection (created with `wantVectors` if missing). */
  async openTable(name: string, wantVectors: VectorLayout | null): Promise<ChunkStore> {
    return ChunkStore.openOn(this.db, name, wantVectors, false, this.vectorIndex);
  }

  /** Snapshots share their store's index state (same table), so one re-check serves them all. */
  private async readIndexState(): Promise<void> {
    this.tableState.checkedAt = Date.now();
    // minRows 0 turns vector indexing off: an index an earlier setting built is not used either.
    this.tableState.indexed = this.layout !== null && this.vectorIndex.minRows > 0 && (await this.table.listIndices()).some((i) => i.columns.includes("vector"));
  }

  /** Names of the chunk tables in the folder. */
  async tableNames(): Promise<string[]> {
    return (await this.db.tableNames()).filter((n) => n === CHUNKS_TABLE || n.startsWith(`${CHUNKS_TABLE}_`));
  }

  async dropTable(name: string): Promise<void> {
    if (name === this.tableName) throw new Error(`refusing to drop the table in use (${name})`);
    if ((await this.db.tableNames()).includes(name)) await this.db.dropTable(name);
  }

  /** Makes this store read and write `other`'s table from now on (the switch after a re-embed). */
  adopt(other: ChunkStore): void {
    this.table = other.table;
    this.tableName = other.tableName;
    this.layout = other.layout;
    this.tableState = other.tableState;
  }

  /** A store pinned to the current table, unaffected by later `adopt` calls. */
  snapshot(): ChunkStore {
    const pinned = new ChunkStore(this.db, this.table, this.tableName, this.layout, false, this.vectorIndex);
    pinned.tableState = this.tableState;
    return pinned;
  }

  /**
   * Builds the vector index once the table has `minRows` rows with vectors (the full optimize
   * calls this; building takes a while, so not after every job). Later rows are folded in by
   * LanceDB's optimize, and searched exactly until then.
   */
  async ensureVectorIndex(): Promise<boolean> {
    if (!this.layout || this.vectorIndex.minRows <= 0) return false;
    if (this.tableState.indexed) return true;
    const table = this.table;
    const rows = await table.countRows("vector IS NOT NULL");
    if (rows < this.vectorIndex.minRows) return false;
    try {
      // One HNSW graph per million rows: each stays fast to search; a query probes them all.
      // (16 partitions at 1M chunks, 4 probed, cut a narrow viewer's filtered search to a quarter
      // but recall@10 fell to 0.66 on bench:scale's vectors: docs/benchmarks.md.)
      await table.createIndex("vector", {
        config: lancedb.Index.hnswSq({ distanceType: "cosine", numPartitions: Math.max(1, Math.ceil(rows / 1_000_000)) }),
      });
    } catch (err) {
      if (!/already exists/i.test(String(err))) throw err;
    }
    await this.readIndexState();
    return this.tableState.indexed;
  }

  /** The share of the table's rows `filter` lets through (cached per filter for a minute). */
  private async shareOf(filter: string): Promise<number> {
    const shares = this.tableState.shares;
    const now = Date.now();
    const hit = shares.get(filter);
    if (hit && now - hit.at < SHARE_TTL_MS) return hit.share;
    const [readable, total] = await Promise.all([this.table.countRows(filter), this.table.countRows()]);
    const share = total === 0 ? 0 : readable / total;
    if (shares.size >= SHARE_CACHE_MAX) shares.clear();
    shares.set(filter, { share, at: now });
    return share;
  }

  /** Creates the FTS, label-list and scalar indexes once the table has rows. */
  async ensureIndexes(): Promise<void> {
    const table = this.table;
    if ((await table.countRows()) === 0) return;
    const existing = new Set((await table.listIndices()).map((i) => i.columns.join(",")));
    const create = async (column: string, config: lancedb.Index) => {
      if (existing.has(column)) return;
      for (let attempt = 1; ; attempt++) {
        try {
          await table.createIndex(column, { config });
          return;
        } catch (err) {
          // Another process opening the same folder (a CLI command beside the server) may have
          // created it first ("already exists"), or committed its own index while ours was being
          // built (LanceDB's retryable commit conflict): look again, and build it again only if it
          // is still missing. Anything else is real.
          const message = String(err);
          if (/already exists/i.test(message)) return;
          if (!/retryable commit conflict|preempted by concurrent/i.test(message) || attempt >= 3) throw err;
          await table.checkoutLatest();
          if ((await table.listIndices()).some((i) => i.columns.join(",") === column)) return;
        }
      }
    };
    await create("analyzed", FTS_CONFIG());
    // The access filter's three columns are all answered from indexes, so the filter is one
    // index query ahead of the search. Without the bitmap, `classification <= n` was a refine
    // filter read from the rows of every candidate: 4× the filtered search's time at 100k chunks
    // (bench:scale, docs/benchmarks.md).
    await create("allow", lancedb.Index.labelList());
    await create("deny", lancedb.Index.labelList());
    await create("classification", lancedb.Index.bitmap());
    await create("document_id", lancedb.Index.btree());
    await create("chunk_id", lancedb.Index.btree());
    // The tag scope (array_has(tags, …)); tables written before chunk layout 3 lack the column.
    if ((await table.schema()).fields.some((f) => f.name === "tags")) await create("tags", lancedb.Index.labelList());
  }

  /**
   * Makes `rows` the only chunks of `documentId`, in one commit: new chunks are inserted
   * and every other chunk of the document is deleted by the same transaction.
   */
  async replaceDocument(documentId: string, rows: ChunkRow[]): Promise<void> {
    await this.replaceDocuments([{ documentId, rows }]);
  }

  /**
   * Several documents in one merge-insert: each listed document ends with exactly its given
   * rows (none: it is removed). One commit, so each document changes atomically (all of them
   * do, together), and the table is scanned once instead of once per document.
   */
  async replaceDocuments(docs: { documentId: string; rows: ChunkRow[] }[]): Promise<void> {
    if (docs.length === 0) return;
    const ids = new Set(docs.map((d) => d.documentId));
    if (ids.size !== docs.length) throw new Error("replaceDocuments: a document is listed twice");
    const table = this.table;
    const rows = docs.flatMap((d) => d.rows);
    const where = documentIdsWhere([...ids]);
    if (rows.length === 0) {
      await table.delete(where);
      return;
    }
    const withVector = this.layout !== null;
    const data = rows.map((r) => toRecord(r, withVector));
    const schema = await table.schema();
    const batch = lancedb.makeArrowTable(data, { schema });
    // Documents with no rows in the table yet (new documents: the bulk of an ingest) have
    // nothing to replace: their rows are appended, one commit for the batch. The merge below
    // joins against every row of the table for its "not matched by source" clause (a full scan:
    // 3–4 s per batch at 1M chunks against 40 ms for the append, bench:ingest-scale), so it is
    // kept for documents that have rows (a new version, a job resumed after a crash), whose rows
    // it replaces atomically. The check reads the document_id index.
    if ((await table.countRows(where)) === 0) {
      await table.add(batch);
      return;
    }
    await table.mergeInsert("chunk_id").whenMatchedUpdateAll().whenNotMatchedInsertAll().whenNotMatchedBySourceDelete({ where }).execute(batch);
  }

  async deleteDocument(documentId: string): Promise<void> {
    await this.table.delete(`document_id = ${sqlString(documentId)}`);
  }

  /**
   * The fragments (data files) holding rows of these documents. A LanceDB delete only marks
   * rows deleted; their text stays in the fragment's file until the fragment is rewritten, so
   * an erasure needs to know which fragments to rewrite (`eraseFragments`).
   */
  async fragmentsOf(documentIds: string[]): Promise<number[]> {
    if (documentIds.length === 0) return [];
    const rows = (await this.table.query().where(documentIdsWhere(documentIds)).withRowId().select(["chunk_id"]).toArray()) as Record<string, unknown>[];
    // Without stable row ids (our tables), a row id is its address: fragment id << 32 | offset.
    return [...new Set(rows.map((r) => Number(BigInt(r._rowid as bigint) >> 32n)))].sort((a, b) => a - b);
  }

  /**
   * Makes the deleted rows of these fragments unrecoverable: the live rows left in each
   * fragment are written again (to a new fragment), which leaves the old fragment with no live
   * row, so LanceDB drops it; then every older table version is removed (with the files only
   * they used) and the full-text index is rebuilt (its files held the deleted rows' terms).
   * A row changed by a writer meanwhile (new version, new access) is not overwritten: the
   * writer's change already moved it out of the fragment.
   */
  async eraseFragments(fragments: number[]): Promise<void> {
    const table = this.table;
    const withVector = this.layout !== null;
    const columns = [...ROW_COLUMNS, ...(withVector ? ["vector"] : [])];
    for (const f of fragments) {
      const lo = BigInt(f) << 32n;
      const hi = BigInt(f + 1) << 32n;
      const rows = (await table.query().where(`_rowid >= ${lo} AND _rowid < ${hi}`).select(columns).toArray()) as Record<string, unknown>[];
      if (rows.length === 0) continue;
      const batch = lancedb.makeArrowTable(rows.map(fromRecord).map((r) => toRecord(r, withVector)), { schema: await table.schema() });
      await table
        .mergeInsert("chunk_id")
        .whenMatchedUpdateAll({
          where: "target.document_version = source.document_version AND target.classification = source.classification AND target.allow = source.allow AND target.deny = source.deny",
        })
        .execute(batch);
    }
    if ((await table.countRows()) > 0) {
      await table.createIndex("analyzed", { config: FTS_CONFIG(), replace: true });
      await this.ensureIndexes();
    }
    // Every version but the current one; files written by an unfinished commit of another
    // process are newer than any removed version and are kept (deleteUnverified stays off).
    await table.optimize({ cleanupOlderThan: new Date() });
  }

  /** Rewrites the access columns of a document's chunks in place (no re-embedding). */
  async updateAccess(documentId: string, access: Access): Promise<void> {
    await this.updateAccessMany([documentId], access);
  }

  /** Gives every chunk of several documents the same access, in one commit (bulk ACL changes). */
  async updateAccessMany(documentIds: string[], access: Access): Promise<void> {
    if (documentIds.length === 0) return;
    const list = (xs: string[]) => (xs.length ? `make_array(${xs.map(sqlString).join(", ")})` : "arrow_cast(make_array(), 'List(Utf8)')");
    await this.table.update({
      where: documentIdsWhere(documentIds),
      valuesSql: {
        allow: list(access.allow),
        deny: list(access.deny),
        classification: String(Math.trunc(access.classification)),
      },
    });
  }

  /** BM25 over the analyzed column, restricted by `filter` inside the search. */
  async searchText(analyzedQuery: string, filter: string | null, limit: number): Promise<ChunkHit[]> {
    const table = this.table;
    if (!analyzedQuery.trim() || (await table.countRows()) === 0) return [];
    let q = table
      .query()
      .fullTextSearch(new lancedb.MatchQuery(analyzedQuery, "analyzed"))
      .select([...HIT_COLUMNS, "_score"])
      .limit(limit);
    if (filter) q = q.where(filter);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows.map((r) => toHit(r, Number(r._score)));
  }

  /**
   * Cosine nearest neighbours, restricted by `filter` inside the search (prefilter). `exact`
   * scans every readable vector even where a vector index exists (the reference for recall).
   */
  async searchVector(vector: Float32Array, filter: string | null, limit: number, options: { exact?: boolean } = {}): Promise<ChunkHit[]> {
    if (!this.vectors) return [];
    const rows = (await (await this.vectorQuery(vector, filter, limit, options)).toArray()) as Record<string, unknown>[];
    return rows.map((r) => toHit(r, 1 - Number(r._distance)));
  }

  /** LanceDB's plan for `searchVector` with these arguments: whether it goes through the index (tests, diagnostics). */
  async vectorSearchPlan(vector: Float32Array, filter: string | null, limit: number): Promise<string> {
    return (await this.vectorQuery(vector, filter, limit, {})).explainPlan(true);
  }

  /** The path `searchVector` takes for this filter now (tests, diagnostics, bench:scale). */
  async vectorPath(filter: string | null, limit: number, exact = false): Promise<VectorSearchPath> {
    if (!this.tableState.indexed && this.vectorIndex.minRows > 0 && Date.now() - this.tableState.checkedAt >= (this.vectorIndex.recheckMs ?? INDEX_RECHECK_MS)) await this.readIndexState();
    const indexed = this.tableState.indexed;
    const share = filter && indexed && !exact ? await this.shareOf(filter) : null;
    return vectorSearchPath(this.vectorIndex, indexed, limit, share, exact);
  }

  private async vectorQuery(vector: Float32Array, filter: string | null, limit: number, options: { exact?: boolean }) {
    let q = this.table
      .query()
      .nearestTo(Array.from(vector))
      .column("vector")
      .distanceType("cosine")
      .select([...HIT_COLUMNS, "_distance"])
      .limit(limit);
    const path = await this.vectorPath(filter, limit, options.exact === true);
    if (path.kind === "exact") q = q.bypassVectorIndex();
    else {
      q = q.ef(path.ef).nprobes(path.probes);
      if (path.refine) q = q.refineFactor(path.refine);
    }
    return filter ? q.where(filter) : q;
  }

  /** Each indexed column and the kind of its index (diagnostics, benchmarks, the system page). */
  async describeIndexes(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const i of await this.table.listIndices()) out[i.columns.join(",")] = i.indexType;
    return out;
  }

  async count(filter?: string): Promise<number> {
    return this.table.countRows(filter);
  }

  /** All chunks matching a filter, in document/ordinal order (tests, diagnostics). */
  async list(filter: string | null, columns: string[] = HIT_COLUMNS): Promise<Record<string, unknown>[]> {
    let q = this.table.query().select(columns);
    if (filter) q = q.where(filter);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows.sort((a, b) =>
      String(a.document_id) === String(b.document_id)
        ? Number(a.ordinal) - Number(b.ordinal)
        : String(a.document_id) < String(b.document_id)
          ? -1
          : 1,
    );
  }

  /** Full rows (vectors included when `withVectors`) of some documents, for copying them to another table. */
  async rowsOf(documentIds: string[], withVectors = false): Promise<ChunkRow[]> {
    if (documentIds.length === 0) return [];
    const where = documentIdsWhere(documentIds);
    const columns = [...ROW_COLUMNS, ...(withVectors && this.layout ? ["vector"] : [])];
    const rows = (await this.table.query().where(where).select(columns).toArray()) as Record<string, unknown>[];
    return rows.map(fromRecord).sort((a, b) => (a.documentId === b.documentId ? a.ordinal - b.ordinal : a.documentId < b.documentId ? -1 : 1));
  }

  /**
   * What the table holds of each document (version, chunk count, access), from one scan of
   * the small columns. A document whose rows carry two versions shows the higher one and
   * the count of all its rows, so it never equals a clean copy.
   */
  async documentSignatures(): Promise<Map<string, DocumentSignature>> {
    const out = new Map<string, DocumentSignature>();
    if ((await this.table.countRows()) === 0) return out;
    const rows = (await this.table.query().select(["document_id", "document_version", "allow", "deny", "classification"]).toArray()) as Record<string, unknown>[];
    for (const r of rows) {
      const id = String(r.document_id);
      const access = accessSignature({ allow: listOf(r.allow), deny: listOf(r.deny), classification: Number(r.classification) });
      const seen = out.get(id);
      if (!seen) out.set(id, { version: Number(r.document_version), chunks: 1, access });
      else {
        seen.chunks++;
        if (seen.version !== Number(r.document_version)) seen.version = Math.max(seen.version, Number(r.document_version)) + 0.5;
        if (seen.access !== access) seen.access = "mixed";
      }
    }
    return out;
  }

  /**
   * Folds new rows into the indexes, compacts small fragments and drops table versions older
   * than `olderThan`; builds the vector index when the table has grown past its threshold.
   */
  async optimize(olderThan: Date = new Date(Date.now() - 60 * 60 * 1000)): Promise<void> {
    await this.ensureIndexes();
    await this.ensureVectorIndex();
    await this.table.optimize({ cleanupOlderThan: olderThan });
  }

  async version(): Promise<number> {
    return this.table.version();
  }

  /** The table's layout version (layout.ts): 1 for a table written by v0.1. */
  layoutVersion(): Promise<number> {
    return layoutVersionOf(this.table);
  }

  /** Brings the table to the current layout (layout.ts); a step that needs a reindex calls `submitReindex` first. */
  upgradeLayout(options: UpgradeOptions): Promise<LayoutUpgrade> {
    return upgradeLayout(this.table, options);
  }

  close(): void {
    this.table.close();
    if (this.ownsConnection) this.db.close();
  }
}
