/**
 * What every job kind gets: the stores and services a run may use (`JobDeps`), the claimed job
 * with its worker's signals (`JobRunContext`), and the shared machinery (`JobEnv`: the batched
 * file pipeline, the document writer, the optimize policy), and the claim timings. Types and
 * constants only, so kind modules, the runner and the services around them import this and
 * never each other.
 */
import type { ContainerLimits } from "../../../ingest/types.ts";
import type { Access, DocumentFacts, ExplicitAccess } from "../../../policies/index.ts";
import type { EmbeddingProvider } from "../../models/embeddings.ts";
import type { BlobStore } from "../../stores/blob-store.ts";
import type { ChunkStore } from "../../stores/lance/chunk-store.ts";
import type { DocumentStore, ErasureStore, JobRow, JobStore, MetadataStore } from "../../stores/metadata.ts";
import type { ActiveIndex } from "../active-index.ts";
import type { AuditLog } from "../audit.ts";
import type { DocumentWriter } from "../document-writer.ts";
import type { OptimizePolicy } from "./optimize-policy.ts";

export interface IngestFileRequest {
  /** Shown to users; together with the caller it names the document again (see `IngestService.submit`). */
  source: string;
  /** Where the bytes are now (a local file or a stored upload blob). */
  path: string;
  title?: string;
  allow?: string[];
  deny?: string[];
  classification?: number;
  password?: string;
  /** Tags for a new document (document default rules can match on them). */
  tags?: string[];
}

/** What a job file carries besides its location: the request's options and the uploader. */
export interface FileOptions extends Omit<IngestFileRequest, "source" | "path"> {
  owner: string | null;
  /** The live version an update by id was based on (If-Match): another one at write time fails the file. */
  expectedVersion?: number;
  /** The file comes from a folder sync: document rules can match it (`match.synced`). */
  synced?: boolean;
}

/** An upload that updates one named document, whoever owns it, instead of the caller's own. */
export interface UpdateTarget {
  documentId: string;
  /** The version the caller last saw (If-Match); another live version answers 409. */
  expectedVersion?: number;
}

export interface JobDeps {
  /** The metadata store: `withTransaction` for work that commits as one (its repositories are the ones below). */
  metadata: MetadataStore;
  documents: DocumentStore;
  jobs: JobStore;
  /** The chunk store readers use (follows the active table). */
  chunks: ChunkStore;
  /** The active table pointer: where writes go, with which model, and the switch protocol. */
  index: ActiveIndex;
  blobs: BlobStore;
  /** Scrubs deleted documents' quotes and audit names, counts blob references (absent: not done). */
  erasure?: ErasureStore;
  audit: AuditLog;
  /** The embedder whose vectors match the chunk table readers use, or null (lexical only). */
  embedder: () => EmbeddingProvider | null;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Default access of documents (policies/document-rules.ts with the current rules file); default: built-in default. */
  resolveAccess?: (facts: DocumentFacts, explicit: ExplicitAccess) => Access & { tags?: string[] };
  /** Records personal data found in a new version's chunks (services/sensitive.ts). */
  recordSensitive?: (documentId: string, chunks: readonly { chunkId: string; text: string }[]) => Promise<unknown>;
  /** Files extracted ahead of the writer (default 4). */
  concurrency?: number;
  /**
   * Where files are extracted (extract-processes.ts). `processes` > 0: in that many child
   * processes with a time limit and an RSS cap per file; 0 or absent: in this process, with the
   * decompression caps only.
   */
  extraction?: { processes: number; timeoutMs: number; wallMs?: number; maxRssBytes: number; limits?: ContainerLimits };
  /** Seconds between optimize runs of the active table (default 300; 0: after every job that changed it). */
  optimizeIntervalS?: number;
  /** Seconds a re-embed waits after its switch before checking the new table against SQLite (default 5). */
  switchGraceS?: number;
  /** Syncs one LDAP directory (the directory-sync kind; services/ldap/directories.ts); its counts. */
  directorySync?: (directory: string, progress: (phase: string) => Promise<void>) => Promise<object>;
  /** Told each file version written to the index (metrics: files, pages, chunks, OCR'd pages). */
  metrics?: { ingested(file: { pages: number; chunks: number; ocrPages: number }): void };
}

/** What a job run may ask of the worker running it. */
export interface JobRunContext {
  job: JobRow;
  workerId: string;
  /** False once the job was cancelled or taken over, or the worker is stopping. */
  shouldContinue(): Promise<boolean>;
  progress(file: string): Promise<void>;
  log(msg: string, fields?: Record<string, unknown>): void;
}

/** The machinery a kind's run uses besides the stores. */
export interface JobEnv {
  deps: JobDeps;
  /** Runs every pending file row of the job (read, extract, write in batches); true when something changed. */
  files: { runFiles(ctx: JobRunContext): Promise<boolean> };
  writer: DocumentWriter;
  optimizer: OptimizePolicy;
}

/** What a run did: `changed` (the table changed: optimize soon), `completed` (false: stopped early, back to the queue). */
export interface KindResult {
  changed: boolean;
  completed: boolean;
}

/** One job kind: how a claimed job of it runs (and resumes after a crash, from its file rows and params). */
export interface JobKindRunner {
  run(ctx: JobRunContext, env: JobEnv): Promise<KindResult>;
}

/** How often a worker (or a `kb` command running a job) says it is alive. */
export const HEARTBEAT_MS = 2000;
/** A running job whose worker has been silent this long is considered abandoned. */
export const STALE_MS = 15_000;
