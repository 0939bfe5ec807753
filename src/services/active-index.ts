/**
 * Which chunk table answers queries, and with which embedding model.
 *
 * The pointer lives in SQLite (`settings`, key `index.active`): `{ table, model, dimension }`.
 * A re-embed job fills a shadow table and then flips the pointer in one SQLite transaction;
 * every process follows the pointer:
 *  - readers (`kb serve`) poll it (every second) and, once the new table is open and its model
 *    loaded, switch table and model together in one synchronous step; until then they keep
 *    answering from the old table, which is kept (as `index.previous`) for rollback;
 *  - writers read it fresh for every write and commit through `write`, which re-checks it and
 *    bumps the index generation in the same SQLite transaction. A writer that wrote to a table
 *    that stopped being active meanwhile repeats its write on the new one, and a switch whose
 *    catch-up raced with a commit (generation moved) is retried. So no committed write is lost
 *    across a switch.
 */
import fs from "node:fs";
import path from "node:path";
import { findEmbeddingModels, loadEmbeddingProvider, type EmbeddingDevice, type EmbeddingProvider } from "../models/embeddings.ts";
import { CHUNKS_TABLE, ChunkStore, type VectorIndexSettings, type VectorLayout } from "../stores/lance/chunk-store.ts";
import type { MetadataRepositories, MetadataStore } from "../stores/metadata.ts";
import { TOPICS, type ChangeFeed } from "../stores/change-feed.ts";

export const ACTIVE_KEY = "index.active";
export const PREVIOUS_KEY = "index.previous";
export const GEN_KEY = "index.gen";
/** How often a remote embedding model that did not answer is tried again for queries. */
const REMOTE_RETRY_MS = 30_000;

export interface IndexInfo {
  table: string;
  model: string | null;
  dimension: number | null;
  /** When it became active, and by which job. */
  since?: string;
  jobId?: string;
}

export interface ModelStatus {
  embedding: { model: string; dimension: number } | null;
  /** Why the configured or found embedding model is not used, if it is not. */
  embeddingNote?: string;
}

export interface WriteTarget {
  name: string;
  store: ChunkStore;
  /** The table's model, or null (lexical table, or its model is not available here: rows get null vectors). */
  embedder: EmbeddingProvider | null;
  /**
   * Set when the table's model is the configured remote one (KB_EMBED_URL) and its server cannot
   * be used now: writers must not write rows without vectors for an outage (they fail the file,
   * to be retried), as they would for a model that is simply not installed here.
   */
  unavailable?: string;
}

export function layoutOf(info: IndexInfo): VectorLayout | null {
  return info.model && info.dimension ? { model: info.model, dimension: info.dimension } : null;
}

/** A model on an embeddings server (KB_EMBED_URL): its identity (`host/model`) and how to load it. */
export interface RemoteEmbeddingModel {
  id: string;
  load: () => Promise<EmbeddingProvider>;
}

/**
 * Loads embedding models by folder name, once each, shared by readers, writers and re-embed jobs.
 * The remote model (KB_EMBED_URL), when configured, is loaded by its identity `host/model` (a
 * folder name cannot hold a "/", so the two never collide); no other remote model is ever loaded.
 */
export class ModelRegistry {
  private readonly loaded = new Map<string, Promise<EmbeddingProvider>>();

  constructor(private readonly opts: { modelsDir: string; device: EmbeddingDevice; log?: (msg: string) => void; remote?: RemoteEmbeddingModel }) {}

  get modelsDir(): string {
    return this.opts.modelsDir;
  }

  /** The configured remote model's identity (`host/model`), if any. */
  get remoteId(): string | undefined {
    return this.opts.remote?.id;
  }

  /** Whether a model name is a remote model's identity (`host/model`) rather than a folder. */
  isRemoteId(name: string): boolean {
    return name === this.opts.remote?.id || (name.includes("/") && !path.isAbsolute(name) && !fs.existsSync(path.resolve(this.opts.modelsDir, name)));
  }

  /** Model folders present in the models dir. */
  available(): string[] {
    return findEmbeddingModels(this.opts.modelsDir);
  }

  load(name: string): Promise<EmbeddingProvider> {
    let p = this.loaded.get(name);
    if (!p && this.opts.remote && name === this.opts.remote.id) {
      p = this.opts.remote.load();
      this.loaded.set(name, p);
      p.catch(() => this.loaded.delete(name));
    }
    if (!p && this.isRemoteId(name)) {
      // A remote model other than the configured one (a table written with an earlier KB_EMBED_URL).
      p = Promise.reject(new Error(`embedding model ${name} is on a model server that KB_EMBED_URL / KB_EMBED_REMOTE_MODEL do not name now`));
      p.catch(() => {});
      return p;
    }
    if (!p) {
      p = loadEmbeddingProvider({ modelsDir: this.opts.modelsDir, model: name, device: this.opts.device, log: this.opts.log }).then((m) => {
        if (!m) throw new Error(`embedding model "${name}" not found in ${this.opts.modelsDir}`);
        return m;
      });
      this.loaded.set(name, p);
      p.catch(() => this.loaded.delete(name));
    }
    return p;
  }

  /** The model, or null (with the reason logged) when it cannot be loaded. */
  async tryLoad(name: string): Promise<EmbeddingProvider | null> {
    try {
      return await this.load(name);
    } catch (err) {
      this.opts.log?.(`embedding model ${name}: ${(err as Error).message}`);
      return null;
    }
  }

  /** Closes a model nobody needs any more. */
  async release(name: string): Promise<void> {
    const p = this.loaded.get(name);
    if (!p) return;
    this.loaded.delete(name);
    await (await p.catch(() => null))?.close();
  }

  loadedNames(): string[] {
    return [...this.loaded.keys()];
  }

  async closeAll(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    for (const p of all) await (await p.catch(() => null))?.close();
  }
}

export class ActiveIndex {
  private serving: IndexInfo;
  private servingEmbedder: EmbeddingProvider | null = null;
  private readonly tables = new Map<string, Promise<ChunkStore>>();
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Why the found model could not be loaded at start, if so. */
  private loadNote: string | undefined;
  /** Announces switches and hears other processes' (useChangeFeed); null: the pointer is polled and read per query only. */
  private changes: ChangeFeed | null = null;

  private constructor(
    /** The metadata store holding the pointer; `write`'s commit step is one of its transactions. */
    readonly metadata: MetadataStore,
    /** The store handed to readers (`kb.chunks`); it follows the active table. */
    readonly store: ChunkStore,
    readonly models: ModelRegistry,
    /** The model the operator configured (or the one found), null for none. */
    readonly wantedModel: string | null,
    readonly status: ModelStatus,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.serving = { table: store.name, model: store.vectors?.model ?? null, dimension: store.vectors?.dimension ?? null };
  }

  /**
   * Opens the active table (creating the first one with the wanted model's layout) and loads
   * its model for queries.
   */
  static async open(opts: {
    lanceDir: string;
    /** LanceDB's read-consistency interval (KB_LANCEDB_READ_INTERVAL_MS); 0: every read. */
    readIntervalMs?: number;
    /** When the chunk table's vectors get an index (chunk-store.ts). */
    vectorIndex?: VectorIndexSettings;
    metadata: MetadataStore;
    models: ModelRegistry;
    /** KB_EMBED_MODEL: a folder name, "none", or undefined (auto-detect). */
    configuredModel: string | undefined;
    log: (msg: string, fields?: Record<string, unknown>) => void;
  }): Promise<ActiveIndex> {
    const { metadata, models } = opts;
    const { settings } = metadata;
    let pointer = await settings.get<IndexInfo>(ACTIVE_KEY);
    const found = opts.configuredModel === undefined ? models.available() : [];
    let wanted: string | null =
      opts.configuredModel === "none" ? null : (opts.configuredModel ?? (pointer?.model && found.includes(pointer.model) ? pointer.model : (found[0] ?? null)));
    let store: ChunkStore;
    let wantedProvider: EmbeddingProvider | null = null;
    const status: ModelStatus = { embedding: null };
    if (!pointer) {
      // First start, or a data folder from before the pointer existed: the "chunks" table.
      let layout: VectorLayout | null = null;
      if (wanted) {
        try {
          wantedProvider = await models.load(wanted);
          layout = { model: wantedProvider.modelId, dimension: wantedProvider.dimension };
          wanted = wantedProvider.modelId;
        } catch (err) {
          if (opts.configuredModel) throw err; // an explicitly configured model must load
          status.embeddingNote = `found a model folder but could not load it: ${(err as Error).message}`;
          wanted = null;
        }
      }
      store = await ChunkStore.open(opts.lanceDir, layout, { table: CHUNKS_TABLE, vectorIndex: opts.vectorIndex, readIntervalMs: opts.readIntervalMs });
      pointer = await settings.setIfAbsent<IndexInfo>(ACTIVE_KEY, {
        table: store.name,
        model: store.vectors?.model ?? null,
        dimension: store.vectors?.dimension ?? null,
        since: new Date().toISOString(),
      });
      if (pointer.table !== store.name) {
        store.close();
        store = await ChunkStore.open(opts.lanceDir, null, { table: pointer.table, vectorIndex: opts.vectorIndex, readIntervalMs: opts.readIntervalMs });
      }
    } else {
      store = await ChunkStore.open(opts.lanceDir, layoutOf(pointer), { table: pointer.table, vectorIndex: opts.vectorIndex, readIntervalMs: opts.readIntervalMs });
    }
    const index = new ActiveIndex(metadata, store, models, wanted, status, opts.log);
    index.loadNote = status.embeddingNote;
    index.servingEmbedder = await index.embedderFor(index.serving);
    if (wantedProvider && wantedProvider !== index.servingEmbedder) await models.release(wantedProvider.modelId);
    index.describe();
    return index;
  }

  /** The model serving queries (matches `store`'s vectors), or null: lexical. */
  embedder(): EmbeddingProvider | null {
    return this.servingEmbedder;
  }

  /** The table serving queries in this process. */
  info(): IndexInfo {
    return this.serving;
  }

  /** The active table as recorded in SQLite now (may be ahead of `info()` for a second). */
  async pointer(): Promise<IndexInfo> {
    return (await this.metadata.settings.get<IndexInfo>(ACTIVE_KEY)) ?? this.serving;
  }

  previous(): Promise<IndexInfo | undefined> {
    return this.metadata.settings.get<IndexInfo>(PREVIOUS_KEY);
  }

  async generation(): Promise<number> {
    return Number((await this.metadata.settings.get<number>(GEN_KEY)) ?? 0);
  }

  /** A chunk table by name (opened once; created with `layout` if missing). */
  table(name: string, layout: VectorLayout | null = null): Promise<ChunkStore> {
    if (name === this.store.name) return Promise.resolve(this.store.snapshot());
    let p = this.tables.get(name);
    if (!p) {
      p = this.store.openTable(name, layout);
      this.tables.set(name, p);
      p.catch(() => this.tables.delete(name));
    }
    return p;
  }

  /** The model for a table, or null (lexical table, or the model cannot be loaded or has another dimension). */
  async embedderFor(info: IndexInfo): Promise<EmbeddingProvider | null> {
    if (!info.model || !info.dimension) return null;
    const m = await this.models.tryLoad(info.model);
    if (!m) return null;
    if (m.dimension !== info.dimension) {
      this.log(`model ${info.model} now produces ${m.dimension}d vectors, the table holds ${info.dimension}d`);
      return null;
    }
    return m;
  }

  /** Where a write goes now: the active table per SQLite, with its model. */
  async writeTarget(): Promise<WriteTarget> {
    const p = await this.pointer();
    const store = await this.table(p.table, layoutOf(p));
    const embedder = await this.embedderFor(p);
    if (!embedder && p.model && p.model === this.models.remoteId) {
      return { name: p.table, store, embedder, unavailable: `the embedding server for ${p.model} cannot be used now (see the log); nothing was written` };
    }
    return { name: p.table, store, embedder };
  }

  /**
   * The write protocol every change of the chunk table follows: `lance` writes to the active
   * table (read fresh), then `commit` runs its metadata writes through `tx` in one transaction
   * (`withTransaction`: it may await only `tx`), provided that
   * table is still the active one, and the index generation is bumped with them. If a re-embed
   * switched the table in between, nothing of `commit` was written and both steps are repeated
   * on the new table (with its model), so no committed change is lost across a switch. Returns
   * what `lance` returned in the attempt that committed, with the table it wrote.
   */
  async write<T>(
    lance: (target: WriteTarget) => Promise<T>,
    commit: (result: T, target: WriteTarget, tx: MetadataRepositories) => Promise<void> = async () => {},
  ): Promise<{ result: T; target: WriteTarget }> {
    for (;;) {
      const target = await this.writeTarget();
      const result = await lance(target);
      if (await this.commit(target.name, (tx) => commit(result, target, tx))) return { result, target };
    }
  }

  /**
   * Runs `fn` (metadata writes through `tx`) in one transaction if `tableName` is still the active table,
   * and bumps the index generation. False: the table was switched meanwhile, nothing was
   * written. Only `write` uses it; it is the step that makes the retry safe.
   */
  private commit(tableName: string, fn: (tx: MetadataRepositories) => Promise<void>): Promise<boolean> {
    return this.metadata.withTransaction(async (tx) => {
      const p = await tx.settings.get<IndexInfo>(ACTIVE_KEY);
      if (p && p.table !== tableName) return false;
      await fn(tx);
      await tx.settings.increment(GEN_KEY);
      return true;
    });
  }

  /**
   * Makes `to` the active table if no index change was committed since `expectedGen` was read.
   * The table it replaces becomes `index.previous` (rollback target).
   */
  trySwitch(to: IndexInfo, expectedGen: number): Promise<boolean> {
    return this.metadata.withTransaction(async ({ settings }) => {
      if (Number((await settings.get<number>(GEN_KEY)) ?? 0) !== expectedGen) return false;
      const current = await settings.get<IndexInfo>(ACTIVE_KEY);
      if (current && current.table !== to.table) await settings.set(PREVIOUS_KEY, current);
      await settings.set(ACTIVE_KEY, { ...to, since: new Date().toISOString() });
      await settings.increment(GEN_KEY);
      // Delivered to other processes when this transaction commits (change-feed.ts).
      await this.changes?.publish(TOPICS.index, { table: to.table, model: to.model, dimension: to.dimension });
      return true;
    });
  }

  /**
   * Follows the pointer: when another process switched the active table, open it, load its
   * model, then switch readers to both at once. Queries keep using the old pair until then.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const p = await this.pointer();
    if (p.table === this.serving.table) return this.retryRemoteEmbedder();
    const next = await this.store.openTable(p.table, layoutOf(p));
    const embedder = await this.embedderFor(p);
    if (this.closed) return next.close();
    const before = this.serving;
    // One synchronous step: readers see either the old table and model or the new ones.
    this.store.adopt(next);
    this.serving = p;
    const oldEmbedder = this.servingEmbedder;
    this.servingEmbedder = embedder;
    this.describe();
    this.log("switched the active chunk table", { from: before.table, to: p.table, model: p.model, dimension: p.dimension });
    // The old model may still be embedding a query that started before the switch.
    if (oldEmbedder && oldEmbedder !== embedder && oldEmbedder.modelId !== this.wantedModel) {
      const t = setTimeout(() => void this.models.release(oldEmbedder.modelId), 60_000);
      t.unref();
    }
  }

  private lastRemoteRetry = 0;

  /**
   * The table's model is the configured remote one but its server did not answer when the table
   * was opened (queries run lexically meanwhile): try again, at most every 30 s (`now`: at once).
   */
  async retryRemoteEmbedder(now = false): Promise<void> {
    const s = this.serving;
    if (this.servingEmbedder || !s.model || s.model !== this.models.remoteId) return;
    if (!now && Date.now() - this.lastRemoteRetry < REMOTE_RETRY_MS) return;
    this.lastRemoteRetry = Date.now();
    const e = await this.embedderFor(s);
    if (!e || this.closed || this.serving !== s) return;
    this.servingEmbedder = e;
    this.describe();
    this.log("the embedding server answers again: hybrid retrieval resumed", { model: s.model });
  }

  /**
   * Announces this process's switches on `feed` and follows other processes' at once: a switch
   * announcement (or a resync) refreshes. While the feed is live across processes a query need
   * not read the pointer first (`mustReadPointer`).
   */
  useChangeFeed(feed: ChangeFeed): void {
    this.changes = feed;
    feed.subscribe(TOPICS.index, () => {
      this.refresh().catch((err) => this.log("could not follow the active chunk table", { err: String(err) }));
    });
  }

  /**
   * The refresh in flight (one an announcement started), or nothing: a query that arrives while
   * the announced table and its model are being opened waits for them, as it would after reading
   * the pointer itself, so the first query after a switch is heard uses the new table.
   */
  settled(): Promise<void> {
    return this.refreshing ?? Promise.resolve();
  }

  /**
   * Whether a query must read the pointer before it runs: yes unless switches made by other
   * processes are announced to this one now (PostgreSQL's NOTIFY or poll, connected). On SQLite
   * the CLI or `kb worker` may switch without an announcement reaching this process.
   */
  get mustReadPointer(): boolean {
    return !(this.changes?.crossProcess && this.changes.live);
  }

  /**
   * Polls the pointer (cheap SQLite read) so a switch made by another process is followed; not
   * while the change feed announces switches (it refreshes on each announcement and on a resync).
   */
  watch(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.mustReadPointer) return;
      this.refresh().catch((err) => this.log("could not follow the active chunk table", { err: String(err) }));
    }, intervalMs);
    this.timer.unref();
  }

  /** Updates the model status shown by /readyz. */
  private describe(): void {
    const s = this.serving;
    const e = this.servingEmbedder;
    this.status.embedding = e ? { model: e.modelId, dimension: e.dimension } : null;
    const notes: string[] = this.loadNote ? [this.loadNote] : [];
    const how = "run `kb reembed` (or POST /api/v1/jobs/reembed) to re-embed into a new table without downtime";
    if (s.model && !e) {
      const where = this.models.isRemoteId(s.model)
        ? "its model server is not the one configured (KB_EMBED_URL, KB_EMBED_REMOTE_MODEL) or did not answer when the index was opened"
        : `that model is not available in ${this.models.modelsDir}`;
      notes.push(`the index holds vectors of ${s.model} (${s.dimension}d) but ${where}: lexical-only`);
    }
    if (this.wantedModel && this.wantedModel !== s.model) {
      notes.push(
        s.model
          ? `the index holds vectors of ${s.model} (${s.dimension}d), not of ${this.wantedModel}; ${how}${e ? ` (queries keep using ${s.model} meanwhile)` : ""}`
          : `the index was built without vectors; running lexical-only until it is re-embedded with ${this.wantedModel}: ${how}`,
      );
    }
    if (notes.length) this.status.embeddingNote = notes.join("; ");
    else delete this.status.embeddingNote;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
    for (const p of this.tables.values()) (await p.catch(() => null))?.close();
    this.tables.clear();
    this.store.close();
  }
}
