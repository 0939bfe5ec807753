/**
 * The SQLite implementation of the metadata store interfaces (../metadata.ts).
 *
 * better-sqlite3 is synchronous and one connection is shared by the whole process, so a
 * transaction that spans an `await` is made by hand: BEGIN IMMEDIATE (the write lock at once,
 * as the synchronous repositories take it, so two processes cannot interleave), the callback,
 * COMMIT or ROLLBACK. While it is open, every other call through this store waits for it (one
 * transaction at a time per process; calls made inside the callback's own async context run in
 * it, found with AsyncLocalStorage), so no other request's statement lands inside it.
 * The callback may await only this store: a transaction still open when the event loop moves
 * on (it waited for a file, LanceDB or the network) is rolled back and rejected, because it
 * would hold the database's write lock that `kb serve`, `kb worker` and the CLI wait on.
 * The statements underneath are the synchronous repositories (conversations-repo.ts, feedback-repo.ts, ...).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { AuditRepo } from "./audit-repo.ts";
import type { AuditStore, ChangesStore, ConversationStore, CredentialStore, DocumentStore, FeedbackStore, ErasureStore, JobStore, MetadataRepositories, MetadataStore, ScimResourceStore, ScimTokenStore, SensitiveStore, SessionStore, SettingsStore, UsersStore, RateLimitStore } from "../metadata.ts";
import { ChangesRepo, RateLimitsRepo } from "./changes-repo.ts";
import { ConversationsRepo } from "./conversations-repo.ts";
import { FeedbackRepo } from "./feedback-repo.ts";
import type { Db } from "./db.ts";
import { DocumentsRepo } from "./documents-repo.ts";
import { ErasureRepo } from "./erasure-repo.ts";
import { JobsRepo } from "./jobs-repo.ts";
import { ScimResourcesRepo, ScimTokensRepo } from "./scim-repo.ts";
import { SensitiveRepo } from "./sensitive-repo.ts";
import { CredentialsRepo, SessionsRepo } from "./sign-in-repo.ts";
import { UsersRepo } from "./users-repo.ts";
import { SettingsRepo } from "./settings-repo.ts";

/** A synchronous repository's methods, returning Promises. */
type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

export class SqliteMetadataStore implements MetadataStore {
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
  /** Settles when the open transaction ends; null when none is open. */
  private open: Promise<void> | null = null;
  private readonly inTransaction = new AsyncLocalStorage<{ after: (() => void)[] }>();

  constructor(private readonly db: Db) {
    this.conversations = this.wrap(new ConversationsRepo(db));
    this.sensitive = this.wrap(new SensitiveRepo(db));
    this.users = this.wrap(new UsersRepo(db));
    this.audit = this.wrap(new AuditRepo(db));
    this.credentials = this.wrap(new CredentialsRepo(db));
    this.sessions = this.wrap(new SessionsRepo(db));
    // The mapped type loses a method's own type parameters (get<T>): the methods are the same.
    this.settings = this.wrap(new SettingsRepo(db)) as unknown as SettingsStore;
    this.erasure = this.wrap(new ErasureRepo(db));
    this.documents = this.wrap(new DocumentsRepo(db));
    this.jobs = this.wrap(new JobsRepo(db));
    this.feedback = this.wrap(new FeedbackRepo(db));
    this.scimTokens = this.wrap(new ScimTokensRepo(db));
    this.scimResources = this.wrap(new ScimResourcesRepo(db));
    this.changes = this.wrap(new ChangesRepo(db));
    this.rateLimits = this.wrap(new RateLimitsRepo(db));
  }

  async withTransaction<T>(fn: (tx: MetadataRepositories) => Promise<T>): Promise<T> {
    if (this.inTransaction.getStore()) throw new Error("withTransaction called inside a transaction: pass work to the outer one's tx");
    while (this.open) await this.open;
    let release!: () => void;
    this.open = new Promise((r) => (release = r));
    const sqlite = this.db.$client;
    let spanned = false;
    const tick = setImmediate(() => (spanned = true));
    try {
      sqlite.prepare("BEGIN IMMEDIATE").run();
      let result: T;
      const context = { after: [] as (() => void)[] };
      try {
        result = await this.inTransaction.run(context, () => fn(this));
        if (spanned) throw new Error("a metadata transaction awaited something other than the metadata store (files, LanceDB, network); it was rolled back");
      } catch (err) {
        if (sqlite.inTransaction) sqlite.prepare("ROLLBACK").run();
        throw err;
      }
      sqlite.prepare("COMMIT").run();
      for (const after of context.after) after();
      return result;
    } finally {
      clearImmediate(tick);
      this.open = null;
      release();
    }
  }

  afterCommit(fn: () => void): void {
    const context = this.inTransaction.getStore();
    if (context) context.after.push(fn);
    else fn();
  }

  /** The repository's methods as Promises, each waiting for another context's open transaction. */
  private wrap<T extends object>(repo: T): Async<T> {
    const out: Record<string, unknown> = {};
    for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repo))) {
      const method = (repo as Record<string, unknown>)[name];
      if (name === "constructor" || typeof method !== "function") continue;
      out[name] = async (...args: unknown[]) => {
        if (!this.inTransaction.getStore()) while (this.open) await this.open;
        return (method as (...a: unknown[]) => unknown).apply(repo, args);
      };
    }
    return out as Async<T>;
  }
}
