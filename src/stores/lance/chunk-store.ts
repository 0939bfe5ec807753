/**
 * The chunk store: one LanceDB table holding every chunk of every live document version.
 *
 * Access control lives in the rows (`allow`, `deny`, `classification`) so that every search
 * can apply the asker's filter inside LanceDB (prefilter), never after it. A document's new
 * version replaces the old one in a single merge-insert commit, so readers never see zero or
 * double chunks of a document.
 */
import fs from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";

export const CHUNKS_TABLE = "chunks";
const META_EMBED_MODEL = "private_kb.embed_model";
const META_EMBED_DIM = "private_kb.embed_dim";

export interface ChunkRow {
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
  allow: string[];
  deny: string[];
  classification: number;
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

export interface ChunkAccess {
  allow: string[];
  deny: string[];
  classification: number;
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
    new arrow.Field("chunk_id", new arrow.Utf8(), false),
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

/** SQL string literal for LanceDB filters. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
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
  };
  if (withVector) {
    if (!row.vector) throw new Error(`chunk ${row.chunkId} has no vector but the table stores vectors`);
    record.vector = Array.from(row.vector);
  }
  return record;
}

function toHit(r: Record<string, unknown>, score: number): ChunkHit {
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
    score,
  };
}

export class ChunkStore {
  private constructor(
    private readonly db: lancedb.Connection,
    private readonly table: lancedb.Table,
    /** The vector layout of the table as created; null for a lexical-only table. */
    readonly vectors: VectorLayout | null,
  ) {}

  /**
   * Opens (or creates) the chunk table. `wantVectors` is the layout of the configured
   * embedding model; it is used only when the table is created. An existing table keeps
   * its layout: compare `store.vectors` with the model to know whether vectors are usable.
   */
  static async open(dir: string, wantVectors: VectorLayout | null): Promise<ChunkStore> {
    fs.mkdirSync(dir, { recursive: true });
    // readConsistencyInterval 0: see writes of other processes (kb ingest beside kb serve) at once.
    const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
    const names = await db.tableNames();
    let table: lancedb.Table;
    if (names.includes(CHUNKS_TABLE)) {
      table = await db.openTable(CHUNKS_TABLE);
    } else {
      try {
        table = await db.createEmptyTable(CHUNKS_TABLE, chunkSchema(wantVectors), { existOk: false });
      } catch (err) {
        // Another process created it first.
        if (!(await db.tableNames()).includes(CHUNKS_TABLE)) throw err;
        table = await db.openTable(CHUNKS_TABLE);
      }
    }
    const schema = await table.schema();
    const model = schema.metadata.get(META_EMBED_MODEL);
    const dim = Number(schema.metadata.get(META_EMBED_DIM));
    const vectors = model && schema.fields.some((f) => f.name === "vector") ? { model, dimension: dim } : null;
    const store = new ChunkStore(db, table, vectors);
    await store.ensureIndexes();
    return store;
  }

  /** Creates the FTS, label-list and scalar indexes once the table has rows. */
  async ensureIndexes(): Promise<void> {
    if ((await this.table.countRows()) === 0) return;
    const existing = new Set((await this.table.listIndices()).map((i) => i.columns.join(",")));
    const create = async (column: string, config: lancedb.Index) => {
      if (existing.has(column)) return;
      try {
        await this.table.createIndex(column, { config });
      } catch (err) {
        // Another process may have created it concurrently; anything else is real.
        if (!/already exists/i.test(String(err))) throw err;
      }
    };
    // The analyzed column is already our own terms: split on whitespace and nothing else.
    await create(
      "analyzed",
      lancedb.Index.fts({
        baseTokenizer: "whitespace",
        lowercase: false,
        stem: false,
        removeStopWords: false,
        asciiFolding: false,
        withPosition: false,
      }),
    );
    await create("allow", lancedb.Index.labelList());
    await create("deny", lancedb.Index.labelList());
    await create("document_id", lancedb.Index.btree());
    await create("chunk_id", lancedb.Index.btree());
  }

  /**
   * Makes `rows` the only chunks of `documentId`, in one commit: new chunks are inserted
   * and every other chunk of the document is deleted by the same transaction.
   */
  async replaceDocument(documentId: string, rows: ChunkRow[]): Promise<void> {
    if (rows.length === 0) {
      await this.deleteDocument(documentId);
      return;
    }
    const withVector = this.vectors !== null;
    const data = rows.map((r) => toRecord(r, withVector));
    const schema = await this.table.schema();
    const batch = lancedb.makeArrowTable(data, { schema });
    await this.table
      .mergeInsert("chunk_id")
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .whenNotMatchedBySourceDelete({ where: `document_id = ${sqlString(documentId)}` })
      .execute(batch);
  }

  async deleteDocument(documentId: string): Promise<void> {
    await this.table.delete(`document_id = ${sqlString(documentId)}`);
  }

  /** Rewrites the access columns of a document's chunks in place (no re-embedding). */
  async updateAccess(documentId: string, access: ChunkAccess): Promise<void> {
    const list = (xs: string[]) => (xs.length ? `make_array(${xs.map(sqlString).join(", ")})` : "arrow_cast(make_array(), 'List(Utf8)')");
    await this.table.update({
      where: `document_id = ${sqlString(documentId)}`,
      valuesSql: {
        allow: list(access.allow),
        deny: list(access.deny),
        classification: String(Math.trunc(access.classification)),
      },
    });
  }

  /** BM25 over the analyzed column, restricted by `filter` inside the search. */
  async searchText(analyzedQuery: string, filter: string | null, limit: number): Promise<ChunkHit[]> {
    if (!analyzedQuery.trim() || (await this.table.countRows()) === 0) return [];
    let q = this.table
      .query()
      .fullTextSearch(new lancedb.MatchQuery(analyzedQuery, "analyzed"))
      .select([...HIT_COLUMNS, "_score"])
      .limit(limit);
    if (filter) q = q.where(filter);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows.map((r) => toHit(r, Number(r._score)));
  }

  /** Cosine nearest neighbours, restricted by `filter` inside the search (prefilter). */
  async searchVector(vector: Float32Array, filter: string | null, limit: number): Promise<ChunkHit[]> {
    if (!this.vectors) return [];
    let q = this.table
      .query()
      .nearestTo(Array.from(vector))
      .column("vector")
      .distanceType("cosine")
      .select([...HIT_COLUMNS, "_distance"])
      .limit(limit);
    if (filter) q = q.where(filter);
    const rows = (await q.toArray()) as Record<string, unknown>[];
    return rows.map((r) => toHit(r, 1 - Number(r._distance)));
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

  /** Folds new rows into the indexes and drops old table versions. */
  async optimize(olderThan: Date = new Date(Date.now() - 60 * 60 * 1000)): Promise<void> {
    await this.ensureIndexes();
    await this.table.optimize({ cleanupOlderThan: olderThan });
  }

  async version(): Promise<number> {
    return this.table.version();
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}
