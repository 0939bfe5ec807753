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
  /** Newest activity first; `q` keeps those whose title or any message contains it (case-insensitive for ASCII). */
  list(ownerId: string, limit: number, offset: number, q?: string): Promise<{ items: (ConversationRow & { messages: number })[]; total: number }>;
  /** Messages oldest first; the last `limit` when given. */
  messages(ownerId: string, id: string, limit?: number): Promise<ConversationMessageRow[]>;
  /** Appends messages atomically and touches the conversation; their ids in order, or null when it is not the owner's. */
  append(ownerId: string, id: string, messages: NewConversationMessage[]): Promise<number[] | null>;
  /** One message of an owner's conversation, with the conversation id; undefined when it is not the owner's. */
  message(ownerId: string, messageId: number): Promise<(ConversationMessageRow & { conversationId: string }) | undefined>;
  /** The message before `messageId` in its conversation (the question of an answer). */
  previousMessage(ownerId: string, messageId: number): Promise<ConversationMessageRow | undefined>;
  rename(ownerId: string, id: string, title: string): Promise<ConversationRow | undefined>;
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

export type FeedbackRating = "up" | "down";

export interface FeedbackSourceRef {
  n: number;
  documentId: string;
  page: number;
}

export interface FeedbackRow {
  id: string;
  userId: string;
  userName: string;
  conversationId: string;
  messageId: number;
  rating: FeedbackRating;
  comment: string | null;
  question: string;
  answer: string;
  sources: FeedbackSourceRef[];
  reviewedAt: string | null;
  reviewedBy: string | null;
  expectedDocumentIds: string[] | null;
  expectedAnswer: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewFeedback {
  userId: string;
  userName: string;
  conversationId: string;
  messageId: number;
  rating: FeedbackRating;
  comment: string | null;
  question: string;
  answer: string;
  sources: FeedbackSourceRef[];
}

export interface FeedbackQuery {
  rating?: FeedbackRating;
  reviewed?: boolean;
  limit: number;
  offset: number;
}

/** Feedback on answers, one row per user and answer. */
export interface FeedbackStore {
  /** Inserts, or replaces the user's earlier feedback on the same answer (every field; the review is reset). */
  upsert(row: NewFeedback): Promise<{ row: FeedbackRow; created: boolean }>;
  byId(id: string): Promise<FeedbackRow | undefined>;
  /** The user's own feedback on these messages. */
  ofMessages(userId: string, messageIds: number[]): Promise<FeedbackRow[]>;
  /** Negative first, then most recently updated. */
  list(q: FeedbackQuery): Promise<{ items: FeedbackRow[]; total: number }>;
  review(id: string, review: { reviewedBy: string; expectedDocumentIds: string[]; expectedAnswer: string | null }): Promise<FeedbackRow | undefined>;
  /** Reviewed rows in id order, a page after `afterId`. */
  reviewed(afterId: string | null, limit: number): Promise<FeedbackRow[]>;
  deleteAllOf(userId: string): Promise<number>;
}

/** The repositories one transaction sees (all on the transaction's connection). */
export interface MetadataRepositories {
  readonly conversations: ConversationStore;
  readonly sensitive: SensitiveStore;
  readonly credentials: CredentialStore;
  readonly sessions: SessionStore;
  readonly feedback: FeedbackStore;
}

export interface MetadataStore extends MetadataRepositories {
  /**
   * Runs `fn` as one transaction: committed when its promise resolves, rolled back when it
   * rejects. `fn` must do only metadata work through `tx` (no LanceDB, files or network): a
   * transaction holds the database's write lock, which other processes wait on.
   */
  withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T>;
}
