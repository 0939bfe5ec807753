/**
 * The metadata store as a second database (PostgreSQL) would implement it: every repository
 * method returns a Promise, and a unit of work that must commit as one goes through
 * `withTransaction`. Services depend on these interfaces, never on a driver, so a new store
 * is a new implementation of this file, not a rewrite of the services.
 * SQLite implements them first (sqlite/metadata-store.ts). Repositories not listed here are
 * still the synchronous SQLite classes (docs/architecture.md, "Metadata store interfaces").
 */
export interface ConversationRow {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationMessageRow {
  id: number;
  role: "user" | "assistant";
  content: string;
  retrievalQuery: string | null;
  citations: unknown[] | null;
  createdAt: string;
}

export interface NewConversationMessage {
  role: "user" | "assistant";
  content: string;
  retrievalQuery?: string | null;
  citations?: unknown[] | null;
}

/** Conversations and their messages; every call names the owner (an id alone finds nothing). */
export interface ConversationStore {
  create(ownerId: string, title: string, id?: string): Promise<ConversationRow>;
  get(ownerId: string, id: string): Promise<ConversationRow | undefined>;
  /** Newest activity first. */
  list(ownerId: string, limit: number, offset: number): Promise<{ items: (ConversationRow & { messages: number })[]; total: number }>;
  /** Messages oldest first; the last `limit` when given. */
  messages(ownerId: string, id: string, limit?: number): Promise<ConversationMessageRow[]>;
  /** Appends messages atomically and touches the conversation; false when it is not the owner's. */
  append(ownerId: string, id: string, messages: NewConversationMessage[]): Promise<boolean>;
  delete(ownerId: string, id: string): Promise<boolean>;
  /** Removes every conversation of an owner; returns how many. */
  deleteAllOf(ownerId: string): Promise<number>;
}

export type SensitiveKindName = "rrn" | "card" | "phone" | "account" | "email";

export interface SensitiveSpanRow {
  documentId: string;
  chunkId: string;
  kind: SensitiveKindName;
  start: number;
  end: number;
}

/** Recorded personal-data spans per chunk. */
export interface SensitiveStore {
  /** Makes `rows` the only recorded spans of the document (atomically). */
  replaceDocument(documentId: string, rows: Omit<SensitiveSpanRow, "documentId">[]): Promise<void>;
  spansOfChunks(chunkIds: string[]): Promise<SensitiveSpanRow[]>;
  /** Counts per kind for one document. */
  countsOf(documentId: string): Promise<Record<string, number>>;
  /** Counts per document and kind, for documents with any (optionally one kind). */
  report(kind?: SensitiveKindName): Promise<{ documentId: string; kind: SensitiveKindName; n: number }[]>;
}

/**
 * Small shared state (JSON values by key). Every process reads it fresh, so a change made by
 * one process (`kb worker` switching the active chunk table) is seen by the others (`kb serve`).
 */
export interface SettingsStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  /** Sets the key only when it is absent; returns the value now stored. */
  setIfAbsent<T>(key: string, value: T): Promise<T>;
  delete(key: string): Promise<void>;
  /** Adds `by` to a numeric value (absent = 0) and returns the new value. */
  increment(key: string, by?: number): Promise<number>;
  /** Keys with a prefix and their values. */
  withPrefix<T>(prefix: string): Promise<Map<string, T>>;
}

/**
 * What erasing a document asks of the metadata store besides its own rows: quotes of it in
 * conversations, names of it in audit details and job records, whether another document still
 * needs its original, and pushing freed pages out of the store's log.
 */
export interface ErasureStore {
  /** True when some document's live version still names this original, or an unfinished job file will read it. */
  blobInUse(blobPath: string): Promise<boolean>;
  /** Replaces what conversations, audit details and job file records said of the document (in the caller's transaction). */
  scrubReferences(documentId: string): Promise<void>;
  /** Makes freed pages leave the store's files (SQLite: the WAL is checkpointed and truncated). */
  checkpoint(): Promise<void>;
}

/** The repositories one transaction sees (all on the transaction's connection). */
export interface MetadataRepositories {
  readonly conversations: ConversationStore;
  readonly sensitive: SensitiveStore;
  readonly settings: SettingsStore;
  readonly erasure: ErasureStore;
}

export interface MetadataStore extends MetadataRepositories {
  /**
   * Runs `fn` as one transaction: committed when its promise resolves, rolled back when it
   * rejects. `fn` must do only metadata work through `tx` (no LanceDB, files or network): a
   * transaction holds the database's write lock, which other processes wait on.
   */
  withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T>;
}
