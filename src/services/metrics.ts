/**
 * Prometheus metrics of one knowledge base: a registry per `Kb` (never prom-client's global one,
 * so tests and benchmarks can open many), recorded by services through the small methods below
 * and rendered for GET /metrics (src/http/routes/metrics.ts) or the loopback metrics port.
 *
 * Counters only count; rates (files per second, tokens per second) are Prometheus' `rate()` over
 * them. Gauges that describe shared state (the job queue, the LLM queue) are read when scraped.
 * Process metrics are prom-client's default collectors on this registry, started at the first
 * scrape (they keep an event-loop monitor running, which a knowledge base nobody scrapes
 * does not need).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { authorize, ServerStatus, type Actor } from "../../policies/index.ts";
import type { JobQueueStat } from "../stores/metadata.ts";

/** What the gauges read at scrape time. */
export interface MetricsSources {
  /** Queued and running jobs per kind, with the oldest one's creation time. */
  jobQueue(): Promise<JobQueueStat[]>;
  /** The loaded LLM's queue (null: no LLM loaded). */
  llmQueue(): { queued: number; active: number } | null;
}

/** Seconds buckets for HTTP requests and retrieval: 1 ms to 30 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds to an LLM's first token: 10 ms to 2 min (a CPU model with a long prompt is slow). */
const FIRST_TOKEN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];

export class Metrics {
  readonly registry = new Registry();
  private defaultsStarted = false;
  private sources: MetricsSources | null = null;

  private readonly httpDuration = new Histogram({
    name: "kb_http_request_duration_seconds",
    help: "HTTP requests by method, route pattern and status: time to the response's headers (a streamed answer's body takes longer)",
    labelNames: ["method", "route", "status"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  // Counts beside the histograms: the same as their _count series, for tools (and the tests'
  // parser) that do not read labelled histograms.
  private readonly httpRequests = new Counter({
    name: "kb_http_requests_total",
    help: "HTTP requests by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: "kb_http_errors_total",
    help: "Error responses by the API's error code (the body's error.code) and status",
    labelNames: ["code", "status"] as const,
    registers: [this.registry],
  });
  /** Errors inside a 200 stream, which kb_http_errors_total (by response status and body) cannot see; `route` as in kb_http_requests_total. */
  private readonly streamErrors = new Counter({
    name: "kb_answer_stream_errors_total",
    help: "Streamed answers that failed after streaming started (an error event inside a 200 response), by route and the error code sent",
    labelNames: ["route", "code"] as const,
    registers: [this.registry],
  });
  private readonly retrievalDuration = new Histogram({
    name: "kb_retrieval_duration_seconds",
    help: "Retrieval (ACL-filtered search of the chunk index) by mode",
    labelNames: ["mode"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly retrievals = new Counter({ name: "kb_retrievals_total", help: "Retrievals by mode", labelNames: ["mode"] as const, registers: [this.registry] });
  private readonly rerankDuration = new Histogram({
    name: "kb_rerank_duration_seconds",
    help: "The cross-encoder reranker's scoring of one query's candidates (KB_RERANK_MODEL; part of kb_retrieval_duration_seconds)",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly reranks = new Counter({
    name: "kb_reranks_total",
    help: "Queries given to the reranker, by outcome (ok; failed: the query kept its fused order)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  private readonly ingestFiles = new Counter({ name: "kb_ingest_files_total", help: "Files written to the index (new or changed versions)", registers: [this.registry] });
  private readonly ingestPages = new Counter({ name: "kb_ingest_pages_total", help: "Pages of the files written to the index", registers: [this.registry] });
  private readonly ingestChunks = new Counter({ name: "kb_ingest_chunks_total", help: "Chunks written to the index", registers: [this.registry] });
  private readonly ocrPages = new Counter({ name: "kb_ocr_pages_total", help: "Pages of the files written to the index that were read by OCR", registers: [this.registry] });
  private readonly llmFirstToken = new Histogram({
    name: "kb_llm_time_to_first_token_seconds",
    help: "From the start of a generation (queue wait included) to its first token",
    buckets: FIRST_TOKEN_BUCKETS,
    registers: [this.registry],
  });
  private readonly llmTokens = new Counter({ name: "kb_llm_generated_tokens_total", help: "Tokens generated by the LLM (tokens/s: rate of this over rate of kb_llm_generation_seconds_total)", registers: [this.registry] });
  private readonly llmSeconds = new Counter({ name: "kb_llm_generation_seconds_total", help: "Seconds the LLM spent generating (from the first token to the last)", registers: [this.registry] });
  private readonly auditForward = new Counter({
    name: "kb_audit_forward_events_total",
    help: "Audit events forwarded to KB_AUDIT_FORWARD, by outcome (sent, dropped: the queue was full or the destination refused it)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  private readonly tokenDigest: Buffer | null;

  /** `token`: KB_METRICS_TOKEN, the scraper's own bearer token (none: only admins' tokens). */
  constructor(options: { token?: string } = {}) {
    this.tokenDigest = options.token ? createHash("sha256").update(options.token).digest() : null;
    const self = this;
    new Gauge({
      name: "kb_jobs",
      help: "Queued and running jobs by kind and status (read from the jobs store at scrape)",
      labelNames: ["kind", "status"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const s of (await self.sources?.jobQueue()) ?? []) this.set({ kind: s.kind, status: s.status }, s.count);
      },
    });
    new Gauge({
      name: "kb_jobs_oldest_queued_age_seconds",
      help: "Age of the oldest queued job by kind (absent: nothing queued)",
      labelNames: ["kind"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const now = Date.now();
        for (const s of (await self.sources?.jobQueue()) ?? []) {
          if (s.status === "queued") this.set({ kind: s.kind }, Math.max(0, (now - Date.parse(s.oldestCreatedAt)) / 1000));
        }
      },
    });
    new Gauge({
      name: "kb_llm_queue",
      help: "Generations waiting for the LLM (state=queued) and running (state=active); absent without a loaded LLM",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const q = self.sources?.llmQueue();
        if (!q) return;
        this.set({ state: "queued" }, q.queued);
        this.set({ state: "active" }, q.active);
      },
    });
  }

  /** The container hands the gauges their sources once the stores are open. */
  useSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpDuration.observe(labels, seconds);
    this.httpRequests.inc(labels);
  }

  errorResponse(code: string, status: number): void {
    this.errors.inc({ code, status: String(status) });
  }

  answerStreamError(route: string, code: string): void {
    this.streamErrors.inc({ route, code });
  }

  retrieval(mode: string, seconds: number): void {
    this.retrievalDuration.observe({ mode }, seconds);
    this.retrievals.inc({ mode });
  }

  /** One query's reranking: its duration, or its failure (the query went on without it). */
  rerank(outcome: "ok" | "failed", seconds: number): void {
    if (outcome === "ok") this.rerankDuration.observe(seconds);
    this.reranks.inc({ outcome });
  }

  /** One file's new version written to the index. */
  ingested(file: { pages: number; chunks: number; ocrPages: number }): void {
    this.ingestFiles.inc();
    this.ingestPages.inc(file.pages);
    this.ingestChunks.inc(file.chunks);
    if (file.ocrPages > 0) this.ocrPages.inc(file.ocrPages);
  }

  llmFirstTokenAfter(seconds: number): void {
    this.llmFirstToken.observe(seconds);
  }

  llmGenerated(tokens: number, seconds: number): void {
    if (tokens > 0) this.llmTokens.inc(tokens);
    if (seconds > 0) this.llmSeconds.inc(seconds);
  }

  auditForwarded(outcome: "sent" | "dropped", n = 1): void {
    this.auditForward.inc({ outcome }, n);
  }

  /** True when `token` is KB_METRICS_TOKEN (compared in constant time). */
  isMetricsToken(token: string): boolean {
    if (!this.tokenDigest) return false;
    return timingSafeEqual(createHash("sha256").update(token).digest(), this.tokenDigest);
  }

  /**
   * The text exposition for a reader: the holder of KB_METRICS_TOKEN (the caller checked it with
   * isMetricsToken) or an actor allowed `server_status` `read_metrics` (admins).
   */
  async scrape(reader: Actor | "metrics_token"): Promise<{ contentType: string; body: string }> {
    if (reader !== "metrics_token") authorize(reader, "read_metrics", ServerStatus, null);
    return this.render();
  }

  /**
   * The text exposition without an actor: for the metrics token (checked by the caller) and the
   * loopback-only metrics port.
   */
  async render(): Promise<{ contentType: string; body: string }> {
    if (!this.defaultsStarted) {
      this.defaultsStarted = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
