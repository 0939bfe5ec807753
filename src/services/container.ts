/**
 * The composition root: opens the stores and models named by the configuration and wires
 * the services. Entry points (HTTP server, CLI) get everything from here.
 */
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import type { Config } from "../config.ts";
import { loadEmbeddingProvider, type EmbeddingProvider } from "../models/embeddings.ts";
import { BlobStore } from "../stores/blob-store.ts";
import { ChunkStore } from "../stores/lance/chunk-store.ts";
import { AuditRepo } from "../stores/sqlite/audit-repo.ts";
import { openDb, type Db } from "../stores/sqlite/db.ts";
import { DocumentsRepo } from "../stores/sqlite/documents-repo.ts";
import { JobsRepo } from "../stores/sqlite/jobs-repo.ts";
import { UsersRepo } from "../stores/sqlite/users-repo.ts";
import { Accounts } from "./accounts.ts";
import { ExtractiveAnswerer } from "./answer/extractive.ts";
import type { Answerer } from "./answer/types.ts";
import { AskService } from "./ask.ts";
import { AuditLog } from "./audit.ts";
import { DocumentService } from "./documents.ts";
import { IngestService } from "./ingest/ingest-service.ts";
import { JobWorker } from "./ingest/job-worker.ts";
import { Retriever } from "./retrieval.ts";

export interface ModelStatus {
  embedding: { model: string; dimension: number } | null;
  /** Why the configured or found embedding model is not used, if it is not. */
  embeddingNote?: string;
}

export interface Kb {
  config: Config;
  log: pino.Logger;
  db: Db;
  documentsRepo: DocumentsRepo;
  jobsRepo: JobsRepo;
  chunks: ChunkStore;
  accounts: Accounts;
  audit: AuditLog;
  ingest: IngestService;
  documents: DocumentService;
  retriever: Retriever;
  ask: AskService;
  models: ModelStatus;
  /** Starts the in-process job worker (kb serve). */
  startWorker(): JobWorker;
  /** Tells in-process workers a job was just submitted. */
  wakeWorker(): void;
  /** The loaded LLM's facts for /readyz, or null in extractive mode. */
  llmInfo(): Record<string, unknown> | null;
  close(): Promise<void>;
}

export async function openKb(config: Config, options: { logger?: pino.Logger } = {}): Promise<Kb> {
  const log = options.logger ?? pino({ level: config.logLevel }, pino.destination(2));
  fs.mkdirSync(config.dataDir, { recursive: true });
  const db = openDb(path.join(config.dataDir, "app.sqlite"));
  const users = new UsersRepo(db);
  const documentsRepo = new DocumentsRepo(db);
  const jobsRepo = new JobsRepo(db);
  const audit = new AuditLog(new AuditRepo(db));
  const blobs = new BlobStore(path.join(config.dataDir, "blobs"));

  let embedder: EmbeddingProvider | null = null;
  const models: ModelStatus = { embedding: null };
  if (config.embedModel !== "none") {
    try {
      embedder = await loadEmbeddingProvider({ modelsDir: config.modelsDir, model: config.embedModel, device: config.embedDevice });
    } catch (err) {
      if (config.embedModel) throw err; // an explicitly configured model must load
      models.embeddingNote = `found a model folder but could not load it: ${(err as Error).message}`;
    }
  }
  const chunks = await ChunkStore.open(path.join(config.dataDir, "lancedb"), embedder ? { model: embedder.modelId, dimension: embedder.dimension } : null);
  if (embedder) {
    const v = chunks.vectors;
    if (!v || v.model !== embedder.modelId || v.dimension !== embedder.dimension) {
      models.embeddingNote = v
        ? `the index holds vectors of ${v.model} (${v.dimension}d), not of ${embedder.modelId} (${embedder.dimension}d); running lexical-only until the index is rebuilt`
        : `the index was built without vectors; running lexical-only until it is rebuilt with ${embedder.modelId}`;
      await embedder.close();
      embedder = null;
    } else {
      models.embedding = { model: embedder.modelId, dimension: embedder.dimension };
    }
  }
  if (models.embeddingNote) log.warn(models.embeddingNote);
  const activeEmbedder = () => embedder;

  const ingest = new IngestService({
    documents: documentsRepo,
    jobs: jobsRepo,
    chunks,
    blobs,
    audit,
    embedder: activeEmbedder,
    log: (msg, fields) => log.info(fields ?? {}, msg),
  });
  const retriever = new Retriever(chunks, activeEmbedder);
  const answerer: Answerer = new ExtractiveAnswerer();
  const ask = new AskService(retriever, () => answerer);
  const workers: JobWorker[] = [];

  return {
    config,
    log,
    db,
    documentsRepo,
    jobsRepo,
    chunks,
    accounts: new Accounts(users),
    audit,
    ingest,
    documents: new DocumentService(documentsRepo, blobs, ingest),
    retriever,
    ask,
    models,
    startWorker() {
      const worker = new JobWorker(jobsRepo, ingest, (msg, fields) => log.info(fields ?? {}, msg));
      worker.start();
      workers.push(worker);
      return worker;
    },
    wakeWorker() {
      for (const w of workers) w.poke();
    },
    llmInfo() {
      return null;
    },
    async close() {
      for (const w of workers) await w.stop();
      await embedder?.close();
      chunks.close();
      db.$client.close();
    },
  };
}
