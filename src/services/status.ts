/**
 * What the server runs with, for /readyz: `{ status }` for anyone (load balancers), and the
 * modes, models and counts for those who may read server details. The counts include documents
 * the caller may not read, hence the capability. `system` adds the active index and the job
 * queue, for the web app's system page (GET /api/v1/admin/status: the session cookie does not
 * reach /readyz).
 */
import { authorize, can, ServerStatus, type Actor } from "../../policies/index.ts";
import type { IndexInfo, ModelStatus } from "./active-index.ts";
import type { ImageModelState } from "./image-describer-slot.ts";
import type { RerankerState } from "./reranker-slot.ts";

/**
 * A reduced-mode note: `text` in English (logs, the CLI, API clients), `code` and `params` so that
 * the web app can say the same in the reader's language (its strings are keyed by code; an unknown
 * code falls back to `text`).
 */
export interface StatusNotice {
  code: "embedding_problem" | "lexical_only" | "reranker_failed" | "image_model_failed" | "extractive_only" | "llm_gpu_fallback" | "model_servers" | "sensitive_stale";
  params: Record<string, string | number>;
  text: string;
}

export interface Readiness {
  status: "ready";
  retrieval?: "lexical" | "hybrid";
  answer?: "extractive" | "llm";
  embedding?: ModelStatus["embedding"];
  reranker?: RerankerReadiness | null;
  imageModel?: ImageModelReadiness | null;
  llm?: Record<string, unknown> | null;
  notes?: string[];
  notices?: StatusNotice[];
  documents?: number;
  chunks?: number;
  sensitiveDetector?: { version: number; staleDocuments: number };
  modelServers?: ModelServers;
}

/** The cross-encoder reranker (KB_RERANK_MODEL): null when none is configured. */
export interface RerankerReadiness {
  model: string;
  /** ready: reranks every query; loading: first query not yet run (CLI) or still loading; failed: search runs without it. */
  status: "ready" | "loading" | "failed";
  /** Fused candidates it re-scores per query. */
  candidates: number;
  error?: string;
}

/** The image-description model (KB_IMAGE_MODEL): null when none is configured. */
export interface ImageModelReadiness {
  model: string;
  /** idle: configured, loads at the first picture to describe; loading; ready; failed: pictures keep their OCR text only. */
  status: "idle" | "loading" | "ready" | "failed";
  /** Pictures described, failed and timed out since the server started. */
  described: number;
  failed: number;
  timedOut: number;
  error?: string;
}

/** Remote model servers: the allow-list (KB_MODEL_HOSTS) and the ones configured for use. */
export interface ModelServers {
  allowedHosts: string[];
  inUse: { role: "llm" | "embedding"; host: string; model: string }[];
}

export interface JobQueueState {
  /** Some worker process has shown life recently and will run queued jobs. */
  workerAlive: boolean;
  /** Jobs per status, all of them. */
  counts: Record<"queued" | "running" | "succeeded" | "failed" | "partial" | "cancelled", number>;
  /** Running, then queued jobs (up to 20 of each, the newest; shown oldest first), at most 20 in all. */
  active: { id: string; kind: string; status: "queued" | "running"; done: number; total: number; phase: string | null; createdAt: string; startedAt: string | null }[];
}

export interface SystemStatus {
  retrieval: "lexical" | "hybrid";
  answer: "extractive" | "llm";
  embedding: ModelStatus["embedding"];
  reranker: RerankerReadiness | null;
  imageModel: ImageModelReadiness | null;
  llm: Record<string, unknown> | null;
  notes: string[];
  notices: StatusNotice[];
  index: {
    /** The chunk table serving queries, its model, and since when (and by which job) it is active. */
    table: string;
    model: string | null;
    dimension: number | null;
    since: string | null;
    jobId: string | null;
    documents: number;
    chunks: number;
    sensitiveDetector: { version: number; staleDocuments: number };
  };
  jobs: JobQueueState;
}

export interface StatusDeps {
  models: ModelStatus;
  retrievalMode: () => "lexical" | "hybrid";
  answerMode: () => "extractive" | "llm";
  llmInfo: () => Record<string, unknown> | null;
  /** The reranker slot's state and how many candidates it re-scores. */
  reranker?: () => { state: RerankerState; candidates: number };
  /** The image-description slot's state and counts. */
  imageModel?: () => { state: ImageModelState; described: number; failed: number; timedOut: number };
  modelServers: () => ModelServers;
  sensitiveIndex: () => Promise<{ detectorVersion: number; staleDocuments: number }>;
  /** Every document row, readable by the caller or not. */
  documentCount: () => Promise<number>;
  /** Rows of the active chunk table. */
  chunkCount: () => Promise<number>;
  /** The chunk table serving queries in this process. */
  indexInfo: () => IndexInfo;
  jobQueue: () => Promise<JobQueueState>;
}

export class StatusService {
  constructor(private readonly deps: StatusDeps) {}

  /** How many documents the knowledge base holds (first start: is it empty?). */
  documentCount(): Promise<number> {
    return this.deps.documentCount();
  }

  /** `actor` null: no token, or one that does not authenticate. */
  async readiness(actor: Actor | null): Promise<Readiness> {
    if (!actor || !can(actor, "read_details", ServerStatus, null)) return { status: "ready" };
    const { models } = this.deps;
    const notices: StatusNotice[] = [];
    const note = (code: StatusNotice["code"], text: string, params: StatusNotice["params"] = {}) => notices.push({ code, params, text });
    if (models.embeddingNote) note("embedding_problem", models.embeddingNote, { detail: models.embeddingNote });
    if (!models.embedding) note("lexical_only", "no embedding model loaded: lexical (BM25) retrieval only");
    const reranker = this.rerankerReadiness();
    if (reranker?.status === "failed") {
      note("reranker_failed", `reranker ${reranker.model} failed to load (${reranker.error}): search runs without reranking`, { model: reranker.model, error: reranker.error ?? "" });
    }
    const imageModel = this.imageModelReadiness();
    if (imageModel?.status === "failed") {
      note("image_model_failed", `image model ${imageModel.model} failed to load (${imageModel.error}): pictures keep their OCR text only, without descriptions`, {
        model: imageModel.model,
        error: imageModel.error ?? "",
      });
    }
    const llm = this.deps.llmInfo();
    if (!llm) note("extractive_only", "no LLM configured: answers are extractive (quoted source sentences)");
    else if (typeof llm.gpuFallback === "string") note("llm_gpu_fallback", `LLM: ${llm.gpuFallback}`, { detail: llm.gpuFallback });
    const servers = this.deps.modelServers();
    if (servers.inUse.length) {
      const inUse = servers.inUse.map((s) => `${s.role} ${s.model} at ${s.host}`).join(", ");
      const hosts = servers.allowedHosts.join(", ");
      note("model_servers", `model servers in use: ${inUse}; only hosts on KB_MODEL_HOSTS (${hosts}) are contacted, and redirects are never followed`, { servers: inUse, hosts });
    }
    const pii = await this.deps.sensitiveIndex();
    if (pii.staleDocuments > 0) {
      note(
        "sensitive_stale",
        `${pii.staleDocuments} documents were indexed by an older personal-data detector; a worker re-indexes them when it starts (or run \`kb reindex --sensitive-stale\`)`,
        { count: pii.staleDocuments },
      );
    }
    return {
      status: "ready",
      retrieval: this.deps.retrievalMode(),
      answer: this.deps.answerMode(),
      embedding: models.embedding,
      reranker,
      imageModel,
      llm,
      notes: notices.map((n) => n.text),
      notices,
      documents: await this.deps.documentCount(),
      chunks: await this.deps.chunkCount(),
      sensitiveDetector: { version: pii.detectorVersion, staleDocuments: pii.staleDocuments },
      modelServers: servers,
    };
  }

  private rerankerReadiness(): RerankerReadiness | null {
    const r = this.deps.reranker?.();
    if (!r || r.state.status === "off") return null;
    return { model: r.state.model, status: r.state.status, candidates: r.candidates, ...(r.state.status === "failed" ? { error: r.state.error } : {}) };
  }

  private imageModelReadiness(): ImageModelReadiness | null {
    const r = this.deps.imageModel?.();
    if (!r || r.state.status === "off") return null;
    return { model: r.state.model, status: r.state.status, described: r.described, failed: r.failed, timedOut: r.timedOut, ...(r.state.status === "failed" ? { error: r.state.error } : {}) };
  }

  /** Modes, models, the active index and the job queue; for those who may read server details (403 otherwise). */
  async system(actor: Actor): Promise<SystemStatus> {
    authorize(actor, "read_details", ServerStatus, null);
    const ready = await this.readiness(actor);
    const info = this.deps.indexInfo();
    return {
      retrieval: ready.retrieval!,
      answer: ready.answer!,
      embedding: ready.embedding ?? null,
      reranker: ready.reranker ?? null,
      imageModel: ready.imageModel ?? null,
      llm: ready.llm ?? null,
      notes: ready.notes ?? [],
      notices: ready.notices ?? [],
      index: {
        table: info.table,
        model: info.model,
        dimension: info.dimension,
        since: info.since ?? null,
        jobId: info.jobId ?? null,
        documents: ready.documents ?? 0,
        chunks: ready.chunks ?? 0,
        sensitiveDetector: ready.sensitiveDetector ?? { version: 0, staleDocuments: 0 },
      },
      jobs: await this.deps.jobQueue(),
    };
  }
}
