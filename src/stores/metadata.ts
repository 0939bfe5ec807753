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

/** A user's local password (argon2id, encoded) and the account's lock-out state. */
export interface CredentialRow {
  userId: string;
  passwordHash: string;
  updatedAt: string;
  failedCount: number;
  lockedUntil: string | null;
}

/** Local passwords, one per user at most. */
export interface CredentialStore {
  get(userId: string): Promise<CredentialRow | undefined>;
  /** Sets the hash and clears failures and lock. */
  set(userId: string, passwordHash: string, at: string): Promise<void>;
  /** Counts a failed sign-in; the `lockAfter`-th in a row sets `lockedUntil` (and restarts the count). */
  recordFailure(userId: string, lockAfter: number, lockedUntil: string): Promise<CredentialRow | undefined>;
  clearFailures(userId: string): Promise<void>;
}

export interface SessionRow {
  id: string;
  userId: string;
  /** SHA-256 of the session token (the token itself is only in the browser's cookie). */
  tokenHash: string;
  createdAt: string;
  lastSeenAt: string;
  /** Absolute expiry. */
  expiresAt: string;
  revokedAt: string | null;
  client: string | null;
  userAgent: string | null;
}

/** Web sessions (cookie sign-in). */
export interface SessionStore {
  insert(row: SessionRow): Promise<void>;
  byTokenHash(tokenHash: string): Promise<SessionRow | undefined>;
  byId(id: string): Promise<SessionRow | undefined>;
  touch(id: string, at: string): Promise<void>;
  revoke(id: string, at: string): Promise<boolean>;
  revokeAllOf(userId: string, at: string): Promise<number>;
  /** Not revoked and before their absolute expiry (idle ones included), oldest first. */
  liveOf(userId: string, now: string): Promise<SessionRow[]>;
  /** Removes ended sessions (expired, revoked, idle since before `idleBefore`). */
  purgeEnded(now: string, idleBefore: string): Promise<number>;
}

/** The repositories one transaction sees (all on the transaction's connection). */
export interface MetadataRepositories {
  readonly conversations: ConversationStore;
  readonly sensitive: SensitiveStore;
  readonly credentials: CredentialStore;
  readonly sessions: SessionStore;
}

export interface MetadataStore extends MetadataRepositories {
  /**
   * Runs `fn` as one transaction: committed when its promise resolves, rolled back when it
   * rejects. `fn` must do only metadata work through `tx` (no LanceDB, files or network): a
   * transaction holds the database's write lock, which other processes wait on.
   */
  withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T>;
}
