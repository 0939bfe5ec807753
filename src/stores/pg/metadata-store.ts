/**
 * The PostgreSQL implementation of the metadata store interfaces (../metadata.ts), on a
 * node-postgres pool. `withTransaction` opens one transaction on one pooled connection and keeps
 * it in AsyncLocalStorage: every repository call made in the callback's async context runs on
 * it, so a service passing `tx` (or calling the store directly) inside the callback joins it.
 * Calls from other contexts use other connections and are not blocked by it, except on the rows
 * it locks. Units of work (`withTransaction`) are serialized across every process on the
 * database by a transaction-level advisory lock, as SQLite's BEGIN IMMEDIATE serializes them:
 * the services' read-then-write steps (the active index switch, a schedule's check-and-submit)
 * were written for that and must not interleave. A repository's own small transactions (a job
 * claim, a file update) do not take it; they lock the rows they change.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import type { MetadataRepositories, MetadataStore } from "../metadata.ts";
import type { PgContext, Q } from "./context.ts";
import type { PgHandle } from "./db.ts";
import { PgConversationsRepo } from "./conversations-repo.ts";
import { PgDocumentsRepo } from "./documents-repo.ts";
import { PgErasureRepo } from "./erasure-repo.ts";
import { PgJobsRepo } from "./jobs-repo.ts";
import { PgUsersRepo } from "./users-repo.ts";
import { PgChangesRepo, PgRateLimitsRepo } from "./changes-repo.ts";
import { PgAuditRepo, PgCredentialsRepo, PgFeedbackRepo, PgScimResourcesRepo, PgScimTokensRepo, PgSensitiveRepo, PgSessionsRepo, PgSettingsRepo } from "./small-repos.ts";

/** pg_advisory_xact_lock key of a unit of work (any constant; "kbtx" as hex digits). */
const UNIT_OF_WORK_LOCK = 0x6b627478;

export class PgMetadataStore implements MetadataStore {
  readonly conversations: PgConversationsRepo;
  readonly sensitive: PgSensitiveRepo;
  readonly users: PgUsersRepo;
  readonly audit: PgAuditRepo;
  readonly credentials: PgCredentialsRepo;
  readonly sessions: PgSessionsRepo;
  readonly settings: PgSettingsRepo;
  readonly erasure: PgErasureRepo;
  readonly documents: PgDocumentsRepo;
  readonly jobs: PgJobsRepo;
  readonly feedback: PgFeedbackRepo;
  readonly scimTokens: PgScimTokensRepo;
  readonly scimResources: PgScimResourcesRepo;
  readonly changes: PgChangesRepo;
  readonly rateLimits: PgRateLimitsRepo;
  private readonly current = new AsyncLocalStorage<{ tx: Q; outer: boolean; after: (() => void)[] }>();

  constructor(readonly handle: PgHandle) {
    const base = handle.db as unknown as Q;
    const context: PgContext = {
      q: () => this.current.getStore()?.tx ?? base,
      tx: <T>(fn: () => Promise<T>) => (this.current.getStore() ? fn() : this.run(fn, false)),
      inTransaction: () => this.current.getStore() !== undefined,
    };
    this.conversations = new PgConversationsRepo(context);
    this.sensitive = new PgSensitiveRepo(context);
    this.users = new PgUsersRepo(context);
    this.audit = new PgAuditRepo(context);
    this.credentials = new PgCredentialsRepo(context);
    this.sessions = new PgSessionsRepo(context);
    this.settings = new PgSettingsRepo(context);
    this.erasure = new PgErasureRepo(context);
    this.documents = new PgDocumentsRepo(context);
    this.jobs = new PgJobsRepo(context);
    this.feedback = new PgFeedbackRepo(context);
    this.scimTokens = new PgScimTokensRepo(context);
    this.scimResources = new PgScimResourcesRepo(context);
    this.changes = new PgChangesRepo(context);
    this.rateLimits = new PgRateLimitsRepo(context);
  }

  async withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T> {
    if (this.current.getStore()?.outer) throw new Error("withTransaction called inside a transaction: pass work to the outer one's tx");
    if (this.current.getStore()) return fn(this); // a repository's own transaction never calls back here; kept total
    return this.run(() => fn(this), true);
  }

  private async run<T>(fn: () => Promise<T>, outer: boolean): Promise<T> {
    const after: (() => void)[] = [];
    const result = await this.handle.db.transaction(async (tx) => {
      if (outer) await tx.execute(sql`SELECT pg_advisory_xact_lock(${UNIT_OF_WORK_LOCK})`);
      return this.current.run({ tx: tx as unknown as Q, outer, after }, fn);
    });
    for (const f of after) f();
    return result;
  }

  afterCommit(fn: () => void): void {
    const context = this.current.getStore();
    if (context) context.after.push(fn);
    else fn();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
