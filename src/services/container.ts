/**
 * The composition root: opens the stores and models named by the configuration and wires
 * the services. Entry points (HTTP server, CLI) get everything from here.
 */
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { checkModelHosts, readSecret, type Config } from "../config.ts";
import { BlobStore } from "../stores/blob-store.ts";
import { CHUNKS_TABLE, ChunkStore } from "../stores/lance/chunk-store.ts";
import { openDb, type Db } from "../stores/sqlite/db.ts";
import { rebaseBlobPaths } from "../stores/sqlite/blob-paths.ts";
import { DocumentsRepo } from "../stores/sqlite/documents-repo.ts";
import { JobsRepo } from "../stores/sqlite/jobs-repo.ts";
import { SettingsRepo } from "../stores/sqlite/settings-repo.ts";
import { ACTIVE_KEY, ActiveIndex, ModelRegistry, type IndexInfo, type ModelStatus, type RemoteEmbeddingModel } from "./active-index.ts";
import { isLanceError, sqliteDamagedError, tableDamagedError } from "./data-damage.ts";
import { DocumentFingerprints } from "./duplicates.ts";
import { canRead, resolveDocumentAccess, SYSTEM_ACTOR, type Actor } from "../../policies/index.ts";
import { AccessService } from "./access.ts";
import { Accounts } from "./accounts.ts";
import { DirectoryService } from "./directory.ts";
import { OidcSignInService } from "./oidc-sign-in.ts";
import { LdapService } from "./ldap/directories.ts";
import { AdminService } from "./admin.ts";
import { PolicyFiles } from "./policy-files.ts";
import { makePrivateDir, tightenDataDir } from "../stores/private-files.ts";
import { redactorFor, SensitiveIndex } from "./sensitive.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../domain/sensitive/index.ts";
import { ExtractiveAnswerer } from "./answer/extractive.ts";
import { DeferredLlmAnswerer, type LlmAnswererOptions } from "./answer/llm-answerer.ts";
import { loadLlm, type LlmProvider, type LoadLlmOptions } from "../models/llm.ts";
import { resolveLlmModelPath } from "../models/model-files.ts";
import { endpointHost } from "../models/remote-http.ts";
import { loadRemoteEmbeddingProvider, remoteModelId } from "../models/remote-embeddings.ts";
import { createRemoteLlm } from "../models/remote-llm.ts";
import { accessOfRow, type MetadataStore } from "../stores/metadata.ts";
import { SqliteMetadataStore } from "../stores/sqlite/metadata-store.ts";
import { openPg } from "../stores/pg/db.ts";
import { PgMetadataStore } from "../stores/pg/metadata-store.ts";
import { PgNotifyListener } from "../stores/pg/notify-listener.ts";
import { announceWrites, StoreChangeFeed, TOPICS, type ChangeFeed } from "../stores/change-feed.ts";
import { RateLimits } from "./rate-limits.ts";
import { ConversationService } from "./conversation/conversations.ts";
import type { Answerer } from "./answer/types.ts";
import { AskService } from "./ask.ts";
import { AuditLog } from "./audit.ts";
import { AuditForwarder } from "./audit-forward.ts";
import { AuthFailureLog } from "./auth-failures.ts";
import { DocumentService, scopeClause } from "./documents.ts";
import { FeedbackService } from "./feedback.ts";
import type { JobDeps } from "./jobs/context.ts";
import { JobsService, reindexDocumentsOfOlderDetector } from "./jobs/jobs-service.ts";
import { IngestService } from "./jobs/kinds/ingest.ts";
import { JobRunner } from "./jobs/runner.ts";
import { loadSources, Scheduler } from "./jobs/schedules.ts";
import { JobWorker, type JobWorkerOptions } from "./jobs/worker.ts";
import { canonicalizeStoredNames } from "./principal-migration.ts";
import { Retriever } from "./retrieval.ts";
import { RerankerSlot } from "./reranker-slot.ts";
import { ImageDescriberSlot } from "./image-describer-slot.ts";
import { getImageDescriber, setImageDescriber } from "../../ingest/image-description.ts";
import { configureExtraction } from "../../ingest/extraction-settings.ts";
import { SearchService } from "./search.ts";
import { ScimService } from "./scim.ts";
import { SignInService } from "./sign-in.ts";
import { StatusService } from "./status.ts";
import { closeExtractors } from "../../ingest/pipeline.ts";
import { Metrics } from "./metrics.ts";
import { kbLogger } from "./request-context.ts";

/** Active jobs the system page lists (GET /api/v1/admin/status); the counts cover all. */
const ACTIVE_JOBS_SHOWN = 20;

export type { ModelStatus } from "./active-index.ts";

/**
 * What entry points (routes, CLI commands) get: services only. Each use case authorizes and
 * audits inside its service, so an entry point translates input and output and nothing else.
 */
export interface Kb {
  config: Config;
  log: pino.Logger;
  /**
   * The chunk store readers use; it follows the active table (see `index`). Left for `kb index`
   * and evaluation's counts (the jobs step); routes go through services.
   */
  chunks: ChunkStore;
  /** The active chunk table and its model; writers' switch protocol (active-index.ts). */
  index: ActiveIndex;
  /** List, follow, cancel jobs; submit sync, reindex, re-embed, optimize jobs. */
  jobs: JobsService;
  accounts: Accounts;
  /** Web sign-in: passwords, cookie sessions, lock-out (sign-in.ts). */
  signIn: SignInService;
  /** Directory-managed users, groups and memberships (OIDC, LDAP, SCIM write through it). */
  directory: DirectoryService;
  /** Sign-in through OpenID Connect providers (oidc-providers.json): start, callback, back-channel logout. */
  oidc: OidcSignInService;
  /** LDAP / Active Directory (ldap-directories.json): sign-in by bind, the directory-sync job. */
  ldap: LdapService;
  /** Users, groups, tokens: authorized and audited (admin API and CLI). */
  admin: AdminService;
  /** Document ACL changes (single and bulk) and `policy explain`. */
  access: AccessService;
  /** The policy folder (roles.json, document-rules.json), reloaded on change. */
  policy: PolicyFiles;
  sensitive: SensitiveIndex;
  audit: AuditLog;
  /** Failed authentications, aggregated per client address before they reach the audit log. */
  authFailures: AuthFailureLog;
  ingest: IngestService;
  documents: DocumentService;
  /** Retrieval without authorization or audit (evaluation, modes); users search through `search`. */
  retriever: Retriever;
  /** The search use case: authorized and audited (/api/v1/search, `kb search`). */
  search: SearchService;
  /** The ask use case: authorized, conversation kept, audited (/api/v1/ask, /v1/chat/completions, `kb ask`). */
  ask: AskService;
  /** Readiness and counts (/readyz, first start). */
  status: StatusService;
  models: ModelStatus;
  /** Starts a job worker in this process (kb serve, kb worker); it runs the scheduled syncs too. */
  startWorker(options?: Omit<JobWorkerOptions, "log" | "scheduler"> & { schedules?: boolean }): Promise<JobWorker>;
  /** Tells in-process workers a job was just submitted. */
  wakeWorker(): void;
  /** The loaded LLM's facts for /readyz, or null in extractive mode. */
  llmInfo(): Record<string, unknown> | null;
  /** The loaded LLM provider (null in extractive mode, or before a lazy load). */
  readonly llm: LlmProvider | null;
  /** The cross-encoder reranker (KB_RERANK_MODEL): its state for /readyz and `kb eval`. */
  reranker: RerankerSlot;
  /** Loads the configured LLM if not yet loaded; null in extractive mode. */
  loadLlm(): Promise<LlmProvider | null>;
  /** Ask conversations per user, follow-up rewriting. */
  conversations: ConversationService;
  /** Feedback on answers and its review (eval-set export). */
  feedback: FeedbackService;
  /** SCIM 2.0 provisioning (/scim/v2) and its tokens (`kb scim token`). */
  scim: ScimService;
  /** Prometheus metrics of this knowledge base (GET /metrics, KB_METRICS_PORT); services record into it. */
  metrics: Metrics;
  /** Request rate limits per token and client address (in memory on SQLite, shared by every replica on PostgreSQL). */
  rateLimits: RateLimits;
  close(): Promise<void>;
}

/**
 * The stores under the services, for the composition root, tests and benchmarks (which set up
 * and inspect state directly). Entry points are typed with `Kb` and never see these.
 */
export interface KbStores {
  /** The metadata store the services use (stores/metadata.ts): SQLite, or PostgreSQL when KB_DATABASE_URL is set. */
  metadata: MetadataStore;
  /** Which store `metadata` is. */
  metadataKind: "sqlite" | "postgres";
  /** Change announcements between the processes on this metadata store (src/stores/change-feed.ts). */
  changes: ChangeFeed;
  /**
   * SQLite only, for tests that inspect the file's rows directly: the drizzle handle and the
   * synchronous repositories. Reading one in PostgreSQL mode throws (nothing in the product
   * reads them; tests that need them skip on PostgreSQL).
   */
  db: Db;
  documentsRepo: DocumentsRepo;
  /** Job rows (tests claim and inspect them; the product runs jobs through `jobs`). */
  jobsRepo: JobsRepo;
  settings: SettingsRepo;
}

/** The SQLite-only parts of KbStores, as getters that throw in PostgreSQL mode. */
function sqliteOnly(db: Db | null): Pick<KbStores, "db" | "documentsRepo" | "jobsRepo" | "settings"> {
  const need = (what: string): Db => {
    if (!db) throw new Error(`kb.${what} is SQLite-only; this knowledge base uses PostgreSQL (KB_DATABASE_URL): use kb.metadata`);
    return db;
  };
  let documentsRepo: DocumentsRepo | undefined;
  let jobsRepo: JobsRepo | undefined;
  let settings: SettingsRepo | undefined;
  return {
    get db() {
      return need("db");
    },
    get documentsRepo() {
      return (documentsRepo ??= new DocumentsRepo(need("documentsRepo")));
    },
    get jobsRepo() {
      return (jobsRepo ??= new JobsRepo(need("jobsRepo")));
    },
    get settings() {
      return (settings ??= new SettingsRepo(need("settings")));
    },
  };
}

export interface OpenKbOptions {
  logger?: pino.Logger;
  /**
   * When KB_LLM_MODEL is set: "eager" (default) loads the GGUF now, so a bad model fails the start;
   * "lazy" loads it at the first question (CLI commands that may never ask).
   */
  llmLoad?: "eager" | "lazy";
  /** Extra provider options (tests and benchmarks: the onGenerate hook, batch size). */
  llm?: Pick<LoadLlmOptions, "onGenerate" | "batchSize">;
  /** Answerer options over the configured ones (benchmarks: ignoreEos, a fixed maxTokens). */
  llmAnswer?: LlmAnswererOptions;
  /**
   * An already loaded provider to answer with instead of KB_LLM_MODEL (tests and benchmarks that
   * share one model between knowledge bases). The caller owns it: close() leaves it open.
   */
  llmProvider?: LlmProvider;
  /**
   * When KB_RERANK_MODEL is set: "eager" (default) loads the reranker now, so /readyz reports it
   * (a model that fails to load is reported, not fatal); "lazy" loads it at the first query (CLI).
   */
  rerankerLoad?: "eager" | "lazy";
  /** The clock of sign-in sessions and lock-outs (tests move it instead of sleeping). */
  clock?: () => number;
}

/**
 * The embedding model of a data folder's active index, read without opening the knowledge base
 * (`kb models list` runs without loading LanceDB or any model); null without a data folder.
 */
export async function activeIndexModel(dataDir: string, databaseUrl?: string): Promise<string | null> {
  if (databaseUrl) {
    const store = new PgMetadataStore(await openPg(databaseUrl, { max: 1 }));
    try {
      return (await store.settings.get<IndexInfo>(ACTIVE_KEY))?.model ?? null;
    } finally {
      await store.close();
    }
  }
  const file = path.join(dataDir, "app.sqlite");
  if (!fs.existsSync(file)) return null;
  const db = openDb(file);
  try {
    return (await new SqliteMetadataStore(db).settings.get<IndexInfo>(ACTIVE_KEY))?.model ?? null;
  } finally {
    db.$client.close();
  }
}

export async function openKb(config: Config, options: OpenKbOptions = {}): Promise<Kb & KbStores> {
  // Lines written while a request is served carry its id (request-context.ts).
  const log = options.logger ?? kbLogger(config.logLevel);
  const metrics = new Metrics({ token: config.metricsToken });
  // Extractors and the OCR pool are process-wide: they take their settings from here.
  configureExtraction({
    ocrWorkers: config.ocrWorkers,
    ocrPictures: config.ocrPictures,
    ocrPdf: config.ocrPdf,
    describeImages: config.imageModel !== undefined,
    describeMaxPerFile: config.imageMaxPerFile,
    sofficePath: config.sofficePath,
    sofficeTimeoutMs: config.sofficeTimeoutMs,
    sofficeMemoryMb: config.sofficeMemoryMb,
  });
  // The local LLM (answer mode "llm") when KB_LLM_MODEL names a GGUF. Loaded before anything is
  // opened, so a missing or unloadable model fails the start cleanly. Never builds or downloads.
  // Remote model servers (KB_LLM_URL, KB_EMBED_URL) only on KB_MODEL_HOSTS; their keys read now
  // (a missing key file stops the start), kept in the providers only, never logged.
  checkModelHosts(config);
  const llmKey = config.llmRemote?.apiKey ? readSecret(config.llmRemote.apiKey, "KB_LLM_API_KEY") : undefined;
  const embedKey = config.embedRemote?.apiKey ? readSecret(config.embedRemote.apiKey, "KB_EMBED_API_KEY") : undefined;
  const remoteLlm =
    !options.llmProvider && config.llmRemote
      ? createRemoteLlm({
          url: config.llmRemote.url,
          model: config.llmRemote.model,
          apiKey: llmKey,
          allowedHosts: config.modelHosts,
          contextSize: config.llmContextSize,
          maxConcurrent: config.llmMaxConcurrent,
          maxQueue: config.llmQueue,
          timeoutMs: config.llmTimeoutMs,
          ...(options.llm?.onGenerate ? { onGenerate: options.llm.onGenerate } : {}),
        })
      : null;
  const injected = options.llmProvider ?? remoteLlm;
  const llmConfigured = injected !== null || config.llmModel !== undefined;
  let llmPath: string | null = null;
  let llmPathError: unknown = null;
  if (!injected && config.llmModel) {
    try {
      llmPath = resolveLlmModelPath(config.modelsDir, config.llmModel);
    } catch (err) {
      if (options.llmLoad !== "lazy") throw err;
      llmPathError = err; // lazy (CLI): only a question fails, not `kb users list`
    }
  }
  let llm: LlmProvider | null = injected;
  let llmLoading: Promise<LlmProvider> | null = null;
  const ensureLlm = (): Promise<LlmProvider | null> => {
    if (injected) return Promise.resolve(injected);
    if (llmPathError) return Promise.reject(llmPathError);
    if (!llmPath) return Promise.resolve(null);
    llmLoading ??= loadLlm({
      modelPath: llmPath,
      gpu: config.llmGpu,
      gpuLayers: config.llmGpuLayers,
      threads: config.llmThreads,
      contextSize: config.llmContextSize,
      sequences: config.llmSequences,
      maxQueue: config.llmQueue,
      timeoutMs: config.llmTimeoutMs,
      logger: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
      ...options.llm,
    }).then(
      (p) => {
        llm = p;
        log.info({ llm: p.info() }, "LLM loaded");
        return p;
      },
      (err: unknown) => {
        llmLoading = null; // a later question may retry (lazy mode)
        throw err;
      },
    );
    return llmLoading;
  };
  if (llmPath && options.llmLoad !== "lazy") await ensureLlm();
  makePrivateDir(config.dataDir);
  // What an earlier version (or a tool with a looser umask) left readable to others is tightened
  // now; only kb's own files are touched (the models folder is the operator's and may be shared).
  const tightened = tightenDataDir(config.dataDir);
  if (tightened.changed.length) log.warn({ paths: tightened.changed.length, examples: tightened.changed.slice(0, 5) }, "data folder: removed group/other permissions");
  if (tightened.failed.length) log.error({ failed: tightened.failed.slice(0, 5), count: tightened.failed.length }, "data folder: could not make these private");
  // The metadata store: PostgreSQL when KB_DATABASE_URL names one, else SQLite in the data folder.
  let db: Db | null = null;
  let metadata: MetadataStore;
  let closeMetadata: () => Promise<void>;
  if (config.databaseUrl) {
    const pgStore = new PgMetadataStore(await openPg(config.databaseUrl));
    log.info({ database: pgStore.handle.display }, "metadata store: PostgreSQL");
    metadata = pgStore;
    closeMetadata = () => pgStore.close();
  } else {
    const dbFile = path.join(config.dataDir, "app.sqlite");
    try {
      db = openDb(dbFile);
    } catch (err) {
      throw sqliteDamagedError(dbFile, config.dataDir, err) ?? err;
    }
    const sqlite = db;
    metadata = new SqliteMetadataStore(sqlite);
    closeMetadata = async () => {
      sqlite.$client.close();
    };
  }
  // Announcements of changes other processes keep copies of (src/stores/change-feed.ts): on
  // PostgreSQL by LISTEN/NOTIFY, or by polling the `changes` rows with KB_PG_NOTIFY=off; on
  // SQLite within this process only.
  const databaseUrl = config.databaseUrl;
  const changes = new StoreChangeFeed(
    metadata,
    !databaseUrl
      ? { mode: "in-process" }
      : config.changeFeed.notify
        ? { mode: "notify", listener: new PgNotifyListener(databaseUrl, (msg, fields) => log.warn(fields ?? {}, msg)), log: (level, msg, fields) => log[level](fields ?? {}, msg) }
        : { mode: "poll", pollMs: config.changeFeed.pollMs, log: (level, msg, fields) => log[level](fields ?? {}, msg) },
  );
  await changes.start();
  // Every write that can end or narrow an API token's authentication (revocation, expiry, a
  // disabled or deleted user, role, clearance, memberships, renames) announces `accounts`.
  announceWrites(metadata.users, ["update", "delete", "deleteGroup", "addMember", "removeMember", "revokeTokensOf", "revokeToken", "setTokenExpiry", "renamePrincipal"], changes, TOPICS.accounts);
  // KB_AUDIT_FORWARD: a copy of each event to the SIEM, never in the request's way (audit-forward.ts).
  const forwarder = config.auditForward ? new AuditForwarder(config.auditForward, { metrics, log: (level, msg, fields) => log[level](fields ?? {}, msg) }) : null;
  const audit = new AuditLog(metadata.audit, forwarder);
  // Rows written before the hash chain existed (the first start after the upgrade) are chained now.
  const sealed = await audit.sealUnhashed();
  if (sealed > 0) log.info({ rows: sealed }, "audit log: chained the events written before the hash chain existed");
  const authFailures = new AuthFailureLog(audit);
  const policy = PolicyFiles.load(config.policyDir, { log: (level, msg) => (level === "error" ? log.error(msg) : log.info(msg)), otherIdentitySources: () => [`scim:${config.scimSource}`] });
  // PostgreSQL: authentications are kept and checked against one version row per request (accounts.ts).
  const accounts = new Accounts(metadata, { roles: () => policy.roles(), audit, changes, keepAuthentications: Boolean(databaseUrl) });
  const signIn = new SignInService(metadata, accounts, audit, authFailures, {
    idleMs: config.sessionIdleMs,
    maxMs: config.sessionMaxMs,
    lockAfter: config.loginLockAfter,
    lockMs: config.loginLockMs,
    now: options.clock,
  });
  const directory = new DirectoryService(metadata, audit, { roleExists: (role) => policy.roles().has(role) });
  const oidc = new OidcSignInService({
    providers: () => policy.oidcProviders(),
    signIn,
    directory,
    audit,
    settings: metadata.settings,
    readSecret: (spec, what) => readSecret(spec, what),
    groupExists: (name) => metadata.users.groupExists(name),
    roleExists: (role) => policy.roles().has(role),
    log: (level, msg) => (level === "error" ? log.error(msg) : log.info(msg)),
  });
  // Client secrets and CA files are read once here: a missing one stops the start (as an invalid policy file does).
  oidc.checkConfiguration();
  signIn.useSingleSignOn(oidc);
  const ldap = new LdapService({
    directories: () => policy.ldapDirectories().directories,
    directory,
    readSecret: (spec, what) => readSecret(spec, what),
    audit,
    // `jobs` is made below; a sync is only submitted once the knowledge base is open.
    submitJob: (actor, params, tx) => jobs.submit(actor, "directory-sync", params, undefined, tx),
    activeSync: async (id) => (await metadata.jobs.activeJobWith("directory-sync", (p) => p.directory === id))?.id ?? null,
    localGroupExists: (name) => metadata.users.groupExists(name),
    groupsWrittenBy: async (source) => {
      const out: string[] = [];
      // groupsMap targets are local groups: only those are looked at (a directory has thousands of its own).
      for (const g of await metadata.users.listGroups()) if (g.source === "local" && (await metadata.users.memberRows(g.name)).some((r) => r.origin === source)) out.push(g.name);
      return out;
    },
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
  });
  signIn.useDirectories(ldap);
  const blobs = new BlobStore(config.blobDir);
  // A moved data folder's SQLite rows are pointed at its blobs. In PostgreSQL mode several
  // replicas share the database, each with its own data folder path: nothing is rewritten.
  if (db) {
    const movedBlobs = rebaseBlobPaths(db, config.blobDir);
    if (movedBlobs.documents || movedBlobs.jobFiles) log.info(movedBlobs, "data folder moved: stored originals' paths now point into it");
  }

  // The active chunk table (a pointer in the metadata store) and the model serving it; followed
  // when another process switches it (a re-embed run by `kb worker`).
  const embedRemote = config.embedRemote;
  const remoteEmbedding: RemoteEmbeddingModel | undefined = embedRemote
    ? {
        id: remoteModelId(embedRemote.url, embedRemote.model),
        load: () =>
          loadRemoteEmbeddingProvider({
            url: embedRemote.url,
            model: embedRemote.model,
            apiKey: embedKey,
            allowedHosts: config.modelHosts,
            queryPrefix: embedRemote.queryPrefix,
            passagePrefix: embedRemote.passagePrefix,
            batchSize: embedRemote.batchSize,
            timeoutMs: embedRemote.timeoutMs,
          }),
      }
    : undefined;
  const modelRegistry = new ModelRegistry({ modelsDir: config.modelsDir, device: config.embedDevice, log: (m) => log.warn(m), remote: remoteEmbedding });
  const lanceDir = config.lanceDir;
  let index: ActiveIndex;
  try {
    index = await ActiveIndex.open({
      lanceDir,
      readIntervalMs: config.lanceReadIntervalMs,
      vectorIndex: config.vectorIndex,
      metadata,
      models: modelRegistry,
      configuredModel: remoteEmbedding?.id ?? config.embedModel,
      log: (msg, fields) => log.info(fields ?? {}, msg),
    });
  } catch (err) {
    const table = (await metadata.settings.get<{ table: string }>(ACTIVE_KEY))?.table ?? CHUNKS_TABLE;
    await changes.close();
    await closeMetadata();
    throw isLanceError(err) ? tableDamagedError(config.dataDir, lanceDir, table, err) : err;
  }
  index.watch();
  index.useChangeFeed(changes);
  const chunks = index.store;
  const sensitive = new SensitiveIndex(metadata.sensitive, metadata.documents, chunks, audit);
  const models: ModelStatus = index.status;
  if (models.embeddingNote) log.warn(models.embeddingNote);
  const activeEmbedder = () => index.embedder();

  const jobDeps: JobDeps = {
    metadata,
    documents: metadata.documents,
    jobs: metadata.jobs,
    chunks,
    index,
    blobs,
    erasure: metadata.erasure,
    audit,
    embedder: activeEmbedder,
    log: (msg, fields) => log.info(fields ?? {}, msg),
    resolveAccess: (facts, explicit) => resolveDocumentAccess(policy.documentRules(), facts, explicit),
    recordSensitive: (documentId, chunks) => sensitive.record(documentId, chunks),
    concurrency: config.ingestConcurrency,
    extraction: {
      processes: config.extractProcesses,
      timeoutMs: config.extractTimeoutMs,
      wallMs: config.extractWallMs,
      maxRssBytes: config.extractMaxRssBytes,
      limits: { maxXmlPartBytes: config.maxXmlPartBytes, maxDocumentBytes: config.maxDocumentBytes },
    },
    optimizeIntervalS: config.optimizeIntervalS,
    directorySync: (id, progress) => ldap.sync(id, progress),
    metrics,
  };
  const runner = new JobRunner(jobDeps);
  const ingest = new IngestService(jobDeps);
  // The image-description model (KB_IMAGE_MODEL) is optional, never fatal, and loaded at the first
  // picture to describe; it is the process's describer for extraction (children ask this process).
  const imageModel = new ImageDescriberSlot(
    config.imageModel,
    async (model) => (await import("../models/image-captioner.ts")).loadImageCaptioner({ modelsDir: config.modelsDir, model, device: config.embedDevice, log: (m) => log.warn(m) }),
    config.imageTimeoutMs,
    (level, msg, fields) => log[level](fields ?? {}, msg),
  );
  if (imageModel.configured) setImageDescriber(imageModel);
  // The reranker is optional and never fatal: one that fails to load leaves search without it.
  const reranker = new RerankerSlot(
    config.rerankModel,
    async (model) => (await import("../models/reranker.ts")).loadReranker({ modelsDir: config.modelsDir, model, device: config.embedDevice, log: (m) => log.warn(m) }),
    (level, msg, fields) => log[level](fields ?? {}, msg),
  );
  if (reranker.configured && options.rerankerLoad !== "lazy") await reranker.get();
  const retriever = new Retriever(
    chunks,
    activeEmbedder,
    (ids) => metadata.documents.indexedBeforeSensitiveVersion(ids, SENSITIVE_DETECTOR_VERSION),
    (actor, scope) => scopeClause(() => metadata.documents.all(), actor, scope),
    (mode, seconds) => metrics.retrieval(mode, seconds),
    // One read of the pointer per query (besides the poll every second): the first query after
    // another process switched the table already uses the new one. A failure keeps the old pair.
    // While other processes' switches are announced to this one (PostgreSQL: NOTIFY, or the poll
    // with KB_PG_NOTIFY=off), the announcement refreshes and the per-query read is skipped.
    // A query that arrives while an announced switch is being opened waits for it.
    () => (index.mustReadPointer ? index.refresh() : index.settled()).catch((err: unknown) => log.warn({ err: String(err) }, "could not follow the active chunk table")),
    {
      settings: config.retrieval,
      // Only when configured: without a reranker, candidate counts and results are as before.
      ...(reranker.configured ? { reranker: () => reranker.get() } : {}),
      observeRerank: ({ seconds, error }) => {
        metrics.rerank(error === undefined ? "ok" : "failed", seconds);
        if (error !== undefined) log.warn({ err: String(error) }, "reranker failed on a query: fused order kept");
      },
      fingerprintOf: new DocumentFingerprints((id) => metadata.documents.pages(id)).of,
    },
  );
  const answerer: Answerer = llmConfigured
    ? new DeferredLlmAnswerer(async () => (await ensureLlm())!, { maxTokens: config.llmMaxTokens, metrics, ...options.llmAnswer })
    : new ExtractiveAnswerer();
  const historyGuard = {
    canReadDocument: async (actor: Actor, id: string) => {
      const d = await metadata.documents.byId(id);
      return d !== undefined && canRead(actor, accessOfRow(d));
    },
    redactorFor,
  };
  const conversations = new ConversationService(metadata, ensureLlm, historyGuard, audit);
  const feedback = new FeedbackService({ store: metadata, guard: historyGuard, titleOf: async (id) => (await metadata.documents.byId(id))?.title, audit });
  const ask = new AskService({ retriever, answerer: () => answerer, pageTexts: (id) => metadata.documents.pages(id), conversations, audit, describer: imageModel.configured ? imageModel : null });
  const workers: JobWorker[] = [];
  const jobs = new JobsService(
    jobDeps,
    runner,
    () => {
      for (const w of workers) w.poke();
    },
    { syncRoots: config.syncRoots, checkPrincipals: (ps) => accounts.refuseLookAlikePrincipals(ps) },
  );

  // A chunk table of an older layout (a data folder of an earlier version) is brought up to date
  // before anything reads it (stores/lance/layout.ts); a step that changes what the rows hold
  // has every document re-indexed by a job. The other chunk tables (the previous one kept for a
  // rollback, a re-embed's shadow) are upgraded too, since either may become the active one.
  let facts: Map<string, { tags: string[]; versionAt: string | null }> | null = null;
  const documentFacts = async () => (facts ??= new Map((await metadata.documents.all()).map((d) => [d.id, { tags: d.tags, versionAt: d.versionAt }])));
  const layout = await chunks.upgradeLayout({
    submitReindex: async (why) => log.warn({ jobId: (await jobs.submitReindex(SYSTEM_ACTOR)).jobId, why }, "chunk table layout upgrade: reindex job submitted"),
    documentFacts,
  });
  if (layout.steps.length) log.info({ ...layout }, "chunk table layout upgraded");
  if (chunks.vectors) for (const s of layout.steps) if (s.reindexAdvisedWithVectors) log.warn({ table: chunks.name, layout: s.to }, s.reindexAdvisedWithVectors);
  for (const name of await chunks.tableNames()) {
    if (name === chunks.name) continue;
    const other = await index.table(name);
    const upgraded = await other.upgradeLayout({ submitReindex: () => {}, documentFacts });
    if (upgraded.steps.length) log.info({ ...upgraded }, "chunk table layout upgraded");
  }

  const llmInfo = (): Record<string, unknown> | null => {
    if (llm) return { ...llm.info() };
    return llmConfigured ? { model: llmPath ? path.basename(llmPath) : config.llmModel, loaded: false } : null;
  };
  metrics.useSources({
    jobQueue: () => metadata.jobs.queueStats(),
    llmQueue: () => {
      if (!llm) return null;
      const stats = llm.stats();
      return { queued: stats.queued, active: stats.active };
    },
  });
  const services: Omit<Kb & KbStores, keyof ReturnType<typeof sqliteOnly>> = {
    config,
    log,
    metadata,
    metadataKind: db ? "sqlite" : "postgres",
    chunks,
    index,
    jobs,
    accounts,
    signIn,
    directory,
    oidc,
    ldap,
    admin: new AdminService(accounts, audit, signIn, metadata, directory),
    access: new AccessService({ documents: metadata.documents, writer: runner.writer, audit, retriever, accounts, policy }),
    policy,
    sensitive,
    audit,
    authFailures,
    ingest,
    documents: new DocumentService(metadata.documents, blobs, ingest, { writer: runner.writer, sensitive, audit, checkPrincipals: (ps) => accounts.refuseLookAlikePrincipals(ps) }),
    retriever,
    search: new SearchService(retriever, audit),
    ask,
    status: new StatusService({
      models,
      retrievalMode: () => retriever.mode,
      answerMode: () => ask.answerMode,
      llmInfo: () => llmInfo(),
      reranker: () => ({ state: reranker.status(), candidates: config.retrieval.rerankCandidates }),
      imageModel: () => ({ state: imageModel.status(), ...imageModel.counts }),
      modelServers: () => ({
        allowedHosts: config.modelHosts,
        inUse: [
          ...(config.llmRemote ? [{ role: "llm" as const, host: endpointHost(config.llmRemote.url), model: config.llmRemote.model }] : []),
          ...(embedRemote ? [{ role: "embedding" as const, host: endpointHost(embedRemote.url), model: embedRemote.model }] : []),
        ],
      }),
      sensitiveIndex: () => sensitive.indexStatus(),
      documentCount: () => metadata.documents.count(),
      chunkCount: () => chunks.count(),
      indexInfo: () => index.info(),
      jobQueue: async () => {
        const counts = await metadata.jobs.countByStatus();
        // Running first, then queued; the oldest first within each (the order a worker takes them).
        const active = [...(await metadata.jobs.list({ status: ["running"], limit: ACTIVE_JOBS_SHOWN })), ...(await metadata.jobs.list({ status: ["queued"], limit: ACTIVE_JOBS_SHOWN }))]
          .sort((a, b) => (a.status === b.status ? a.createdAt.localeCompare(b.createdAt) : a.status === "running" ? -1 : 1))
          .slice(0, ACTIVE_JOBS_SHOWN);
        return {
          workerAlive: await jobs.anyLiveWorker(),
          counts: { queued: 0, running: 0, succeeded: 0, failed: 0, partial: 0, cancelled: 0, ...counts },
          active: active.map((j) => ({ id: j.id, kind: j.kind, status: j.status as "queued" | "running", done: j.done, total: j.total, phase: j.phase, createdAt: j.createdAt, startedAt: j.startedAt })),
        };
      },
    }),
    models,
    async startWorker(options = {}) {
      const { schedules = true, ...rest } = options;
      // A scheduled folder outside KB_SYNC_ROOTS is refused here, once, rather than at every tick.
      // Each folder as its real path, which is what its sync jobs record.
      const sources = (schedules ? loadSources(config.syncSources, config.dataDir) : []).flatMap((s) => {
        try {
          return [{ ...s, folder: jobs.syncFolder(SYSTEM_ACTOR, s.folder) }];
        } catch (err) {
          log.error({ source: s.name, folder: s.folder, err: (err as Error).message }, "scheduled sync refused");
          return [];
        }
      });
      const scheduler = new Scheduler(sources, { metadata, jobsService: jobs, log: (msg, fields) => log.info(fields ?? {}, msg), intervals: () => (schedules ? ldap.schedules() : []) });
      const worker = new JobWorker(metadata.jobs, runner, jobDeps, { ...rest, scheduler, log: (msg, fields) => log.info(fields ?? {}, msg) });
      try {
        const r = await reindexDocumentsOfOlderDetector({ metadata, jobsService: jobs });
        if (r.stale > 0) log.warn({ documents: r.stale, jobId: r.jobId }, `documents indexed by an older personal-data detector: reindex job ${r.submitted ? "submitted" : "already queued"}`);
      } catch (err) {
        log.error({ err: String(err) }, "could not check for documents indexed by an older personal-data detector; run `kb reindex --sensitive-stale`");
      }
      worker.start();
      workers.push(worker);
      return worker;
    },
    wakeWorker() {
      for (const w of workers) w.poke();
    },
    llmInfo,
    get llm() {
      return llm;
    },
    loadLlm: ensureLlm,
    reranker,
    conversations,
    feedback,
    scim: new ScimService({ store: metadata, directory, audit, sourceId: config.scimSource }),
    metrics,
    changes,
    rateLimits: new RateLimits({ perMinute: config.rateLimitPerMinute, anonPerMinute: config.anonRateLimitPerMinute }, databaseUrl ? metadata.rateLimits : null),
    async close() {
      await authFailures.close(); // pending counts are written while the database is open
      for (const w of workers) await w.stop();
      await runner.close();
      await index.close();
      await modelRegistry.closeAll();
      await reranker.close();
      if (getImageDescriber() === imageModel) setImageDescriber(null);
      await imageModel.close();
      if (llmLoading) await (llmLoading as Promise<LlmProvider>).then((p) => p.close()).catch(() => {});
      await remoteLlm?.close();
      await closeExtractors();
      await audit.close(); // what waits for KB_AUDIT_FORWARD is sent (briefly)
      await changes.close();
      await closeMetadata();
    },
  };
  // The SQLite-only getters are copied as getters (a spread would call them).
  const kb = Object.defineProperties(services, Object.getOwnPropertyDescriptors(sqliteOnly(db))) as Kb & KbStores;
  const names = await canonicalizeStoredNames({ accounts, metadata, index, audit });
  if (names?.renamed.length || names?.documents) log.info({ renamed: names.renamed, documents: names.documents }, "principal names canonicalized (NFKC + case folding)");
  const conflicts = names?.conflicts ?? (await accounts.nameConflicts());
  if (conflicts.collisions.length || conflicts.confusables.length) {
    log.warn({ ...conflicts }, "users or groups whose names collide or look alike were left as they are; resolve them (see kb users conflicts)");
  }
  return kb;
}
