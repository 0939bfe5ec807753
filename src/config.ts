/**
 * Runtime configuration from the environment, validated once at start.
 * Everything has a sensible default so `kb serve` works with no settings at all.
 *
 * The one place that reads KB_* settings: entry points call `loadConfig(process.env)` and pass the
 * result down (openKb hands extraction its part with `configureExtraction`; extraction child
 * processes get the parent's settings in their fork arguments). No other module reads
 * `process.env` for configuration.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { z } from "zod";

const intFrom = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: "custom", message: `expected a non-negative integer, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** A comma list of IP addresses and CIDR subnets (`10.0.0.0/8`, `fd00::/8`), validated. */
const addressList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const entries = (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    for (const entry of entries) {
      const [ip, prefix, ...rest] = entry.split("/");
      const family = net.isIP(ip!);
      const bits = family === 4 ? 32 : 128;
      const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
      if (!family || !prefixOk || rest.length > 0) {
        ctx.addIssue({ code: "custom", message: `expected IP addresses or CIDR subnets separated by commas, got "${entry}"` });
        return z.NEVER;
      }
    }
    return entries;
  });

/** Fused candidates a reranker re-scores by default (KB_RERANK_CANDIDATES). */
export const DEFAULT_RERANK_CANDIDATES = 30;

const EnvSchema = z.object({
  KB_DATA_DIR: z.string().default("./data"),
  /** The LanceDB folder (chunk tables); default <data>/lancedb. A shared folder lets several machines use one. */
  KB_LANCEDB_DIR: z.string().optional(),
  /** The originals' folder; default <data>/blobs. */
  KB_BLOB_DIR: z.string().optional(),
  /** How often LanceDB checks for other processes' commits, in ms; 0 (default): on every read. */
  KB_LANCEDB_READ_INTERVAL_MS: intFrom(0),
  /** PostgreSQL mode: "on" (default) hears other processes' changes by LISTEN/NOTIFY; "off" polls the `changes` rows (poolers that drop NOTIFY). */
  KB_PG_NOTIFY: z.enum(["on", "off"]).default("on"),
  /** PostgreSQL mode with KB_PG_NOTIFY=off: how often the `changes` rows are read, ms. */
  KB_CHANGE_POLL_MS: intFrom(2000),
  KB_PORT: intFrom(8787),
  KB_HOST: z.string().default("127.0.0.1"),
  KB_MODELS_DIR: z.string().optional(),
  /** Embedding model folder under the models dir; "none" forces lexical mode; unset auto-detects. */
  KB_EMBED_MODEL: z.string().optional(),
  KB_EMBED_DEVICE: z.enum(["auto", "cpu", "cuda"]).default("cpu"),
  /** Cross-encoder reranker folder under the models dir (`bge-reranker-v2-m3`); unset or "none": no reranking. Runs on KB_EMBED_DEVICE. */
  KB_RERANK_MODEL: z.string().optional(),
  /** How many of the fused candidates the reranker re-scores (the rest keep their fused order behind them). */
  KB_RERANK_CANDIDATES: intFrom(DEFAULT_RERANK_CANDIDATES),
  /** Reciprocal rank fusion of the lexical and vector lists: `k=60,lexical=1,vector=1` (any of the three). */
  KB_FUSION: z.string().optional(),
  /** Chunks each search (BM25, vector) brings to the fusion; unset or 0: max(3 × topK, 30). */
  KB_LEXICAL_CANDIDATES: intFrom(0),
  KB_VECTOR_CANDIDATES: intFrom(0),
  /** GGUF file (path, or name under the models dir); unset means extractive answers. */
  KB_LLM_MODEL: z.string().optional(),
  KB_LLM_GPU: z.enum(["auto", "cuda", "vulkan", "metal", "off"]).default("auto"),
  KB_LLM_GPU_LAYERS: z.string().default("auto"),
  KB_LLM_CONTEXT: intFrom(4096),
  KB_LLM_SEQUENCES: intFrom(1),
  KB_LLM_QUEUE: intFrom(8),
  KB_LLM_TIMEOUT_S: intFrom(120),
  /**
   * CPU threads for LLM evaluation; unset/0: max(1, cores - 1). llama.cpp's worker threads spin-wait,
   * so using every core of a small, busy machine is far slower (2 threads on 2 shared cores measured
   * ~100x slower than 1); leaving one core free keeps HTTP, retrieval and ingestion responsive.
   */
  KB_LLM_THREADS: intFrom(0),
  /** Longest LLM answer, in tokens (capped at half the context). */
  KB_LLM_MAX_TOKENS: intFrom(512),
  /** Base URL of an OpenAI-compatible chat-completions server (`http://gpu1.corp:8000/v1`); replaces KB_LLM_MODEL. */
  KB_LLM_URL: z.string().optional(),
  /** The model name sent to KB_LLM_URL. */
  KB_LLM_REMOTE_MODEL: z.string().optional(),
  /** The model server's API key, from a file (mode 0600) or the environment; never logged. */
  KB_LLM_API_KEY: z.string().optional(),
  KB_LLM_API_KEY_FILE: z.string().optional(),
  /** Requests sent to KB_LLM_URL at once; more wait (KB_LLM_QUEUE), beyond that 429. */
  KB_LLM_MAX_CONCURRENT: intFrom(4),
  /** Base URL of an OpenAI-compatible embeddings server (`http://gpu1.corp:8080/v1`); replaces KB_EMBED_MODEL. */
  KB_EMBED_URL: z.string().optional(),
  KB_EMBED_REMOTE_MODEL: z.string().optional(),
  KB_EMBED_API_KEY: z.string().optional(),
  KB_EMBED_API_KEY_FILE: z.string().optional(),
  /** Prefixes the remote embedder's texts get; unset: the model family's (e5: `query: `/`passage: `), else none. */
  KB_EMBED_QUERY_PREFIX: z.string().optional(),
  KB_EMBED_PASSAGE_PREFIX: z.string().optional(),
  /** Texts per /embeddings request. */
  KB_EMBED_BATCH: intFrom(32),
  KB_EMBED_TIMEOUT_S: intFrom(60),
  /** host[:port] entries (comma-separated) that remote model URLs may name; nothing else is ever contacted. */
  KB_MODEL_HOSTS: z.string().optional(),
  KB_MAX_UPLOAD_MB: intFrom(100),
  KB_RATE_LIMIT_PER_MIN: intFrom(600),
  /** Searches and questions answered at once; 0: no limit (see src/http/middleware/overload.ts). */
  KB_MAX_IN_FLIGHT: intFrom(32),
  /** Searches and questions waiting for a turn; beyond, 503 at once. */
  KB_MAX_QUEUED: intFrom(256),
  /** How long one waits for a turn before a 503, in ms. */
  KB_QUEUE_WAIT_MS: intFrom(5000),
  /**
   * Requests without a valid token (failed authentication, /readyz, /openapi.json, unknown routes)
   * per client address per minute; /healthz is never limited. 0 turns the limit off.
   */
  KB_ANON_RATE_LIMIT_PER_MIN: intFrom(120),
  /**
   * Reverse proxies whose X-Forwarded-For is believed (IPs and CIDR subnets, comma-separated).
   * Unset: the client address is the connection's peer address, whatever the header says.
   */
  KB_TRUSTED_PROXIES: addressList,
  /**
   * The URL people open (`https://kb.example.com`), when the server is behind a proxy or a name:
   * printed at start, the origin cookie-authenticated writes must come from, and, when https,
   * session cookies are marked Secure.
   */
  KB_PUBLIC_URL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      try {
        const u = new URL(v);
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
        return u.origin;
      } catch {
        ctx.addIssue({ code: "custom", message: `expected an http(s) URL, got "${v}"` });
        return z.NEVER;
      }
    }),
  /** A web session ends after this many minutes without a request. */
  KB_SESSION_IDLE_MINUTES: intFrom(60),
  /** A web session ends this many hours after sign-in, whatever its activity. */
  KB_SESSION_MAX_HOURS: intFrom(12),
  /** Consecutive failed passwords that lock an account, and for how long. */
  KB_LOGIN_LOCK_AFTER: intFrom(5),
  KB_LOGIN_LOCK_MINUTES: intFrom(15),
  /** Audit events older than this are purged at start and daily; 0 keeps them forever. */
  KB_AUDIT_RETENTION_DAYS: intFrom(365),
  /**
   * Where audit events are also sent, as they are written: `syslog+udp://host:514`,
   * `syslog+tcp://host:601` (RFC 5424, the event as JSON) or `file:/path/audit.jsonl` (JSON lines).
   */
  KB_AUDIT_FORWARD: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (/^file:/.test(v) && path.isAbsolute(v.slice("file:".length))) return v;
      const m = /^syslog\+(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^/:\s]+):(\d{1,5})\/?$/.exec(v);
      if (m && Number(m[3]) > 0 && Number(m[3]) < 65536) return v;
      ctx.addIssue({ code: "custom", message: `expected syslog+udp://host:port, syslog+tcp://host:port or file:/absolute/path, got "${v}"` });
      return z.NEVER;
    }),
  /** A port on 127.0.0.1 that serves GET /metrics without a token; 0 (default): none. */
  KB_METRICS_PORT: intFrom(0),
  /** The scraper's bearer token for GET /metrics (besides admins' tokens); KB_METRICS_TOKEN_FILE is preferred. */
  KB_METRICS_TOKEN: z.string().optional(),
  /** A file (mode 0600) holding the scraper's bearer token for GET /metrics. */
  KB_METRICS_TOKEN_FILE: z.string().optional(),
  /** Folder of roles.json and document-rules.json; default <data>/policies. */
  KB_POLICY_DIR: z.string().optional(),
  /** The SCIM source's id: provisioned users and groups belong to directory source `scim:<id>`. */
  /** PostgreSQL as the metadata store (postgres://user:password@host/db); unset: SQLite in the data folder. */
  KB_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL").optional(),
  /** A file holding the URL (mode 600), instead of the environment; wins over KB_DATABASE_URL. */
  KB_DATABASE_URL_FILE: z.string().optional(),
  KB_SCIM_SOURCE: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, "a lower-case letter, then up to 15 of a-z, 0-9, -").default("scim"),
  /** Files read and extracted ahead of the ingestion writer (default: CPU count, at most 8). */
  KB_INGEST_CONCURRENCY: intFrom(0),
  /**
   * Child processes extracting files (default: one per core, at least 2, at most 8). 0: extraction in
   * the ingesting process itself, without the time and memory limits below (tests, debugging).
   */
  KB_EXTRACT_PROCESSES: intFrom(-1),
  /** Seconds one file may spend in extraction (OCR waits excluded) before its process is killed. */
  KB_EXTRACT_TIMEOUT_S: intFrom(300),
  /**
   * Seconds one file may take in its extraction process, OCR waits included, before the process is
   * killed and the file fails with `extract_stalled` (0 or unset: 10 × KB_EXTRACT_TIMEOUT_S).
   */
  KB_EXTRACT_WALL_S: intFrom(0),
  /** Resident memory of one extraction process before it is killed (its V8 heap is capped at 3/4 of this). */
  KB_EXTRACT_MAX_RSS_MB: intFrom(2048),
  /** Tesseract workers of the OCR pool (pages OCR'd at once); unset, 0 or not a positive number: one per core. */
  KB_OCR_WORKERS: z.string().optional(),
  /** `off` (or 0, false, no): pictures inside DOCX/PPTX files are not OCR'd. */
  KB_OCR_PICTURES: z.string().optional(),
  /** `off` (or 0, false, no): PDF pages without a usable text layer are not OCR'd (text layer only). */
  KB_OCR_PDF: z.string().optional(),
  /** Image-to-text model folder under the models dir (VisionEncoderDecoder, transformers.js layout); unset, `off` or `none`: no picture descriptions. Runs on KB_EMBED_DEVICE. */
  KB_IMAGE_MODEL: z.string().optional(),
  /** Longest one picture description may take before the picture is left without one. */
  KB_IMAGE_TIMEOUT_S: intFrom(30),
  /** Most pictures described per file (the first ones without text, in document order). */
  KB_IMAGE_MAX_PER_FILE: intFrom(20),
  /** LibreOffice's soffice, for .doc .xls .ppt .rtf .odt .ods .odp; unset: `soffice` on PATH. */
  KB_SOFFICE_PATH: z.string().optional(),
  /** Seconds one LibreOffice conversion may take before its processes are killed. */
  KB_SOFFICE_TIMEOUT_S: intFrom(120),
  /** Address space of one LibreOffice conversion (ulimit -v), in MiB. */
  KB_SOFFICE_MEMORY_MB: intFrom(2048),
  /** Largest XML part of a DOCX/PPTX/XLSX/HWPX once inflated. */
  KB_MAX_XML_PART_MB: intFrom(64),
  /** Largest total a document's container inflates to (zip entries; each HWP stream). */
  KB_MAX_DOCUMENT_UNCOMPRESSED_MB: intFrom(100),
  /** Seconds between optimize runs of the chunk table (folding new rows into indexes, compaction); 0: after every job. */
  KB_OPTIMIZE_INTERVAL_S: intFrom(300),
  /** Chunks (with vectors) from which the optimize builds a vector index; 0: never (always exact). */
  KB_VECTOR_INDEX_MIN_ROWS: intFrom(50_000),
  /** HNSW candidate-list size of a vector search through the index (recall against latency). */
  KB_VECTOR_INDEX_EF: intFrom(400),
  /** Per mille of the table a viewer must be able to read for the index to be used; below, exact search. */
  KB_VECTOR_EXACT_BELOW_PERMILLE: intFrom(10),
  /** Index candidates re-ranked by their full vectors, as a multiple of the results asked for (0: off). */
  KB_VECTOR_REFINE: intFrom(2),
  /** Recurring folder syncs as JSON (see src/services/jobs/schedules.ts); default: <data>/sources.json if present. */
  KB_SYNC_SOURCES: z.string().optional(),
  /** Folders under which folder syncs may read, separated by the platform's path delimiter (":" on Linux). */
  KB_SYNC_ROOTS: z.string().optional(),
  KB_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface Config {
  dataDir: string;
  /** KB_LANCEDB_DIR: the chunk tables' folder (default `<data>/lancedb`); may be shared by several machines. */
  lanceDir: string;
  /** KB_BLOB_DIR: the stored originals' folder (default `<data>/blobs`). */
  blobDir: string;
  /** KB_LANCEDB_READ_INTERVAL_MS: LanceDB's read-consistency interval; 0: every read sees other processes' commits. */
  lanceReadIntervalMs: number;
  port: number;
  host: string;
  modelsDir: string;
  embedModel: string | undefined;
  embedDevice: "auto" | "cpu" | "cuda";
  /** KB_RERANK_MODEL: the cross-encoder's folder under the models dir; undefined: no reranking. */
  rerankModel: string | undefined;
  /** How the retriever gathers and orders candidates (KB_FUSION, KB_*_CANDIDATES). */
  retrieval: RetrievalSettings;
  llmModel: string | undefined;
  llmGpu: "auto" | "cuda" | "vulkan" | "metal" | false;
  llmGpuLayers: "auto" | "max" | number;
  llmContextSize: number;
  llmSequences: number;
  llmQueue: number;
  llmTimeoutMs: number;
  llmThreads: number;
  llmMaxTokens: number;
  /** KB_LLM_URL …: an OpenAI-compatible chat-completions server instead of a local GGUF. */
  llmRemote: RemoteModelConfig | undefined;
  /** Remote LLM requests at once (KB_LLM_MAX_CONCURRENT). */
  llmMaxConcurrent: number;
  /** KB_EMBED_URL …: an OpenAI-compatible embeddings server instead of a local model folder. */
  embedRemote: RemoteEmbedConfig | undefined;
  /** KB_MODEL_HOSTS, lower-cased `host` or `host:port` entries. */
  modelHosts: string[];
  maxUploadBytes: number;
  rateLimitPerMinute: number;
  overload: { maxInFlight: number; maxQueued: number; maxWaitMs: number };
  /** Per client address, for requests without a valid token. */
  anonRateLimitPerMinute: number;
  /** IPs and CIDR subnets of reverse proxies whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  /** KB_PUBLIC_URL's origin (`https://kb.example.com`), or undefined. */
  publicUrl: string | undefined;
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** Failed passwords in a row that lock an account (0: never), and the lock's length. */
  loginLockAfter: number;
  loginLockMs: number;
  auditRetentionDays: number;
  /** KB_AUDIT_FORWARD: `syslog+udp://…`, `syslog+tcp://…` or `file:/…`; undefined: not forwarded. */
  auditForward: string | undefined;
  /** KB_METRICS_PORT: the loopback metrics port; 0: none. */
  metricsPort: number;
  /** The scraper's token for GET /metrics (KB_METRICS_TOKEN_FILE or KB_METRICS_TOKEN), or undefined. */
  metricsToken: string | undefined;
  policyDir: string;
  /**
   * KB_DATABASE_URL / KB_DATABASE_URL_FILE: the PostgreSQL metadata store; undefined: SQLite
   * (`<data>/app.sqlite`). Holds a password: never log it (stores/pg/db.ts `redactUrl`).
   */
  databaseUrl: string | undefined;
  /** KB_PG_NOTIFY / KB_CHANGE_POLL_MS: how PostgreSQL-mode processes hear of each other's changes (src/stores/change-feed.ts). */
  changeFeed: { notify: boolean; pollMs: number };
  /** KB_SCIM_SOURCE: the id of the SCIM source (`scim:<id>`). */
  scimSource: string;
  logLevel: string;
  cpus: number;
  ingestConcurrency: number;
  /** Extraction child processes; 0: in-process, unguarded. */
  extractProcesses: number;
  extractTimeoutMs: number;
  /** Wall-clock limit of one file in its extraction process, OCR waits included. */
  extractWallMs: number;
  extractMaxRssBytes: number;
  maxXmlPartBytes: number;
  maxDocumentBytes: number;
  /** Tesseract workers; 0: one per core. */
  ocrWorkers: number;
  ocrPictures: boolean;
  /** KB_OCR_PDF: OCR the PDF pages whose text layer is missing or garbled. */
  ocrPdf: boolean;
  /** KB_IMAGE_MODEL: the image-to-text model's folder under the models dir; undefined: no picture descriptions. */
  imageModel: string | undefined;
  /** KB_IMAGE_TIMEOUT_S in ms. */
  imageTimeoutMs: number;
  /** KB_IMAGE_MAX_PER_FILE. */
  imageMaxPerFile: number;
  /** KB_SOFFICE_PATH ("" : found on PATH), KB_SOFFICE_TIMEOUT_S (as ms), KB_SOFFICE_MEMORY_MB. */
  sofficePath: string;
  sofficeTimeoutMs: number;
  sofficeMemoryMb: number;
  optimizeIntervalS: number;
  vectorIndex: { minRows: number; ef: number; exactBelowShare: number; refine: number };
  /** KB_SYNC_SOURCES, raw JSON. */
  syncSources: string | undefined;
  /** KB_SYNC_ROOTS: absolute folders syncs may read under; empty: only the operator may sync (see JobsService.syncFolder). */
  syncRoots: string[];
}

/** Candidate counts and fusion of the hybrid retriever; `kb eval` reports them and can override them per run. */
export interface RetrievalSettings {
  /** Reciprocal rank fusion: score = Σ weight / (k + rank). */
  fusion: FusionSettings;
  /** Chunks the BM25 search brings to the fusion (or to the reranker in lexical mode); 0: max(3 × topK, 30). */
  lexicalCandidates: number;
  /** Chunks the vector search brings to the fusion; 0: max(3 × topK, 30). */
  vectorCandidates: number;
  /** Fused candidates the reranker re-scores (when one is loaded). */
  rerankCandidates: number;
}

export interface FusionSettings {
  k: number;
  lexicalWeight: number;
  vectorWeight: number;
}

/** Today's fusion: plain RRF with the usual k = 60 (flattens the head of each list a little), both lists alike. */
export const DEFAULT_FUSION: FusionSettings = { k: 60, lexicalWeight: 1, vectorWeight: 1 };

/**
 * Parses a fusion setting: `k=60,lexical=1,vector=1`, any of the three, in any order (the others
 * keep their defaults); an optional leading `rrf` (the only method) is accepted. Throws naming
 * `what` (the variable or flag) on anything else.
 */
export function parseFusion(value: string | undefined, what = "KB_FUSION", base: FusionSettings = DEFAULT_FUSION): FusionSettings {
  const out = { ...base };
  const parts = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (parts[0]?.toLowerCase() === "rrf") parts.shift();
  for (const part of parts) {
    const m = /^(k|lexical|vector)\s*=\s*([0-9]*\.?[0-9]+)$/i.exec(part);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(n) || (m[1]!.toLowerCase() === "k" && n <= 0)) {
      throw new Error(`Invalid configuration:\n  ${what}: expected "k=<positive number>,lexical=<weight>,vector=<weight>" (any of them), got "${part}"`);
    }
    const key = m[1]!.toLowerCase();
    if (key === "k") out.k = n;
    else if (key === "lexical") out.lexicalWeight = n;
    else out.vectorWeight = n;
  }
  return out;
}

/** A one-line description of retrieval settings (kb eval, bench rows). */
export function describeRetrievalSettings(s: RetrievalSettings, reranker: string | null): string {
  const count = (n: number) => (n > 0 ? String(n) : "max(3×topK,30)");
  const f = s.fusion;
  return (
    `fusion rrf k=${f.k} lexical=${f.lexicalWeight} vector=${f.vectorWeight}; candidates lexical ${count(s.lexicalCandidates)}, vector ${count(s.vectorCandidates)}; ` +
    (reranker ? `rerank ${reranker} on the top ${s.rerankCandidates}` : "no reranker")
  );
}

export interface RemoteModelConfig {
  /** Base URL, without a trailing slash (`http://gpu1.corp:8000/v1`). */
  url: string;
  model: string;
  /** Where the API key is (read when the provider is made; never kept in the configuration). */
  apiKey: SecretSpec | undefined;
}

export interface RemoteEmbedConfig extends RemoteModelConfig {
  queryPrefix: string | undefined;
  passagePrefix: string | undefined;
  batchSize: number;
  timeoutMs: number;
}

/** `host` or `host:port` of a URL as KB_MODEL_HOSTS names it (lower case; IPv6 in brackets; the default port left out). */
export function urlHost(url: URL): string {
  return url.host.toLowerCase();
}

/** KB_MODEL_HOSTS entries, normalized through URL parsing (so `GPU1.corp:80` and `gpu1.corp:80` are one entry). */
function modelHostsFrom(value: string | undefined): string[] {
  const entries = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return entries.map((entry) => {
    let u: URL;
    try {
      u = new URL(`http://${entry}`);
    } catch {
      throw new Error(`Invalid configuration:\n  KB_MODEL_HOSTS: "${entry}" is not a host or host:port`);
    }
    if (u.pathname !== "/" || u.search || u.hash || u.username || u.password) {
      throw new Error(`Invalid configuration:\n  KB_MODEL_HOSTS: "${entry}" is not a host or host:port (no scheme, path or user)`);
    }
    // new URL drops :80 for http; keep the port the admin wrote.
    const port = /:(\d+)$/.exec(entry)?.[1];
    return port && !u.port ? `${u.hostname}:${port}` : u.host;
  });
}

/**
 * Whether `url` may be contacted: an http(s) URL whose host is on KB_MODEL_HOSTS. An entry with a
 * port allows that port only; an entry without one allows the host on any port.
 */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const hostname = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return allowed.some((entry) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
    const h = m[1]!;
    if (h !== hostname) return false;
    return m[2] === undefined || m[2] === port;
  });
}

/**
 * Refuses remote model URLs that are not http(s) or whose host is not on KB_MODEL_HOSTS, naming
 * the variables; the product never sends a document to a host nobody configured. Called by
 * loadConfig and again by openKb (configurations made in code skip loadConfig's parsing).
 */
export function checkModelHosts(config: Pick<Config, "llmRemote" | "embedRemote" | "modelHosts">): void {
  const problems: string[] = [];
  for (const [variable, remote] of [
    ["KB_LLM_URL", config.llmRemote],
    ["KB_EMBED_URL", config.embedRemote],
  ] as const) {
    if (!remote) continue;
    let u: URL;
    try {
      u = new URL(remote.url);
    } catch {
      problems.push(`${variable}: "${remote.url}" is not a URL`);
      continue;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") problems.push(`${variable}: only http and https URLs are allowed, got ${u.protocol}`);
    else if (u.username || u.password) problems.push(`${variable}: put credentials in the API key variables, not in the URL`);
    else if (!hostAllowed(u, config.modelHosts)) {
      problems.push(
        `${variable}: host ${urlHost(u)} is not on KB_MODEL_HOSTS (${config.modelHosts.length ? config.modelHosts.join(", ") : "empty"}); ` +
          `add it to KB_MODEL_HOSTS to allow sending documents and questions to it`,
      );
    }
  }
  if (problems.length) throw new Error(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
}

function apiKeyFrom(file: string | undefined, value: string | undefined, variable: string): SecretSpec | undefined {
  if (file) return { file };
  if (value) return { env: variable };
  return undefined;
}

function remoteFrom(e: z.infer<typeof EnvSchema>) {
  const problems: string[] = [];
  if (e.KB_LLM_URL && e.KB_LLM_MODEL) problems.push("KB_LLM_URL and KB_LLM_MODEL are both set: a remote model server or a local GGUF, not both");
  if (e.KB_LLM_URL && !e.KB_LLM_REMOTE_MODEL) problems.push("KB_LLM_URL is set: KB_LLM_REMOTE_MODEL must name the model on that server");
  if (!e.KB_LLM_URL && e.KB_LLM_REMOTE_MODEL) problems.push("KB_LLM_REMOTE_MODEL is set without KB_LLM_URL");
  if (e.KB_EMBED_URL && e.KB_EMBED_MODEL) problems.push("KB_EMBED_URL and KB_EMBED_MODEL are both set: a remote embedding server or a local model folder, not both");
  if (e.KB_EMBED_URL && !e.KB_EMBED_REMOTE_MODEL) problems.push("KB_EMBED_URL is set: KB_EMBED_REMOTE_MODEL must name the model on that server");
  if (!e.KB_EMBED_URL && e.KB_EMBED_REMOTE_MODEL) problems.push("KB_EMBED_REMOTE_MODEL is set without KB_EMBED_URL");
  if (problems.length) throw new Error(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const base = (url: string) => url.replace(/\/+$/, "");
  const llmRemote: RemoteModelConfig | undefined = e.KB_LLM_URL
    ? { url: base(e.KB_LLM_URL), model: e.KB_LLM_REMOTE_MODEL!, apiKey: apiKeyFrom(e.KB_LLM_API_KEY_FILE, e.KB_LLM_API_KEY, "KB_LLM_API_KEY") }
    : undefined;
  const embedRemote: RemoteEmbedConfig | undefined = e.KB_EMBED_URL
    ? {
        url: base(e.KB_EMBED_URL),
        model: e.KB_EMBED_REMOTE_MODEL!,
        apiKey: apiKeyFrom(e.KB_EMBED_API_KEY_FILE, e.KB_EMBED_API_KEY, "KB_EMBED_API_KEY"),
        queryPrefix: e.KB_EMBED_QUERY_PREFIX,
        passagePrefix: e.KB_EMBED_PASSAGE_PREFIX,
        batchSize: Math.max(1, e.KB_EMBED_BATCH),
        timeoutMs: Math.max(1, e.KB_EMBED_TIMEOUT_S) * 1000,
      }
    : undefined;
  return { llmRemote, embedRemote };
}

function syncRootsFrom(value: string | undefined): string[] {
  const roots = (value ?? "").split(path.delimiter).map((r) => r.trim()).filter(Boolean);
  const relative = roots.find((r) => !path.isAbsolute(r));
  if (relative) throw new Error(`Invalid configuration:\n  KB_SYNC_ROOTS: "${relative}" is not an absolute path`);
  return roots.map((r) => path.resolve(r));
}

/**
 * Unset (-1): one process per core, 2 to 8. The ingesting process's own work (embedding, writes)
 * overlaps with extraction and mostly waits on LanceDB's and ONNX's threads, so every core
 * extracts. At least two: a file whose pages wait for OCR in this process holds its extraction
 * process meanwhile. At most eight: each process holds its own pdf.js and parsers (~150 MB).
 */
function extractProcessesFrom(n: number): number {
  return n >= 0 ? n : Math.max(2, Math.min(8, os.availableParallelism()));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const config = buildConfig(env, overrides);
  checkModelHosts(config);
  return config;
}

function buildConfig(env: NodeJS.ProcessEnv, overrides: Partial<Config>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const remote = remoteFrom(e);
  const dataDir = path.resolve(overrides.dataDir ?? e.KB_DATA_DIR);
  const gpuLayers = e.KB_LLM_GPU_LAYERS;
  return {
    dataDir,
    lanceDir: storageFolder("KB_LANCEDB_DIR", e.KB_LANCEDB_DIR, path.join(dataDir, "lancedb")),
    blobDir: storageFolder("KB_BLOB_DIR", e.KB_BLOB_DIR, path.join(dataDir, "blobs")),
    lanceReadIntervalMs: e.KB_LANCEDB_READ_INTERVAL_MS,
    port: e.KB_PORT,
    host: e.KB_HOST,
    modelsDir: path.resolve(e.KB_MODELS_DIR ?? path.join(dataDir, "models")),
    embedModel: e.KB_EMBED_MODEL || undefined,
    embedDevice: e.KB_EMBED_DEVICE,
    rerankModel: e.KB_RERANK_MODEL && e.KB_RERANK_MODEL.toLowerCase() !== "none" ? e.KB_RERANK_MODEL : undefined,
    retrieval: {
      fusion: parseFusion(e.KB_FUSION),
      lexicalCandidates: e.KB_LEXICAL_CANDIDATES,
      vectorCandidates: e.KB_VECTOR_CANDIDATES,
      rerankCandidates: Math.max(1, e.KB_RERANK_CANDIDATES),
    },
    llmModel: e.KB_LLM_MODEL || undefined,
    llmGpu: e.KB_LLM_GPU === "off" ? false : e.KB_LLM_GPU,
    llmGpuLayers: gpuLayers === "auto" || gpuLayers === "max" ? gpuLayers : Number.parseInt(gpuLayers, 10) || 0,
    llmContextSize: e.KB_LLM_CONTEXT,
    llmSequences: Math.max(1, e.KB_LLM_SEQUENCES),
    llmQueue: e.KB_LLM_QUEUE,
    llmTimeoutMs: e.KB_LLM_TIMEOUT_S * 1000,
    llmThreads: e.KB_LLM_THREADS || Math.max(1, os.availableParallelism() - 1),
    llmMaxTokens: Math.max(16, e.KB_LLM_MAX_TOKENS),
    llmRemote: remote.llmRemote,
    llmMaxConcurrent: Math.max(1, e.KB_LLM_MAX_CONCURRENT),
    embedRemote: remote.embedRemote,
    modelHosts: modelHostsFrom(e.KB_MODEL_HOSTS),
    maxUploadBytes: e.KB_MAX_UPLOAD_MB * 1024 * 1024,
    rateLimitPerMinute: e.KB_RATE_LIMIT_PER_MIN,
    overload: { maxInFlight: e.KB_MAX_IN_FLIGHT, maxQueued: e.KB_MAX_QUEUED, maxWaitMs: e.KB_QUEUE_WAIT_MS },
    anonRateLimitPerMinute: e.KB_ANON_RATE_LIMIT_PER_MIN,
    trustedProxies: e.KB_TRUSTED_PROXIES,
    publicUrl: e.KB_PUBLIC_URL,
    sessionIdleMs: Math.max(1, e.KB_SESSION_IDLE_MINUTES) * 60_000,
    sessionMaxMs: Math.max(1, e.KB_SESSION_MAX_HOURS) * 3_600_000,
    loginLockAfter: e.KB_LOGIN_LOCK_AFTER,
    loginLockMs: Math.max(1, e.KB_LOGIN_LOCK_MINUTES) * 60_000,
    auditRetentionDays: e.KB_AUDIT_RETENTION_DAYS,
    auditForward: e.KB_AUDIT_FORWARD,
    metricsPort: e.KB_METRICS_PORT,
    metricsToken: e.KB_METRICS_TOKEN_FILE
      ? readSecret({ file: e.KB_METRICS_TOKEN_FILE }, "KB_METRICS_TOKEN_FILE", env)
      : e.KB_METRICS_TOKEN
        ? readSecret({ env: "KB_METRICS_TOKEN" }, "KB_METRICS_TOKEN", env)
        : undefined,
    policyDir: path.resolve(e.KB_POLICY_DIR ?? path.join(dataDir, "policies")),
    databaseUrl: databaseUrlFrom(e.KB_DATABASE_URL_FILE, e.KB_DATABASE_URL),
    changeFeed: { notify: e.KB_PG_NOTIFY === "on", pollMs: Math.max(10, e.KB_CHANGE_POLL_MS) },
    scimSource: e.KB_SCIM_SOURCE,
    logLevel: e.KB_LOG_LEVEL,
    cpus: os.availableParallelism(),
    ingestConcurrency: e.KB_INGEST_CONCURRENCY || Math.min(Math.max(os.availableParallelism(), 2), 8),
    extractProcesses: extractProcessesFrom(e.KB_EXTRACT_PROCESSES),
    extractTimeoutMs: Math.max(1, e.KB_EXTRACT_TIMEOUT_S) * 1000,
    extractWallMs: (e.KB_EXTRACT_WALL_S > 0 ? e.KB_EXTRACT_WALL_S : 10 * Math.max(1, e.KB_EXTRACT_TIMEOUT_S)) * 1000,
    extractMaxRssBytes: Math.max(128, e.KB_EXTRACT_MAX_RSS_MB) * 1024 * 1024,
    maxXmlPartBytes: Math.max(1, e.KB_MAX_XML_PART_MB) * 1024 * 1024,
    maxDocumentBytes: Math.max(1, e.KB_MAX_DOCUMENT_UNCOMPRESSED_MB) * 1024 * 1024,
    ocrWorkers: Number(e.KB_OCR_WORKERS) > 0 ? Math.floor(Number(e.KB_OCR_WORKERS)) : 0,
    ocrPictures: !/^(off|0|false|no)$/i.test(e.KB_OCR_PICTURES ?? ""),
    ocrPdf: !/^(off|0|false|no)$/i.test(e.KB_OCR_PDF ?? ""),
    imageModel: e.KB_IMAGE_MODEL && !/^(off|none)$/i.test(e.KB_IMAGE_MODEL.trim()) ? e.KB_IMAGE_MODEL.trim() : undefined,
    imageTimeoutMs: Math.max(1, e.KB_IMAGE_TIMEOUT_S) * 1000,
    imageMaxPerFile: Math.max(0, e.KB_IMAGE_MAX_PER_FILE),
    sofficePath: e.KB_SOFFICE_PATH ?? "",
    sofficeTimeoutMs: Math.max(1, e.KB_SOFFICE_TIMEOUT_S) * 1000,
    sofficeMemoryMb: Math.max(256, e.KB_SOFFICE_MEMORY_MB),
    optimizeIntervalS: e.KB_OPTIMIZE_INTERVAL_S,
    vectorIndex: { minRows: e.KB_VECTOR_INDEX_MIN_ROWS, ef: Math.max(10, e.KB_VECTOR_INDEX_EF), exactBelowShare: e.KB_VECTOR_EXACT_BELOW_PERMILLE / 1000, refine: Math.max(0, e.KB_VECTOR_REFINE) },
    syncSources: e.KB_SYNC_SOURCES || undefined,
    syncRoots: syncRootsFrom(e.KB_SYNC_ROOTS),
    ...overrides,
  };
}

/**
 * A storage location: a folder (local, or a shared mount several machines use). A URL
 * (`s3://bucket/…`, `gs://…`, `file://…`) is refused: object storage is not supported yet.
 */
function storageFolder(name: string, value: string | undefined, fallback: string): string {
  if (!value) return fallback;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (scheme) {
    throw new Error(
      `Invalid configuration:\n  ${name}: "${scheme[1]}://" locations are not supported: object storage (S3 and compatible) is not supported yet; give a folder path (a shared mount for several machines)`,
    );
  }
  return path.resolve(value);
}

function databaseUrlFrom(file: string | undefined, url: string | undefined): string | undefined {
  if (!file) return url || undefined;
  const value = readSecret({ file }, "KB_DATABASE_URL_FILE");
  // The message names the file only: the value may be a URL with a password in it.
  if (!/^postgres(ql)?:\/\//.test(value)) throw new Error(`Invalid configuration:\n  KB_DATABASE_URL_FILE: ${file} does not hold a postgres:// URL`);
  return value;
}

/** A secret named in configuration: read from a file (preferred) or an environment variable. */
export interface SecretSpec {
  file?: string;
  env?: string;
}

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretError";
  }
}

/**
 * Reads a secret (an OIDC client secret, an LDAP bind password) from a file or the environment.
 * A file must not be readable by group or others (as ssh refuses a private key that is): a
 * secret anyone on the machine can read is a secret already leaked. Errors name `what` and the
 * file or variable, never the value. Trailing newlines (from `echo`) are removed.
 */
export function readSecret(spec: SecretSpec, what: string, env: NodeJS.ProcessEnv = process.env): string {
  if (spec.file) {
    let st: fs.Stats;
    try {
      st = fs.statSync(spec.file);
    } catch (err) {
      throw new SecretError(`${what}: cannot read secret file ${spec.file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
      throw new SecretError(`${what}: secret file ${spec.file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const value = fs.readFileSync(spec.file, "utf8").replace(/[\r\n]+$/, "");
    if (!value) throw new SecretError(`${what}: secret file ${spec.file} is empty`);
    return value;
  }
  if (spec.env) {
    const value = env[spec.env];
    if (!value) throw new SecretError(`${what}: environment variable ${spec.env} is not set`);
    return value;
  }
  throw new SecretError(`${what}: no secret configured (give "file" or "env")`);
}
