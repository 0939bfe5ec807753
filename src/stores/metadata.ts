/**
 * The metadata store as a second database (PostgreSQL) would implement it: every repository
 * method returns a Promise, and a unit of work that must commit as one goes through
 * `withTransaction`. Services depend on these interfaces, never on a driver, so a new store
 * is a new implementation of this file, not a rewrite of the services.
 * SQLite implements them first (sqlite/metadata-store.ts). Repositories not listed here are
 * still the synchronous SQLite classes (docs/architecture.md, "Metadata store interfaces").
 */
import type { Access } from "./access.ts";

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

export interface UserRow {
  id: string;
  name: string;
  role: string;
  clearance: number;
  disabled: boolean;
  /** `local`, or the directory source (`oidc:<id>`, `ldap:<id>`, `scim:<id>`) that manages the account. */
  source: string;
  /** The account's stable id in its source (null for local accounts). */
  externalId: string | null;
  displayName: string | null;
  email: string | null;
  createdAt: string;
  /** "service": an integration's account (API tokens only, never a sign-in). */
  kind: "person" | "service";
}

export interface NewUser {
  id: string;
  name: string;
  role?: string;
  clearance?: number;
  disabled?: boolean;
  source?: string;
  externalId?: string | null;
  displayName?: string | null;
  email?: string | null;
  kind?: "person" | "service";
}

export interface GroupRow {
  name: string;
  description: string | null;
  /** `local`, or the directory source that manages the group. */
  source: string;
  externalId: string | null;
  displayName: string | null;
}

/** Who wrote a membership row: `manual` (an admin) or a directory source id. */
export type MembershipOrigin = string;
export const MANUAL_ORIGIN = "manual";

/** An API token's row: its SHA-256, never the token itself. */
export interface TokenRow {
  id: string;
  userId: string;
  tokenHash: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** Scope names (policies/scopes.ts); null: everything the user's role allows. */
  scopes: string[] | null;
  /** The token's own requests per minute; null: the server's limit. */
  rateLimitPerMinute: number | null;
}

export interface NewToken {
  id: string;
  userId: string;
  tokenHash: string;
  name?: string | null;
  expiresAt?: string | null;
  scopes?: string[] | null;
  rateLimitPerMinute?: number | null;
}

/** Users, groups, nested memberships and API tokens. */
export interface UsersStore {
  byName(name: string): Promise<UserRow | undefined>;
  byId(id: string): Promise<UserRow | undefined>;
  /** By name. */
  list(): Promise<UserRow[]>;
  insert(row: NewUser): Promise<void>;
  update(id: string, values: Partial<Pick<UserRow, "role" | "clearance" | "disabled" | "displayName" | "email">>): Promise<void>;
  delete(id: string): Promise<void>;
  /** A directory account by its source and stable id there. */
  byExternal(source: string, externalId: string): Promise<UserRow | undefined>;
  /** The accounts a source manages, by name. */
  bySource(source: string): Promise<UserRow[]>;
  groupExists(name: string): Promise<boolean>;
  group(name: string): Promise<GroupRow | undefined>;
  listGroups(): Promise<GroupRow[]>;
  groupByExternal(source: string, externalId: string): Promise<GroupRow | undefined>;
  groupsBySource(source: string): Promise<GroupRow[]>;
  /** Does nothing when the group exists. */
  insertGroup(name: string, description?: string, directory?: { source: string; externalId: string; displayName?: string | null }): Promise<void>;
  setGroupDisplayName(name: string, displayName: string | null): Promise<void>;
  /** Removes the group, its memberships in other groups and its members (atomically). */
  deleteGroup(name: string): Promise<void>;
  /** Adds a membership row written by `origin` (default: manual); nothing when it exists. */
  addMember(group: string, kind: "user" | "group", name: string, origin?: MembershipOrigin): Promise<void>;
  /** Removes the membership row written by `origin`, or every row of that membership when no origin is given. */
  removeMember(group: string, kind: "user" | "group", name: string, origin?: MembershipOrigin): Promise<void>;
  /** Groups a user belongs to, directly or through nested groups (cycles tolerated), by name. */
  expandedGroups(userName: string): Promise<string[]>;
  directGroups(userName: string): Promise<string[]>;
  /** Direct members of a group (each once, whoever wrote it). */
  members(group: string): Promise<{ kind: "user" | "group"; name: string }[]>;
  /** Direct membership rows of a group with who wrote each (a membership may have several origins). */
  memberRows(group: string): Promise<{ kind: "user" | "group"; name: string; origin: MembershipOrigin }[]>;
  /** The groups whose rows written by `origin` name this member. */
  groupsOfMemberFrom(origin: MembershipOrigin, kind: "user" | "group", name: string): Promise<string[]>;
  /** Revokes every live token of a user; how many. */
  revokeTokensOf(userId: string, at: string): Promise<number>;
  /** Groups that `group` belongs to, directly or through nesting (not itself unless in a cycle). */
  groupAncestors(group: string): Promise<string[]>;
  /** Each group of the user → the shortest chain of groups through which the user is in it. */
  membershipPaths(userName: string): Promise<Record<string, string[]>>;
  insertToken(row: NewToken): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRow | undefined>;
  tokenById(id: string): Promise<TokenRow | undefined>;
  /** A user's tokens, oldest first. */
  tokensOf(userId: string): Promise<TokenRow[]>;
  /** Every token, oldest first. */
  allTokens(): Promise<TokenRow[]>;
  /** False when the token does not exist or is revoked already. */
  revokeToken(id: string, at: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;
  /** Sets lastUsedAt when it is unset or older than `staleBefore`; true when it did (at most one write per interval). */
  touchTokenIfStale(id: string, at: string, staleBefore: string): Promise<boolean>;
  setTokenExpiry(id: string, expiresAt: string | null): Promise<boolean>;
  /**
   * Renames a user or group in the directory tables: the row, memberships naming it (a row that
   * would duplicate one under the new name is dropped) and, for a user, jobs it created. The
   * one-time name canonicalization (services/principal-migration.ts) calls it in its transaction.
   */
  renamePrincipal(kind: "user" | "group", from: string, to: string): Promise<void>;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: "ok" | "denied" | "error" | "warning";
  details: Record<string, unknown> | null;
}

export interface NewAuditEvent {
  actor?: string | null;
  action: string;
  target?: string | null;
  outcome?: "ok" | "denied" | "error" | "warning";
  details?: Record<string, unknown> | null;
}

export interface AuditQuery {
  actor?: string;
  /** An exact action, or a prefix ending in "." or "*" ("document." / "admin.*"). */
  action?: string;
  target?: string;
  outcome?: "ok" | "denied" | "error" | "warning";
  since?: string;
  until?: string;
  limit?: number;
  /** Return rows with id < before (paging backwards from newest). */
  before?: number;
}

/** A stored audit row with its chain hash (null: written before the chain existed, not yet sealed). */
export interface AuditChainRow extends AuditRow {
  hash: string | null;
}

/** The last row a retention purge removed: the first remaining row chains to its hash. */
export interface AuditChainAnchor {
  id: number;
  hash: string;
}

/**
 * The append-only audit log, hash-chained (stores/audit-chain.ts: the canonical form every store
 * must use). Appends are serialised by the store (one write transaction each), so the chain never
 * forks, whatever the number of processes appending.
 */
export interface AuditStore {
  /** Appends and chains one event; the stored row with its hash. */
  append(event: NewAuditEvent): Promise<AuditChainRow & { hash: string }>;
  /** Newest first (at most 10,000 rows, default 100). */
  query(q: AuditQuery): Promise<AuditRow[]>;
  /**
   * Retention: drops the oldest rows up to the last one older than `before` (ISO time), and
   * records the last dropped row as the chain's anchor; returns how many.
   */
  purgeBefore(before: string): Promise<number>;
  /** Rows after `afterId`, oldest first, with their hashes (verification). */
  chain(afterId: number, limit: number): Promise<AuditChainRow[]>;
  chainAnchor(): Promise<AuditChainAnchor | null>;
  /** Chains rows written before the chain existed (hash null, after the last hashed row); how many. */
  sealUnhashed(): Promise<number>;
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
  /** How the user signed in. */
  method: "password" | "oidc" | (string & {});
  /** OpenID Connect: the provider's id, the OP's session id (`sid`) and the ID token (for `id_token_hint`). */
  provider: string | null;
  opSid: string | null;
  idToken: string | null;
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
  /** Revokes the sessions of an OpenID provider that match the OP's session id and/or a user (back-channel logout); how many. */
  revokeOidc(provider: string, match: { opSid?: string; userId?: string }, at: string): Promise<number>;
  /** Removes ended sessions (expired, revoked, idle since before `idleBefore`). */
  purgeEnded(now: string, idleBefore: string): Promise<number>;
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

export type DocumentStatus = "processing" | "ready" | "failed";

/** A document's metadata row (one per document; its live version's facts). */
export interface DocumentRow {
  id: string;
  /** Where the document came from: an absolute path, or an upload name. Shown to users; not unique. */
  source: string;
  /** What names it for future ingestion without its id (`DocumentIdentity`); null: nothing does any more. */
  identityScope: string | null;
  identityKey: string | null;
  title: string;
  mime: string | null;
  contentHash: string | null;
  /** The live version; 0: none yet. */
  version: number;
  status: DocumentStatus;
  owner: string | null;
  aclAllow: string[];
  aclDeny: string[];
  /** Principals granted management besides the owner. */
  aclManage: string[];
  classification: number;
  tags: string[];
  pageCount: number;
  chunkCount: number;
  sizeBytes: number;
  /** The stored original (for reindexing and previews). */
  blobPath: string | null;
  /** The source file's mtime when last ingested or checked (a sync skips hashing when it and the size are unchanged). */
  sourceMtimeMs: number | null;
  /** The personal-data detector version that wrote the live version's index terms and spans. */
  sensitiveVersion: number;
  error: string | null;
  /** When the live version's content was written (ISO); null before the first version. */
  versionAt: string | null;
  createdAt: string;
  updatedAt: string;
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

type RequiredDocumentFields = "id" | "source" | "title" | "status" | "aclAllow" | "aclDeny";
/** A new document row: the required fields, the rest take the store's defaults. */
export type NewDocumentRow = Pick<DocumentRow, RequiredDocumentFields> & Partial<Omit<DocumentRow, RequiredDocumentFields>>;

/** What names a document for future ingestion without its id (see the schema's identityScope). */
export interface DocumentIdentity {
  scope: string;
  key: string;
}

/** Uploads and `kb ingest` name documents inside their owner's scope (the operator: `system`). */
export const ownerScope = (owner: string | null) => `owner:${owner ?? "system"}`;
/** A folder sync names its documents by their path relative to its root. */
export const syncScope = (root: string) => `sync:${root}`;

/** A document's access triple: what the read rule decides on and what its chunk rows carry. */
export const accessOfRow = (d: DocumentRow): Access => ({ allow: d.aclAllow, deny: d.aclDeny, classification: d.classification });

/** The access triple plus who manages the document: what the document policy decides on. */
export const subjectOfRow = (d: DocumentRow) => ({ ...accessOfRow(d), owner: d.owner, managers: d.aclManage });

/** Document metadata and the extracted text of each live document's pages. */
export interface DocumentStore {
  byId(id: string): Promise<DocumentRow | undefined>;
  /** One document with this source (sources are not unique: prefer `withSource` outside tests). */
  bySource(source: string): Promise<DocumentRow | undefined>;
  /** Every document with this source, oldest first. */
  withSource(source: string): Promise<DocumentRow[]>;
  byIdentity(identity: DocumentIdentity): Promise<DocumentRow | undefined>;
  /** Every document named in a scope (a sync root's documents). */
  inScope(scope: string): Promise<DocumentRow[]>;
  /** No name leads to the document any more; it stays as it is otherwise. */
  detachIdentity(id: string): Promise<void>;
  /** Every document (ordered by source); callers filter by access with the document policy. */
  all(): Promise<DocumentRow[]>;
  /** Ready documents whose index was written by a personal-data detector older than `version`. */
  countIndexedBeforeSensitiveVersion(version: number): Promise<number>;
  /** Those of `ids` whose index was written by a personal-data detector older than `version`. */
  indexedBeforeSensitiveVersion(ids: readonly string[], version: number): Promise<Set<string>>;
  count(): Promise<number>;
  insert(row: NewDocumentRow): Promise<void>;
  update(id: string, values: Partial<NewDocumentRow>): Promise<void>;
  /** Marks a new version live and stores its page texts, atomically. False when the document no longer exists. */
  commitVersion(id: string, values: Partial<NewDocumentRow>, pages: { page: number; text: string }[]): Promise<boolean>;
  /** Documents created for a job but never given a version (status processing, version 0). */
  unversioned(): Promise<DocumentRow[]>;
  delete(id: string): Promise<void>;
  pages(id: string): Promise<{ page: number; text: string }[]>;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "partial" | "cancelled";
export type JobFileStatus = "queued" | "running" | "succeeded" | "unchanged" | "failed" | "cancelled";
/** ingest (read, hash, write a version) | delete (the file disappeared: a sync) | reindex | reembed (copy into a shadow table). */
export type JobFileAction = "ingest" | "delete" | "reindex" | "reembed";

/** A job. Its kind is free text (services/jobs/kinds.ts lists them): a new kind needs no schema change. */
export interface JobRow {
  id: string;
  kind: string;
  status: JobStatus;
  createdBy: string | null;
  params: Record<string, unknown>;
  total: number;
  done: number;
  /** The worker holding the job and its last sign of life, so a dead worker's job can be resumed. */
  workerId: string | null;
  heartbeatAt: string | null;
  /** What a multi-phase job is doing now (planning, copying, catching up, switching…). */
  phase: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** One file (or document) of a job, with its outcome. */
export interface JobFileRow {
  jobId: string;
  ordinal: number;
  source: string;
  /** Where the bytes are: a blob path for uploads, the file path for local ingestion. */
  path: string;
  documentId: string | null;
  status: JobFileStatus;
  action: JobFileAction;
  errorCode: string | null;
  error: string | null;
  options: Record<string, unknown>;
  finishedAt: string | null;
}

/** A file row as callers describe it; status defaults to queued. */
export type NewJobFile = Pick<JobFileRow, "ordinal" | "source" | "path"> &
  Partial<Pick<JobFileRow, "options" | "action" | "documentId" | "status" | "errorCode" | "error">>;
export type JobFileUpdate = Partial<Pick<JobFileRow, "status" | "documentId" | "errorCode" | "error">>;

/**
 * Options of a job file that are secrets (an encrypted PDF's password): needed until the file is
 * read, kept no longer. Each store drops them from a file's row when the file reaches a terminal
 * status (in the same statement), and from all of a job's files when the job finishes, so a
 * finished job's rows, a backup taken after it and a restored copy hold none.
 */
export const FILE_OPTION_SECRETS = ["password"] as const;

/** `options` without its secrets (a file row written already terminal). */
export function withoutFileSecrets(options: Record<string, unknown>): Record<string, unknown> {
  const out = { ...options };
  for (const k of FILE_OPTION_SECRETS) delete out[k];
  return out;
}

/** Queued or running jobs of one kind (metrics: queue depth and age). */
export interface JobQueueStat {
  kind: string;
  status: "queued" | "running";
  count: number;
  /** The oldest such job's creation time (ISO). */
  oldestCreatedAt: string;
}

/**
 * The persisted job queue. Workers claim jobs atomically (`claim`, `claimJob`: the check and the
 * take are one write transaction, so two processes never take the same job); a job whose worker
 * stopped sending heartbeats (or whose worker process is known dead) can be claimed again and
 * resumes from its per-file records.
 */
export interface JobStore {
  create(job: { id: string; kind: string; createdBy: string | null; params?: Record<string, unknown> }, files?: NewJobFile[]): Promise<void>;
  /** Adds file rows (a planning step) and updates the totals; rows already terminal count as done. */
  addFiles(jobId: string, files: NewJobFile[]): Promise<void>;
  byId(id: string): Promise<JobRow | undefined>;
  files(jobId: string): Promise<JobFileRow[]>;
  /** Newest first, optionally filtered. */
  list(filter?: { limit?: number; offset?: number; status?: JobStatus[]; kind?: string[]; createdBy?: string }): Promise<JobRow[]>;
  /** Claims the oldest queued job (of `kinds`), or a running one whose worker has been silent for `staleMs`; its id. */
  claim(workerId: string, staleMs: number, kinds?: string[]): Promise<string | undefined>;
  /** Claims one specific job if it is queued or abandoned. */
  claimJob(jobId: string, workerId: string, staleMs: number): Promise<boolean>;
  /** False when the job is no longer this worker's (cancelled, finished, or taken over). */
  heartbeat(jobId: string, workerId: string): Promise<boolean>;
  /** True while `workerId` holds the job. */
  holds(jobId: string, workerId: string): Promise<boolean>;
  /** Files still to do: queued, or running when the previous worker died. */
  pendingFiles(jobId: string): Promise<JobFileRow[]>;
  setFile(jobId: string, ordinal: number, values: JobFileUpdate): Promise<void>;
  /** Updates several files atomically, keeping the job's done count. */
  setFiles(jobId: string, updates: (JobFileUpdate & { ordinal: number })[]): Promise<void>;
  setPhase(jobId: string, phase: string | null): Promise<void>;
  /** Merges values into the job's params (planning results a resumed run must reuse). */
  mergeParams(jobId: string, values: Record<string, unknown>): Promise<void>;
  /** Sets the final status, unless the job was cancelled meanwhile. */
  finish(jobId: string, status: JobStatus, error?: string): Promise<void>;
  /** Cancels a queued or running job (its queued files too); false when it was not active. */
  cancel(jobId: string): Promise<boolean>;
  cancelQueuedFiles(jobId: string): Promise<void>;
  /** Queued and running files → cancelled (by the worker that was running them, once it stopped). */
  cancelUnfinishedFiles(jobId: string): Promise<void>;
  /** Gives a running job back to the queue (a worker shutting down cleanly). */
  release(jobId: string, workerId: string): Promise<void>;
  /** Files of finished (cancelled/failed) jobs still marked running: their worker died mid-file. */
  interruptedFiles(): Promise<JobFileRow[]>;
  /** Documents named by unfinished files of queued or running jobs (they will be written). */
  documentsInActiveJobs(): Promise<Set<string>>;
  /** An active job of `kind` whose params `match` (a schedule does not pile up syncs). */
  activeJobWith(kind: string, match: (params: Record<string, unknown>) => boolean): Promise<JobRow | undefined>;
  /** Files finished since `sinceIso` (for throughput). */
  finishedSince(jobId: string, sinceIso: string): Promise<number>;
  /** Queued and running jobs per kind and status, with the oldest one's creation time (metrics). */
  queueStats(): Promise<JobQueueStat[]>;
  /** File counts per status. */
  counts(jobId: string): Promise<Record<string, number>>;
  /** Job counts per status, all jobs. */
  countByStatus(): Promise<Partial<Record<JobStatus, number>>>;
  /** True when some worker (not a `kb` command running its own job) has shown life within `withinMs`. */
  anyLiveWorker(withinMs: number): Promise<boolean>;
  workerAlive(id: string, pid: number, host: string): Promise<void>;
  workerGone(id: string): Promise<void>;
  /** Removes this host's workers whose process `isDead`, making their running jobs claimable at once; their ids. */
  reapDeadWorkers(host: string, isDead: (pid: number, id: string) => boolean): Promise<string[]>;
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

/** A SCIM client's bearer token (its SHA-256, never the token), for one directory source. */
export interface ScimTokenRow {
  id: string;
  /** The directory source it provisions into (`scim:<id>`). */
  source: string;
  tokenHash: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** SCIM clients' tokens (their own kind: never user API tokens). */
export interface ScimTokenStore {
  insert(row: { id: string; source: string; tokenHash: string; name?: string | null; expiresAt?: string | null }): Promise<void>;
  byHash(hash: string): Promise<ScimTokenRow | undefined>;
  byId(id: string): Promise<ScimTokenRow | undefined>;
  /** Oldest first. */
  list(): Promise<ScimTokenRow[]>;
  /** False when the token does not exist or is revoked already. */
  revoke(id: string, at: string): Promise<boolean>;
  /** Sets lastUsedAt when it is unset or older than `staleBefore`; true when it did. */
  touchIfStale(id: string, at: string, staleBefore: string): Promise<boolean>;
}

export type ScimResourceType = "User" | "Group";

/** A provisioned user or group as the SCIM client sent it (schema.ts `scim_resources`). */
export interface ScimResourceRow {
  source: string;
  /** The SCIM id (a UUID assigned here; also the directory's stable id). */
  id: string;
  resourceType: ScimResourceType;
  /** The directory principal's name. */
  principal: string;
  /** userName / displayName lower-cased (unique per source and type). */
  nameKey: string;
  /** The client's externalId. */
  externalId: string | null;
  attributes: Record<string, unknown>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** What SCIM clients sent about the users and groups they provision. */
/**
 * Whether `err`, thrown by a store's insert or update, is a broken unique key (a name another
 * process took meanwhile): SQLite's SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, PostgreSQL's SQLSTATE
 * 23505, on the error or the driver error drizzle wraps in it (`cause`).
 */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505") return true;
  }
  return false;
}

export interface ScimResourceStore {
  get(source: string, type: ScimResourceType, id: string): Promise<ScimResourceRow | undefined>;
  byNameKey(source: string, type: ScimResourceType, nameKey: string): Promise<ScimResourceRow | undefined>;
  byExternalId(source: string, type: ScimResourceType, externalId: string): Promise<ScimResourceRow[]>;
  /** Every resource of a type, oldest first (a stable order for paging). */
  list(source: string, type: ScimResourceType): Promise<ScimResourceRow[]>;
  insert(row: Pick<ScimResourceRow, "source" | "id" | "resourceType" | "principal" | "nameKey" | "externalId" | "attributes">): Promise<void>;
  /** Replaces the attributes and bumps the version; false when the resource does not exist. */
  update(source: string, id: string, values: Pick<ScimResourceRow, "nameKey" | "externalId" | "attributes">): Promise<boolean>;
  delete(source: string, id: string): Promise<boolean>;
}

/** The repositories one transaction sees (all on the transaction's connection). */
/**
 * Per-topic change versions: the polling side of the change feed (change-feed.ts). `bump` runs
 * in the caller's transaction when there is one, so the version moves exactly when the change
 * it announces commits.
 */
export interface ChangesStore {
  /** Adds one to the topic's version (absent = 0) and stores the payload; the new version. */
  bump(topic: string, payload: unknown): Promise<number>;
  /** Every topic's version and its last payload. */
  versions(): Promise<{ topic: string; version: number; payload: unknown }[]>;
  /** One topic's version (0 when never announced). */
  version(topic: string): Promise<number>;
}

/**
 * Rate-limit counters shared by every process on the store (a sliding window of one minute):
 * `hit` is one atomic upsert, so N replicas together allow the limit, not N times it.
 */
export interface RateLimitStore {
  /**
   * One request against `key`: with `minute` the current minute (minutes since the epoch) and
   * `weight` the share of the previous minute still inside the window (1 - elapsed fraction of
   * this minute), the request is allowed (and counted) when prevCount × weight + count + 1 ≤
   * `limit`. Returns whether it was, and the counts after it.
   */
  hit(key: string, minute: number, weight: number, limit: number): Promise<{ allowed: boolean; count: number; prevCount: number }>;
  /** Removes counters last used before `minute`; how many. */
  purgeBefore(minute: number): Promise<number>;
}

export interface MetadataRepositories {
  readonly conversations: ConversationStore;
  readonly sensitive: SensitiveStore;
  readonly users: UsersStore;
  readonly audit: AuditStore;
  readonly credentials: CredentialStore;
  readonly sessions: SessionStore;
  readonly settings: SettingsStore;
  readonly erasure: ErasureStore;
  readonly documents: DocumentStore;
  readonly jobs: JobStore;
  readonly feedback: FeedbackStore;
  readonly scimTokens: ScimTokenStore;
  readonly scimResources: ScimResourceStore;
  readonly changes: ChangesStore;
  readonly rateLimits: RateLimitStore;
}

export interface MetadataStore extends MetadataRepositories {
  /**
   * Runs `fn` as one transaction: committed when its promise resolves, rolled back when it
   * rejects. `fn` must do only metadata work through `tx` (no LanceDB, files or network): a
   * transaction holds the database's write lock, which other processes wait on.
   */
  withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` once the transaction of the caller's async context commits (never when it rolls
   * back); at once outside a transaction. The change feed's local delivery uses it.
   */
  afterCommit(fn: () => void): void;
}
