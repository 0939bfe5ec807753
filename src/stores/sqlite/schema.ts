/**
 * The metadata schema for SQLite (the default store). SQL migrations in /drizzle/sqlite are
 * generated from this file with `npm run db:generate:sqlite` and applied at start. PostgreSQL's
 * module (../pg/schema.ts) defines the same tables; test/store-schemas.test.ts keeps them equal.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull().unique(),
    role: text("role").notNull().default("viewer"),
    /** Highest classification level the user may read (see policies/classification.ts). */
    clearance: integer("clearance").notNull().default(1),
    disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
    /**
     * Where the account comes from: `local` (an admin created it) or a directory source
     * (`oidc:<id>`, `ldap:<id>`, `scim:<id>`), which keys it by `external_id`, its stable id
     * there. A directory account's name is `<id>~<key>` (policies/principal-format.ts).
     */
    source: text("source").notNull().default("local"),
    externalId: text("external_id"),
    /** For screens and `explain` only; never part of an access decision. */
    displayName: text("display_name"),
    email: text("email"),
    createdAt: text("created_at").notNull().default(now),
    /** 'person', or 'service': an integration's account, which never signs in (password or SSO), only uses API tokens. */
    kind: text("kind", { enum: ["person", "service"] }).notNull().default("person"),
  },
  (t) => [uniqueIndex("users_external").on(t.source, t.externalId)],
);

export const groups = sqliteTable(
  "groups",
  {
    name: text("name").primaryKey(),
    description: text("description"),
    /** As for users: `local` or the directory source that manages the group. */
    source: text("source").notNull().default("local"),
    externalId: text("external_id"),
    displayName: text("display_name"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [uniqueIndex("groups_external").on(t.source, t.externalId)],
);

/**
 * A member of a group is a user or another group (nested groups). `origin` says who wrote the
 * row: `manual` (an admin; a manual override when the group is directory-managed, never touched
 * by a sync) or the directory source whose sync, sign-in or provisioning replaces it. The same
 * membership may exist under both origins; expansion reads every row.
 */
export const groupMembers = sqliteTable(
  "group_members",
  {
    groupName: text("group_name")
      .notNull()
      .references(() => groups.name, { onDelete: "cascade" }),
    memberKind: text("member_kind", { enum: ["user", "group"] }).notNull(),
    memberName: text("member_name").notNull(),
    origin: text("origin").notNull().default("manual"),
  },
  (t) => [
    primaryKey({ columns: [t.groupName, t.memberKind, t.memberName, t.origin] }),
    index("group_members_member").on(t.memberKind, t.memberName),
  ],
);

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** SHA-256 of the token; the token itself is never stored. */
    tokenHash: text("token_hash").notNull(),
    name: text("name"),
    createdAt: text("created_at").notNull().default(now),
    expiresAt: text("expires_at"),
    revokedAt: text("revoked_at"),
    lastUsedAt: text("last_used_at"),
    /** JSON array of scope names (policies/scopes.ts); null: everything the user's role allows. */
    scopes: text("scopes", { mode: "json" }).$type<string[]>(),
    /** Requests per minute for this token (its own bucket); null: the server's KB_RATE_LIMIT_PER_MINUTE. */
    rateLimitPerMinute: integer("rate_limit_per_minute"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash)],
);

export const documents = sqliteTable(
  "documents",
  {
    id: text("id").primaryKey(),
    /** Where the document came from: an absolute path, or an upload name. Shown to users; not unique (see identityScope). */
    source: text("source").notNull(),
    /**
     * Which future ingestion updates this document without naming its id: (`owner:<user:x>` or
     * `owner:system`, upload name or ingested path) for uploads and `kb ingest`, (`sync:<root>`,
     * path relative to the root) for folder syncs. A name is only ever looked up inside the
     * caller's own scope, so it can neither reach nor reveal anyone else's document. Null when
     * no name leads to the document any more (its owner lost the right to update it).
     */
    identityScope: text("identity_scope"),
    identityKey: text("identity_key"),
    title: text("title").notNull(),
    mime: text("mime"),
    contentHash: text("content_hash"),
    version: integer("version").notNull().default(0),
    /** processing → ready | failed; deleted documents are removed from the table. */
    status: text("status", { enum: ["processing", "ready", "failed"] }).notNull(),
    owner: text("owner"),
    aclAllow: text("acl_allow", { mode: "json" }).$type<string[]>().notNull(),
    aclDeny: text("acl_deny", { mode: "json" }).$type<string[]>().notNull(),
    /** Principals granted management of the document besides its owner (policies/documents.ts). */
    aclManage: text("acl_manage", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    classification: integer("classification").notNull().default(1),
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    pageCount: integer("page_count").notNull().default(0),
    chunkCount: integer("chunk_count").notNull().default(0),
    sizeBytes: integer("size_bytes").notNull().default(0),
    /** Original bytes, by content hash, under <data>/blobs (for reindexing and previews). */
    blobPath: text("blob_path"),
    /** The source file's mtime when last ingested or checked: a sync skips hashing when it and the size are unchanged. */
    sourceMtimeMs: integer("source_mtime_ms"),
    /**
     * The personal-data detector version (SENSITIVE_DETECTOR_VERSION) that wrote the live
     * version's index terms and spans; 0: written before versions were recorded. Documents
     * below the current version are re-indexed (services/sensitive.ts).
     */
    sensitiveVersion: integer("sensitive_version").notNull().default(0),
    error: text("error"),
    /**
     * When the live version's content was written (ISO, UTC); null before the first version.
     * The chunk rows carry the same value (`version_at`): a search's date scope is on it, not on
     * `updated_at`, which every change (access, mtime, status) moves.
     */
    versionAt: text("version_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("documents_identity").on(t.identityScope, t.identityKey),
    index("documents_source").on(t.source),
    index("documents_status").on(t.status),
  ],
);

/** Extracted page text of the live version, for GET /documents/:id/text and re-chunking. */
export const documentPages = sqliteTable(
  "document_pages",
  {
    documentId: text("document_id")
      .notNull()
      .references(() => documents.id, { onDelete: "cascade" }),
    page: integer("page").notNull(),
    text: text("text").notNull(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.page] })],
);

export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed", "partial", "cancelled"] }).notNull(),
    createdBy: text("created_by"),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    total: integer("total").notNull().default(0),
    done: integer("done").notNull().default(0),
    /** The worker holding the job and its last sign of life, so a dead worker's job can be resumed. */
    workerId: text("worker_id"),
    heartbeatAt: text("heartbeat_at"),
    /** What a multi-phase job is doing now (planning, copying, catching up, switching…), for progress displays. */
    phase: text("phase"),
    error: text("error"),
    createdAt: text("created_at").notNull().default(now),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [index("jobs_status").on(t.status, t.createdAt)],
);

export const jobFiles = sqliteTable(
  "job_files",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    source: text("source").notNull(),
    /** Where the bytes are: a blob path for uploads, the file path for local ingestion. */
    path: text("path").notNull(),
    documentId: text("document_id"),
    status: text("status", { enum: ["queued", "running", "succeeded", "unchanged", "failed", "cancelled"] }).notNull(),
    /** ingest (read, hash, write a version) | delete (the file disappeared: a sync) | reindex | reembed (copy into a shadow table). */
    action: text("action", { enum: ["ingest", "delete", "reindex", "reembed"] }).notNull().default("ingest"),
    errorCode: text("error_code"),
    error: text("error"),
    options: text("options", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    finishedAt: text("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.ordinal] }), index("job_files_status").on(t.jobId, t.status)],
);

/**
 * Small shared state as JSON values: the active chunk table and its model (`index.active`),
 * the previous one for rollback, the index generation bumped by every committed index change,
 * schedule bookkeeping. Every process reads it, so a switch made by `kb worker` reaches `kb serve`.
 */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).$type<unknown>().notNull(),
  updatedAt: text("updated_at").notNull().default(now),
});

/**
 * Personal data found in chunks at ingestion (src/domain/sensitive): one row per span, keyed by
 * chunk id, for per-document reports. Output masking re-runs the same detector, so a missing
 * row never means an unmasked value.
 */
export const sensitiveSpans = sqliteTable(
  "sensitive_spans",
  {
    documentId: text("document_id")
      .notNull()
      .references(() => documents.id, { onDelete: "cascade" }),
    chunkId: text("chunk_id").notNull(),
    kind: text("kind", { enum: ["rrn", "card", "phone", "account", "email"] }).notNull(),
    start: integer("start").notNull(),
    end: integer("end").notNull(),
  },
  (t) => [primaryKey({ columns: [t.chunkId, t.start] }), index("sensitive_spans_document").on(t.documentId, t.kind)],
);

/**
 * Append-only: rows are inserted, never updated (but for an erasure's scrub of a deleted
 * document's names, which keeps the chain: stores/audit-chain.ts); retention deletes the
 * oldest rows. `hash` chains each row to the one before (stores/audit-chain.ts); null only for
 * rows written before the chain existed, until the next start seals them.
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: text("at").notNull().default(now),
    actor: text("actor"),
    action: text("action").notNull(),
    target: text("target"),
    outcome: text("outcome", { enum: ["ok", "denied", "error", "warning"] }).notNull().default("ok"),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
    hash: text("hash"),
  },
  (t) => [index("audit_at").on(t.at), index("audit_actor").on(t.actor, t.at), index("audit_action").on(t.action, t.at)],
);

/** Live job workers (`kb serve`'s in-process worker, `kb worker`), by heartbeat. */
export const workers = sqliteTable("workers", {
  id: text("id").primaryKey(),
  pid: integer("pid").notNull(),
  host: text("host").notNull(),
  heartbeatAt: text("heartbeat_at").notNull(),
});

/**
 * Ask conversations, one owner each (the actor's user id; "system" for the CLI operator). No
 * foreign key to users, so the operator can own conversations too; a conversation is only ever
 * read through its owner's id, so another user's id never finds it.
 */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    title: text("title").notNull(),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("conversations_owner").on(t.ownerId, t.updatedAt)],
);

/** The turns of a conversation: the user's question, then the answer that was shown. */
export const conversationMessages = sqliteTable(
  "conversation_messages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["user", "assistant"] }).notNull(),
    content: text("content").notNull(),
    /** User turns: the standalone query retrieval ran with (a rewritten follow-up), when it differs. */
    retrievalQuery: text("retrieval_query"),
    /** Assistant turns: the citations of the answer. */
    citations: text("citations", { mode: "json" }).$type<unknown[]>(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("conversation_messages_conversation").on(t.conversationId, t.id)],
);

/**
 * Local passwords (sign-in to the web app), one row per user who has one: the argon2id hash in
 * its encoded form (algorithm, parameters and salt inside), and the per-account lock-out state.
 */
export const userCredentials = sqliteTable("user_credentials", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  passwordHash: text("password_hash").notNull(),
  updatedAt: text("updated_at").notNull().default(now),
  /** Consecutive failed sign-ins since the last success or password change. */
  failedCount: integer("failed_count").notNull().default(0),
  /** Sign-in refused until this time (ISO) after too many failures; null when not locked. */
  lockedUntil: text("locked_until"),
});

/**
 * Web sessions (cookie sign-in). Only the SHA-256 of the session token is stored; the token
 * lives in the browser's HttpOnly cookie. A session ends at `expiresAt` (absolute), after the
 * idle timeout past `lastSeenAt`, or when revoked; rows are removed with their user.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    createdAt: text("created_at").notNull(),
    lastSeenAt: text("last_seen_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    revokedAt: text("revoked_at"),
    /** The client address and user agent at sign-in, for the admin's session list. */
    client: text("client"),
    userAgent: text("user_agent"),
    /** How the user signed in: "password" or "oidc". */
    method: text("method").notNull().default("password"),
    /** OpenID Connect sign-ins: the provider's id (oidc-providers.json), the OP's session id (`sid`, for back-channel logout) and the ID token (the `id_token_hint` of RP-initiated logout). */
    provider: text("provider"),
    opSid: text("op_sid"),
    idToken: text("id_token"),
  },
  (t) => [uniqueIndex("sessions_token_hash").on(t.tokenHash), index("sessions_user").on(t.userId), index("sessions_op_sid").on(t.provider, t.opSid)],
);

/**
 * Feedback on an answer (👍/👎 + comment), one per user and answer (a repeat updates it). A copy
 * of what was judged is kept (question, answer, the cited documents and pages), so the review
 * does not depend on the conversation, which its owner may delete. Reviewers record what the
 * answer should have cited and said; reviewed items export as an evaluation set (`kb eval`).
 * No foreign keys: the message and the user may go; `kb users purge-history` removes a user's rows.
 */
export const answerFeedback = sqliteTable(
  "answer_feedback",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    /** The user's name when the feedback was given (shown to reviewers). */
    userName: text("user_name").notNull(),
    conversationId: text("conversation_id").notNull(),
    /** The assistant message judged (conversation_messages.id). */
    messageId: integer("message_id").notNull(),
    rating: text("rating", { enum: ["up", "down"] }).notNull(),
    comment: text("comment"),
    question: text("question").notNull(),
    answer: text("answer").notNull(),
    /** The cited sources: `{ n, documentId, page }[]`. */
    sources: text("sources", { mode: "json" }).$type<{ n: number; documentId: string; page: number }[]>().notNull(),
    reviewedAt: text("reviewed_at"),
    reviewedBy: text("reviewed_by"),
    expectedDocumentIds: text("expected_document_ids", { mode: "json" }).$type<string[]>(),
    expectedAnswer: text("expected_answer"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("answer_feedback_user_message").on(t.userId, t.messageId),
    index("answer_feedback_review").on(t.rating, t.updatedAt),
    index("answer_feedback_conversation").on(t.conversationId),
  ],
);

/**
 * Bearer tokens of SCIM clients (an identity provider pushing users and groups to /scim/v2):
 * their own kind, never user API tokens. Only the SHA-256 of the token (`kbscim_…`) is stored.
 * A token provisions into one directory source (`scim:<id>`).
 */
export const scimTokens = sqliteTable(
  "scim_tokens",
  {
    id: text("id").primaryKey(),
    /** The directory source it provisions into (`scim:<id>`). */
    source: text("source").notNull(),
    tokenHash: text("token_hash").notNull(),
    name: text("name"),
    createdAt: text("created_at").notNull().default(now),
    expiresAt: text("expires_at"),
    revokedAt: text("revoked_at"),
    lastUsedAt: text("last_used_at"),
  },
  (t) => [uniqueIndex("scim_tokens_hash").on(t.tokenHash)],
);

/**
 * What a SCIM client sent about each provisioned user and group, as SCIM shows it back (RFC 7643):
 * the directory (users/groups with source `scim:<id>`) holds what access decisions use; this
 * holds the SCIM view (userName, name, emails, the IdP's externalId, group members as SCIM ids).
 * `id` is the SCIM id: a UUID this server assigns, stored as the directory's stable id, so the
 * principal is `<id>~<uuid>` and never changes when the IdP renames the user.
 */
export const scimResources = sqliteTable(
  "scim_resources",
  {
    source: text("source").notNull(),
    id: text("id").notNull(),
    resourceType: text("resource_type", { enum: ["User", "Group"] }).notNull(),
    /** The directory principal's name (`<id>~<uuid>`). */
    principal: text("principal").notNull(),
    /** userName (Users) or displayName (Groups), lower-cased: unique per source and type (caseExact false). */
    nameKey: text("name_key").notNull(),
    externalId: text("external_id"),
    /** The resource's attributes (no id, meta or schemas); a Group's `members` as `[{ value }]`. */
    attributes: text("attributes", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    version: integer("version").notNull().default(1),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.source, t.id] }), uniqueIndex("scim_resources_name").on(t.source, t.resourceType, t.nameKey), index("scim_resources_external").on(t.source, t.resourceType, t.externalId)],
);

/**
 * Change announcements (src/stores/change-feed.ts): per topic, a version bumped in the same
 * transaction as the change it announces, with that change's payload. Processes that cannot
 * receive PostgreSQL's NOTIFY (a pooler that drops it, KB_PG_NOTIFY=off) poll these rows.
 */
export const changes = sqliteTable("changes", {
  topic: text("topic").primaryKey(),
  version: integer("version").notNull().default(0),
  payload: text("payload", { mode: "json" }).$type<unknown>(),
  updatedAt: text("updated_at").notNull().default(now),
});

/**
 * Rate-limit counters shared by every API replica (src/services/rate-limits.ts): per key (a
 * token, a client address), the requests allowed in the current minute (`minute`: minutes since
 * the epoch) and in the one before, for a sliding-window estimate; one atomic upsert per request,
 * which counts the request only when the estimate leaves room for it.
 */
export const rateLimits = sqliteTable("rate_limits", {
  key: text("key").primaryKey(),
  minute: integer("minute").notNull(),
  count: integer("count").notNull().default(0),
  prevCount: integer("prev_count").notNull().default(0),
  /** Whether the last request counted here was allowed (the upsert's answer). */
  allowed: integer("allowed", { mode: "boolean" }).notNull().default(true),
});
