/**
 * Local dense-embedding provider on top of @huggingface/transformers (ONNX Runtime for Node).
 *
 * - Loads ONLY from the local models folder: remote models, remote hosts, caches and `fetch`
 *   are all switched off in transformers.js (see `applyOfflineTransformersEnv`). Nothing here can
 *   reach the network; a model that is not on disk is an error (or `null` when none is configured).
 * - A model is a transformers.js-layout folder under the models dir:
 *     <modelsDir>/<name>/config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx
 *   (or onnx/model_<dtype>.onnx when `dtype` is configured, e.g. model_quantized.onnx for "q8").
 * - Optional sidecar <modelsDir>/<name>/private-kb.json:
 *     { "queryPrefix": "query: ", "passagePrefix": "passage: ", "pooling": "mean" | "cls" | "last",
 *       "dimension": 384, "dtype": "q8", "maxLength": 512 }
 *   Precedence: sidecar > sentence-transformers metadata in the folder (1_Pooling/config.json,
 *   config_sentence_transformers.json prompts) > known family defaults (e5, bge, gte, nomic, ...)
 *   > mean pooling without prefixes.
 * - Embeddings are pooled (mean / CLS / last token) and L2-normalised, returned as Float32Array.
 * - One batch runs at a time per provider (bounded memory, safe for concurrent callers); query
 *   batches jump ahead of queued passage batches so searches are not stuck behind ingestion.
 * - CPU sessions run with ONNX Runtime's thread spinning off (`NO_SPINNING`), and a text far
 *   longer than maxLength is tokenised only up to a word boundary with enough tokens when the
 *   tokeniser reads word by word (`tokenizesWordByWord`): the same ids, less tokeniser work.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { z } from "zod";
import type { PreTrainedModel, PreTrainedTokenizer, Tensor as HfTensor } from "@huggingface/transformers";
import { memoizeWordPiece } from "./tokenizer-memo.ts";

export interface EmbeddingProvider {
  /** Folder name under the models dir. */
  readonly modelId: string;
  readonly dimension: number;
  embedQueries(texts: string[]): Promise<Float32Array[]>;
  embedPassages(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export type EmbeddingDevice = "auto" | "cpu" | "cuda";
export type EmbeddingPooling = "mean" | "cls" | "last";
export const EMBEDDING_DTYPES = ["fp32", "fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4"] as const;
export type EmbeddingDtype = (typeof EMBEDDING_DTYPES)[number];

/** ONNX file suffix per dtype (transformers.js naming convention). */
export const DTYPE_SUFFIX: Record<EmbeddingDtype, string> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};

export interface LoadEmbeddingOptions {
  modelsDir: string;
  /** Folder name under modelsDir (or an absolute path). Unset: auto-detect. "none": no model. */
  model?: string;
  /** "auto" = CUDA when onnxruntime-node's CUDA provider is installed and works, else CPU. Default "cpu". */
  device?: EmbeddingDevice;
  /** Texts per forward pass (default 16). */
  batchSize?: number;
  /** Max tokens per text, including special tokens (default: model max, capped at 512). */
  maxLength?: number;
  /** Which ONNX variant to load (default fp32 = onnx/model.onnx; "q8" = onnx/model_quantized.onnx). */
  dtype?: EmbeddingDtype;
  /** ONNX Runtime intra-op threads (default: ORT's choice, i.e. all physical cores). */
  threads?: number;
  /** Warnings (fallbacks, clamping). Default: console.warn. */
  log?: (message: string) => void;
}

export interface EmbeddingModelInfo {
  dir: string;
  pooling: EmbeddingPooling;
  queryPrefix: string;
  passagePrefix: string;
  maxLength: number;
  batchSize: number;
  dtype: EmbeddingDtype;
  device: "cpu" | "cuda";
  /** Where pooling/prefixes came from: "sidecar", "sentence-transformers", "family:<name>", "default". */
  settingsSource: string[];
}

/** What loadEmbeddingProvider returns: the EmbeddingProvider contract plus load details. */
export interface LocalEmbeddingProvider extends EmbeddingProvider {
  readonly info: EmbeddingModelInfo;
}

export const SIDECAR_FILE = "private-kb.json";
/** Default cap on tokens per text: long-context models (bge-m3: 8192) would otherwise need GBs per batch. */
export const DEFAULT_MAX_LENGTH_CAP = 512;
export const DEFAULT_BATCH_SIZE = 16;
/**
 * ONNX Runtime's CPU thread pools busy-wait (spin) between operators by default. Here that is
 * CPU taken from the extraction processes and the server beside the model: embedding the 2153
 * chunks of bench:ingest's text PDFs with the fixture model took 3.3–3.7 s of process CPU with
 * spinning, 1.8–2.0 s without, and no longer (docs/benchmarks.md, "Ingestion throughput").
 */
export const NO_SPINNING = { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } };
/** Texts are cut to maxLength * this many characters before tokenising (bounds tokeniser work). */
const CHARS_PER_TOKEN_BOUND = 64;

const SidecarSchema = z.looseObject({
  queryPrefix: z.string().optional(),
  passagePrefix: z.string().optional(),
  pooling: z.enum(["mean", "cls", "last"]).optional(),
  dimension: z.number().int().positive().optional(),
  dtype: z.enum(EMBEDDING_DTYPES).optional(),
  maxLength: z.number().int().min(2).optional(),
});
export type EmbeddingSidecar = z.infer<typeof SidecarSchema>;

/* ------------------------------------------------------------------------------------------ */
/* Model discovery                                                                             */
/* ------------------------------------------------------------------------------------------ */

/** Architectures that are clearly not plain encoders (rerankers, generators, taggers). */
const NON_EMBEDDING_ARCH =
  /For(SequenceClassification|CausalLM|ConditionalGeneration|TokenClassification|QuestionAnswering|MaskedLM|Seq2SeqLM)$/;

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

function onnxVariants(dir: string): string[] {
  try {
    return fs
      .readdirSync(path.join(dir, "onnx"))
      .filter((f) => /^model.*\.onnx$/.test(f))
      .sort();
  } catch {
    return [];
  }
}

function looksLikeEmbeddingModel(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, "config.json")) || !fs.existsSync(path.join(dir, "tokenizer.json"))) return false;
  if (onnxVariants(dir).length === 0) return false;
  if (fs.existsSync(path.join(dir, SIDECAR_FILE))) return true; // explicitly ours
  try {
    const cfg = readJson(path.join(dir, "config.json")) as { architectures?: unknown };
    const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
    if (archs.length > 0 && archs.every((a) => NON_EMBEDDING_ARCH.test(a))) return false;
  } catch {
    return false; // unreadable config.json
  }
  return true;
}

/**
 * Folders directly under `modelsDir` that look like transformers.js embedding models
 * (config.json + tokenizer.json + onnx/model*.onnx, and not a reranker/generator by its
 * config's `architectures`). Sorted by name; [] when the dir does not exist.
 */
export function findEmbeddingModels(modelsDir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith("."))
    .map((e) => e.name)
    .filter((name) => looksLikeEmbeddingModel(path.join(modelsDir, name)))
    .sort();
}

/* ------------------------------------------------------------------------------------------ */
/* Model settings (pooling, prefixes)                                                          */
/* ------------------------------------------------------------------------------------------ */

export interface FamilyDefaults {
  name: string;
  test: RegExp;
  pooling: EmbeddingPooling;
  queryPrefix: string;
  passagePrefix: string;
}

/** Matched against the folder name and config.json `_name_or_path` (lower-cased), first hit wins. */
const FAMILIES: FamilyDefaults[] = [
  {
    // multilingual-e5-large-instruct: task instruction on queries only (model card's retrieval example).
    name: "e5-instruct",
    test: /(^|[^a-z0-9])e5-.*instruct/,
    pooling: "mean",
    queryPrefix: "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: ",
    passagePrefix: "",
  },
  { name: "e5", test: /(^|[^a-z0-9])e5([^a-z0-9]|$)/, pooling: "mean", queryPrefix: "query: ", passagePrefix: "passage: " },
  { name: "bge-m3", test: /bge-m3/, pooling: "cls", queryPrefix: "", passagePrefix: "" },
  { name: "kure", test: /kure/, pooling: "cls", queryPrefix: "", passagePrefix: "" }, // bge-m3 fine-tune
  { name: "bge", test: /(^|[^a-z])bge[-_]/, pooling: "cls", queryPrefix: "", passagePrefix: "" },
  { name: "gte-multilingual", test: /gte-multilingual/, pooling: "cls", queryPrefix: "", passagePrefix: "" },
  { name: "gte", test: /(^|[^a-z])gte[-_]/, pooling: "mean", queryPrefix: "", passagePrefix: "" },
  {
    name: "nomic",
    test: /nomic-embed/,
    pooling: "mean",
    queryPrefix: "search_query: ",
    passagePrefix: "search_document: ",
  },
];

/** Pooling and prefixes of the model family a name belongs to (e5, bge, nomic …), if any; `name` is matched lower-cased. */
export function familyDefaults(name: string): FamilyDefaults | undefined {
  const hay = name.toLowerCase();
  return FAMILIES.find((f) => f.test.test(hay));
}

function sentenceTransformersSettings(dir: string): {
  pooling?: EmbeddingPooling;
  queryPrefix?: string;
  passagePrefix?: string;
} {
  const out: { pooling?: EmbeddingPooling; queryPrefix?: string; passagePrefix?: string } = {};
  try {
    const p = readJson(path.join(dir, "1_Pooling", "config.json")) as Record<string, unknown>;
    if (p.pooling_mode_cls_token === true) out.pooling = "cls";
    else if (p.pooling_mode_lasttoken === true) out.pooling = "last";
    else if (p.pooling_mode_mean_tokens === true) out.pooling = "mean";
  } catch {
    /* absent */
  }
  try {
    const st = readJson(path.join(dir, "config_sentence_transformers.json")) as { prompts?: Record<string, unknown> };
    const prompts = st.prompts ?? {};
    if (typeof prompts.query === "string") out.queryPrefix = prompts.query;
    const passage = prompts.passage ?? prompts.document;
    if (typeof passage === "string") out.passagePrefix = passage;
  } catch {
    /* absent */
  }
  return out;
}

export function readSidecar(dir: string): EmbeddingSidecar {
  const file = path.join(dir, SIDECAR_FILE);
  if (!fs.existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = readJson(file);
  } catch (e) {
    throw new Error(`Invalid JSON in ${file}: ${(e as Error).message}`);
  }
  const parsed = SidecarSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`Invalid ${file}:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/* ------------------------------------------------------------------------------------------ */
/* Offline lock-down of transformers.js                                                         */
/* ------------------------------------------------------------------------------------------ */

type TransformersModule = typeof import("@huggingface/transformers");
let transformersPromise: Promise<TransformersModule> | null = null;

/** Never resolvable (RFC 2606 ".invalid"); only a belt-and-braces value since fetch is disabled too. */
const OFFLINE_REMOTE_HOST = "http://offline.invalid/";

/**
 * Makes transformers.js strictly local. Idempotent; applies to every user of the library in this
 * process (its `env` is global), which is what an on-premises deployment wants anyway.
 */
export function applyOfflineTransformersEnv(t: TransformersModule, localModelPath?: string): void {
  const { env } = t;
  env.allowRemoteModels = false; // same effect as local_files_only everywhere
  env.allowLocalModels = true;
  env.remoteHost = OFFLINE_REMOTE_HOST;
  if (localModelPath) env.localModelPath = localModelPath;
  // Caches: the FS cache lives in node_modules/@huggingface/transformers/.cache and is consulted
  // BEFORE the local path; a stale entry there could shadow the model on disk. Turn them all off.
  env.useFSCache = false;
  env.useBrowserCache = false;
  env.useCustomCache = false;
  env.useWasmCache = false; // would pre-fetch ORT-web wasm from a CDN when wasmPaths are URLs
  env.experimental_useCrossOriginStorage = false;
  // Last line of defence: every remote read in transformers.js goes through env.fetch.
  env.fetch = async (input: string | URL) => {
    throw new Error(`private-kb: network access is disabled for model loading (attempted: ${String(input)})`);
  };
}

/** transformers.js, imported once, locked to local files (`applyOfflineTransformersEnv`). */
export async function loadTransformers(localModelPath?: string): Promise<TransformersModule> {
  transformersPromise ??= import("@huggingface/transformers");
  const t = await transformersPromise;
  applyOfflineTransformersEnv(t, localModelPath);
  return t;
}

/* ------------------------------------------------------------------------------------------ */
/* Devices                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Folder with onnxruntime-node's native libraries, as resolved from transformers.js. */
function onnxRuntimeNativeDir(): string | null {
  try {
    const req = createRequire(import.meta.url);
    const tjs = req.resolve("@huggingface/transformers");
    const ortMain = createRequire(tjs).resolve("onnxruntime-node"); // .../onnxruntime-node/dist/index.js
    return path.join(path.dirname(path.dirname(ortMain)), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return null;
  }
}

/** A slot model's folder, opened: where it is, its sidecar settings and the ONNX variant to load. */
export interface SlotModelFolder {
  modelsDir: string;
  dir: string;
  modelId: string;
  sidecar: ReturnType<typeof readSidecar>;
  dtype: EmbeddingDtype;
  /** Throws with the slot's label and the model's name before `why`. */
  fail: (why: string) => never;
}

/**
 * Opens the folder of an optional slot's model (reranker, image descriptions): `model` is a
 * folder name under `modelsDir` or an absolute path; its sidecar may choose the ONNX variant.
 * Fails, naming `label` and `hint` (where to get such a folder), when it is absent or unreadable.
 */
export function openSlotModelFolder(opts: { modelsDir: string; model: string; dtype?: EmbeddingDtype }, label: string, hint: string): SlotModelFolder {
  const modelsDir = path.resolve(opts.modelsDir);
  const name = opts.model.trim();
  const dir = path.isAbsolute(name) ? name : path.resolve(modelsDir, name);
  const fail = (why: string): never => {
    throw new Error(`${label} "${name}": ${why}`);
  };
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) fail(`${dir} does not exist. ${hint}`);
  let sidecar: ReturnType<typeof readSidecar>;
  try {
    sidecar = readSidecar(dir);
  } catch (e) {
    return fail((e as Error).message);
  }
  const dtype: EmbeddingDtype = opts.dtype ?? sidecar.dtype ?? "fp32";
  if (!EMBEDDING_DTYPES.includes(dtype)) fail(`unknown dtype "${String(dtype)}"`);
  return { modelsDir, dir, modelId: path.basename(dir), sidecar, dtype, fail };
}

/**
 * Loads a model on the wanted device, for the optional slots (reranker, image descriptions):
 * "cuda" and "auto" try CUDA when onnxruntime-node's CUDA provider is installed; "auto" then falls
 * back to the CPU (logged) where "cuda" fails; "cpu" loads on the CPU. `fail(why)` throws with
 * the slot's own wording; `what` names the file or folder in the CPU failure.
 */
export async function loadOnDevice<T>(
  wanted: EmbeddingDevice,
  load: (device: "cpu" | "cuda") => Promise<T>,
  fail: (why: string) => never,
  log: (message: string) => void,
  what: string,
): Promise<T> {
  if (wanted !== "cpu" && cudaProviderInstalled()) {
    try {
      return await load("cuda");
    } catch (e) {
      if (wanted === "cuda") fail(`CUDA session failed: ${(e as Error).message}`);
      log(`CUDA unavailable (${(e as Error).message.split("\n")[0]}); falling back to CPU`);
    }
  } else if (wanted === "cuda") fail('device "cuda" requested but onnxruntime-node\'s CUDA provider is not installed');
  try {
    return await load("cpu");
  } catch (e) {
    return fail(`cannot load ${what}: ${(e as Error).message}`);
  }
}

/** True when onnxruntime-node's CUDA execution provider libraries are installed (Linux x64 only). */
export function cudaProviderInstalled(): boolean {
  if (process.platform !== "linux" || process.arch !== "x64") return false;
  const dir = onnxRuntimeNativeDir();
  return (
    dir !== null &&
    fs.existsSync(path.join(dir, "libonnxruntime_providers_cuda.so")) &&
    fs.existsSync(path.join(dir, "libonnxruntime_providers_shared.so"))
  );
}

const cudaHint = () =>
  "onnxruntime-node's CUDA provider (libonnxruntime_providers_cuda.so, CUDA 12 + cuDNN 9) must be installed: " +
  "it is fetched by onnxruntime-node's postinstall unless ONNXRUNTIME_NODE_INSTALL=skip was set. On a connected " +
  "build machine run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (or copy those .so files into " +
  `${onnxRuntimeNativeDir() ?? "node_modules/onnxruntime-node/bin/napi-v6/linux/x64"}), or use device "cpu".`;

/* ------------------------------------------------------------------------------------------ */
/* Loading                                                                                      */
/* ------------------------------------------------------------------------------------------ */

const PLACEMENT_HINT =
  "An embedding model is a transformers.js-format folder: config.json, tokenizer.json, tokenizer_config.json and " +
  "onnx/model.onnx (e.g. the files of Xenova/multilingual-e5-small or onnx-community/bge-m3-ONNX, copied from a " +
  "connected machine). Optional: private-kb.json with queryPrefix/passagePrefix/pooling.";

function resolveModelDir(modelsDir: string, model: string): string {
  return path.isAbsolute(model) ? model : path.resolve(modelsDir, model);
}

function checkModelFolder(dir: string, modelLabel: string, dtype: EmbeddingDtype, dtypeConfigured: boolean): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`Embedding model "${modelLabel}" not found: ${dir} does not exist. ${PLACEMENT_HINT}`);
  }
  const onnxFile = `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
  const required = ["config.json", "tokenizer.json", "tokenizer_config.json", onnxFile];
  const missing = required.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length > 0) {
    const variants = onnxVariants(dir);
    let extra = "";
    if (missing.includes(onnxFile) && variants.length > 0) {
      const available = variants.map((v) => {
        const suffix = v.slice("model".length, -".onnx".length);
        const dt = (Object.keys(DTYPE_SUFFIX) as EmbeddingDtype[]).find((k) => DTYPE_SUFFIX[k] === suffix);
        return dt ? `onnx/${v} (dtype "${dt}")` : `onnx/${v}`;
      });
      extra =
        ` The folder has ${available.join(", ")}` +
        (dtypeConfigured ? "." : `; set the dtype option (or "dtype" in ${SIDECAR_FILE}) to use one.`);
    }
    throw new Error(
      `Embedding model "${modelLabel}" in ${dir} is incomplete: missing ${missing.join(", ")}.${extra} ${PLACEMENT_HINT}`,
    );
  }
  return onnxFile;
}

/** Effective max tokens the model accepts, from tokenizer_config.json / config.json. */
function modelMaxLength(tokenizerMax: number, config: Record<string, unknown>): number | null {
  const candidates: number[] = [];
  if (Number.isFinite(tokenizerMax) && tokenizerMax > 0 && tokenizerMax < 1_000_000) candidates.push(tokenizerMax);
  const pos = config.max_position_embeddings;
  if (typeof pos === "number" && pos > 0) {
    // RoBERTa-style position ids start at padding_idx + 1, leaving 2 fewer usable positions.
    const type = String(config.model_type ?? "");
    const roberta = /roberta|camembert/.test(type);
    candidates.push(roberta ? pos - 2 : pos);
  }
  return candidates.length > 0 ? Math.min(...candidates) : null;
}

/**
 * Loads the embedding model from the local models folder.
 * Returns null when no model is configured and none is found (lexical-only mode), or when
 * `model` is "none". Throws with a clear message when a configured model is missing/incomplete.
 */
export async function loadEmbeddingProvider(opts: LoadEmbeddingOptions): Promise<LocalEmbeddingProvider | null> {
  const log = opts.log ?? ((m: string) => console.warn(`[embeddings] ${m}`));
  const modelsDir = path.resolve(opts.modelsDir);
  let modelName = opts.model?.trim() || undefined;
  if (modelName?.toLowerCase() === "none") return null;

  if (modelName === undefined) {
    const found = findEmbeddingModels(modelsDir);
    if (found.length === 0) return null;
    if (found.length > 1) log(`several embedding models in ${modelsDir} (${found.join(", ")}); using "${found[0]}"`);
    modelName = found[0]!;
  }
  const dir = resolveModelDir(modelsDir, modelName);
  const modelId = path.basename(dir);

  const sidecar = readSidecar(dir);
  const dtypeConfigured = opts.dtype !== undefined || sidecar.dtype !== undefined;
  const dtype: EmbeddingDtype = opts.dtype ?? sidecar.dtype ?? "fp32";
  checkModelFolder(dir, modelName, dtype, dtypeConfigured);

  let config: Record<string, unknown>;
  try {
    config = readJson(path.join(dir, "config.json")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`Embedding model "${modelName}": cannot parse ${path.join(dir, "config.json")}: ${(e as Error).message}`);
  }

  // Pooling and prefixes.
  const settingsSource: string[] = [];
  let pooling: EmbeddingPooling = "mean";
  let queryPrefix = "";
  let passagePrefix = "";
  const hay = `${modelId} ${String(config._name_or_path ?? "")}`.toLowerCase();
  const family = FAMILIES.find((f) => f.test.test(hay));
  if (family) {
    ({ pooling, queryPrefix, passagePrefix } = family);
    settingsSource.push(`family:${family.name}`);
  }
  const st = sentenceTransformersSettings(dir);
  if (st.pooling || st.queryPrefix !== undefined || st.passagePrefix !== undefined) {
    pooling = st.pooling ?? pooling;
    queryPrefix = st.queryPrefix ?? queryPrefix;
    passagePrefix = st.passagePrefix ?? passagePrefix;
    settingsSource.push("sentence-transformers");
  }
  if (sidecar.pooling || sidecar.queryPrefix !== undefined || sidecar.passagePrefix !== undefined) {
    pooling = sidecar.pooling ?? pooling;
    queryPrefix = sidecar.queryPrefix ?? queryPrefix;
    passagePrefix = sidecar.passagePrefix ?? passagePrefix;
    settingsSource.push("sidecar");
  }
  if (settingsSource.length === 0) settingsSource.push("default");

  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));

  const t = await loadTransformers(modelsDir);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = await t.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw new Error(`Embedding model "${modelName}": cannot load the tokenizer from ${dir}: ${(e as Error).message}`);
  }
  memoizeWordPiece(tokenizer);

  const modelMax = modelMaxLength(tokenizer.model_max_length, config);
  const requestedMax = opts.maxLength ?? sidecar.maxLength;
  let maxLength: number;
  if (requestedMax !== undefined) {
    maxLength = Math.max(2, Math.floor(requestedMax));
    if (modelMax !== null && maxLength > modelMax) {
      log(`maxLength ${maxLength} exceeds the model's ${modelMax}; using ${modelMax}`);
      maxLength = modelMax;
    }
  } else {
    maxLength = Math.min(modelMax ?? DEFAULT_MAX_LENGTH_CAP, DEFAULT_MAX_LENGTH_CAP);
  }

  const wanted = opts.device ?? "cpu";
  const sessionOptions: Record<string, unknown> = {};
  if (opts.threads !== undefined && opts.threads > 0) sessionOptions.intraOpNumThreads = Math.floor(opts.threads);

  const loadModel = (device: "cpu" | "cuda") =>
    t.AutoModel.from_pretrained(dir, {
      local_files_only: true,
      device,
      dtype,
      session_options: device === "cpu" ? { ...sessionOptions, extra: NO_SPINNING } : { ...sessionOptions },
    });

  let model: PreTrainedModel;
  let device: "cpu" | "cuda";
  if (wanted === "cuda") {
    if (!cudaProviderInstalled()) throw new Error(`Embedding device "cuda" requested but ${cudaHint()}`);
    try {
      model = await loadModel("cuda");
    } catch (e) {
      throw new Error(`Embedding model "${modelName}": CUDA session failed: ${(e as Error).message}. ${cudaHint()}`);
    }
    device = "cuda";
  } else {
    model = null as unknown as PreTrainedModel;
    device = "cpu";
    if (wanted === "auto" && cudaProviderInstalled()) {
      try {
        model = await loadModel("cuda");
        device = "cuda";
      } catch (e) {
        log(`CUDA unavailable (${(e as Error).message.split("\n")[0]}); falling back to CPU`);
      }
    }
    if (device === "cpu") {
      try {
        model = await loadModel("cpu");
      } catch (e) {
        throw new Error(`Embedding model "${modelName}": cannot load ${dir}: ${(e as Error).message}`);
      }
    }
  }

  const provider = new TransformersEmbeddingProvider(t, tokenizer, model, {
    modelId,
    dir,
    pooling,
    queryPrefix,
    passagePrefix,
    maxLength,
    batchSize,
    dtype,
    device,
    settingsSource,
  });
  try {
    const [probe] = await provider.embedPassages(["dimension probe / 차원 확인"]);
    const dim = probe?.length ?? 0;
    if (dim === 0) throw new Error("the model returned an empty embedding");
    if (sidecar.dimension !== undefined && sidecar.dimension !== dim) {
      throw new Error(`${SIDECAR_FILE} says dimension ${sidecar.dimension} but the model produces ${dim}`);
    }
    provider.setDimension(dim);
  } catch (e) {
    await provider.close();
    throw new Error(`Embedding model "${modelName}" failed its probe: ${(e as Error).message}`);
  }
  return provider;
}

/* ------------------------------------------------------------------------------------------ */
/* Provider                                                                                     */
/* ------------------------------------------------------------------------------------------ */

interface Encoded {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
}

/** A cut is placed this far past the fewest characters per token seen (a margin for denser text). */
const CUT_MARGIN = 1.3;
const WORD_PRE_TOKENIZERS = new Set(["BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits"]);
const CHAR_NORMALIZERS = new Set(["BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip"]);

/**
 * True when a tokenizer.json splits text into words at whitespace before its model sees it, and
 * normalises character by character, with no added token that contains whitespace: then the
 * tokens of a text cut at whitespace are the first tokens of the whole text (WordPiece BERT
 * tokenisers). SentencePiece-style tokenisers (Metaspace, byte-level BPE, a precompiled
 * normaliser) read the text as one piece and are never cut.
 */
export function tokenizesWordByWord(json: unknown): boolean {
  type Part = { type?: string; pretokenizers?: Part[]; normalizers?: Part[] } | null | undefined;
  const j = json as { pre_tokenizer?: Part; normalizer?: Part; added_tokens?: { content?: string }[] } | null;
  if (!j || typeof j !== "object") return false;
  const pre = (p: Part): boolean => !!p && (p.type === "Sequence" ? (p.pretokenizers ?? []).length > 0 && p.pretokenizers!.every(pre) : WORD_PRE_TOKENIZERS.has(p.type ?? ""));
  const norm = (n: Part): boolean => !n || (n.type === "Sequence" ? (n.normalizers ?? []).every(norm) : CHAR_NORMALIZERS.has(n.type ?? ""));
  const top = j.pre_tokenizer;
  const splits = !!top && (top.type === "Sequence" ? (top.pretokenizers ?? []).some((p) => p?.type !== "Punctuation" && p?.type !== "Digits") : top.type !== "Punctuation" && top.type !== "Digits");
  return splits && pre(top) && norm(j.normalizer) && (j.added_tokens ?? []).every((t) => !/\s/.test(t.content ?? ""));
}

interface Job {
  texts: string[];
  call: { failed: boolean };
  resolve: (v: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

class TransformersEmbeddingProvider implements LocalEmbeddingProvider {
  readonly modelId: string;
  readonly info: EmbeddingModelInfo;
  private dim = 0;
  private readonly high: Job[] = [];
  private readonly low: Job[] = [];
  private pumping: Promise<void> | null = null;
  private closed = false;
  private readonly specialIds: Set<number>;
  /**
   * Characters per token at which a long text is cut before tokenising (times maxLength); null:
   * never cut (a tokeniser whose tokens may span words). Starts high and follows the texts.
   */
  private cutChars: number | null;

  constructor(
    private readonly t: TransformersModule,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    info: EmbeddingModelInfo & { modelId: string },
  ) {
    const { modelId, ...rest } = info;
    this.modelId = modelId;
    this.info = Object.freeze({ ...rest, settingsSource: [...rest.settingsSource] });
    this.specialIds = new Set(tokenizer.all_special_ids);
    this.cutChars = tokenizesWordByWord((tokenizer as unknown as { _tokenizerJSON?: unknown })._tokenizerJSON) ? 4 : null;
  }

  get dimension(): number {
    return this.dim;
  }

  setDimension(d: number): void {
    this.dim = d;
  }

  embedQueries(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, this.info.queryPrefix, this.high);
  }

  embedPassages(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, this.info.passagePrefix, this.low);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error(`embedding provider "${this.modelId}" is closed`);
    for (const job of [...this.high.splice(0), ...this.low.splice(0)]) job.reject(err);
    await this.pumping;
    await this.model.dispose();
  }

  private embed(texts: string[], prefix: string, queue: Job[]): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new Error(`embedding provider "${this.modelId}" is closed`));
    if (!Array.isArray(texts)) return Promise.reject(new TypeError("texts must be an array of strings"));
    if (texts.length === 0) return Promise.resolve([]);
    const charCap = this.info.maxLength * CHARS_PER_TOKEN_BOUND;
    const prepared = texts.map((x) => {
      const s = prefix + String(x ?? "");
      return s.length > charCap ? s.slice(0, charCap) : s;
    });
    // Sort by length so each batch pads little; results are put back in input order.
    const order = prepared.map((_, i) => i).sort((a, b) => prepared[a]!.length - prepared[b]!.length);
    const call = { failed: false };
    const batches: Promise<Float32Array[]>[] = [];
    for (let i = 0; i < order.length; i += this.info.batchSize) {
      const idx = order.slice(i, i + this.info.batchSize);
      batches.push(
        new Promise<Float32Array[]>((resolve, reject) => {
          queue.push({ texts: idx.map((k) => prepared[k]!), call, resolve, reject });
        }),
      );
    }
    this.pumping ??= this.pump();
    return Promise.all(batches).then(
      (results) => {
        const out = new Array<Float32Array>(texts.length);
        let k = 0;
        for (const r of results) for (const v of r) out[order[k++]!] = v;
        return out;
      },
      (e) => {
        call.failed = true;
        throw e;
      },
    );
  }

  /** Runs queued batches one at a time; query batches first. */
  private async pump(): Promise<void> {
    await Promise.resolve(); // never finish synchronously: `this.pumping ??= this.pump()` must be assigned first
    try {
      for (;;) {
        const job = this.high.shift() ?? this.low.shift();
        if (!job) break;
        if (job.call.failed) {
          job.reject(new Error("an earlier batch of this call failed"));
          continue;
        }
        try {
          job.resolve(await this.runBatch(job.texts));
        } catch (e) {
          job.call.failed = true;
          job.reject(e);
        }
      }
    } finally {
      this.pumping = null;
    }
  }

  private encode(texts: string[]): Encoded {
    return this.tokenizer(texts, { padding: false, truncation: false, return_tensor: false }) as unknown as Encoded;
  }

  /**
   * Token ids of a batch, at least the first `maxLength` of each text. A text much longer than
   * that (most chunks of Korean text are: about 1.4 characters per token) is tokenised only up to
   * a word boundary where it has enough tokens, when the tokeniser reads word by word
   * (`tokenizesWordByWord`): the tokens of that prefix are then the full text's first tokens, and
   * truncation keeps the same ids. Where a prefix falls short, the whole text is tokenised.
   */
  private tokenize(texts: string[]): Encoded {
    const L = this.info.maxLength;
    const cutAt = this.cutChars === null ? Infinity : Math.ceil(L * this.cutChars);
    const cuts = texts.map((t) => {
      if (t.length <= cutAt) return null;
      const ws = /\s/.exec(t.slice(cutAt, cutAt + 256));
      return ws ? cutAt + ws.index : null;
    });
    if (cuts.every((c) => c === null)) return this.learn(texts, this.encode(texts), cuts);
    const enc = this.encode(texts.map((t, i) => (cuts[i] !== null ? t.slice(0, cuts[i]!) : t)));
    // A prefix with no more than L ids might be the whole story or not: tokenise those texts whole.
    const short = texts.flatMap((_, i) => (cuts[i] !== null && enc.input_ids[i]!.length <= L ? [i] : []));
    if (short.length) {
      const again = this.encode(short.map((i) => texts[i]!));
      short.forEach((i, j) => {
        enc.input_ids[i] = again.input_ids[j]!;
        enc.attention_mask[i] = again.attention_mask[j]!;
        if (enc.token_type_ids && again.token_type_ids) enc.token_type_ids[i] = again.token_type_ids[j]!;
        cuts[i] = null;
      });
      this.cutChars = Math.min(CHARS_PER_TOKEN_BOUND, (this.cutChars ?? 1) * 1.25);
      return enc;
    }
    return this.learn(texts, enc, cuts);
  }

  /** Lowers the cut, a step at a time, towards the fewest characters per token seen in texts over the limit. */
  private learn(texts: string[], enc: Encoded, cuts: (number | null)[]): Encoded {
    if (this.cutChars === null) return enc;
    let fewest = Infinity;
    texts.forEach((t, i) => {
      const n = enc.input_ids[i]!.length;
      if (n > this.info.maxLength) fewest = Math.min(fewest, (cuts[i] ?? t.length) / n);
    });
    if (fewest < Infinity && fewest * CUT_MARGIN < this.cutChars) this.cutChars = Math.max(0.5, fewest * CUT_MARGIN, this.cutChars * 0.8);
    return enc;
  }

  private async runBatch(texts: string[]): Promise<Float32Array[]> {
    const { Tensor } = this.t;
    const enc = this.tokenize(texts);
    const L = this.info.maxLength;
    const rows = texts.map((_, i) => {
      let ids = enc.input_ids[i]!;
      let types = enc.token_type_ids?.[i];
      if (ids.length > L) {
        // Truncate but keep a trailing special token ([SEP] / </s>) like the Python tokenizers do.
        const last = ids[ids.length - 1]!;
        if (this.specialIds.has(last) && L >= 2) {
          ids = [...ids.slice(0, L - 1), last];
          if (types) types = [...types.slice(0, L - 1), types[types.length - 1]!];
        } else {
          ids = ids.slice(0, L);
          if (types) types = types.slice(0, L);
        }
      }
      return { ids, types };
    });
    const B = rows.length;
    const S = Math.max(1, ...rows.map((r) => r.ids.length));
    const leftPad = this.tokenizer.padding_side === "left";
    const padId = BigInt(this.tokenizer.pad_token_id ?? 0);
    const inputIds = new BigInt64Array(B * S).fill(padId);
    const mask = new BigInt64Array(B * S);
    const typeIds = enc.token_type_ids ? new BigInt64Array(B * S) : null;
    const maskRows: Uint8Array[] = [];
    rows.forEach((r, b) => {
      const off = b * S + (leftPad ? S - r.ids.length : 0);
      const m = new Uint8Array(S);
      for (let j = 0; j < r.ids.length; j++) {
        inputIds[off + j] = BigInt(r.ids[j]!);
        mask[off + j] = 1n;
        if (typeIds && r.types) typeIds[off + j] = BigInt(r.types[j] ?? 0);
        m[off - b * S + j] = 1;
      }
      maskRows.push(m);
    });
    const feeds: Record<string, HfTensor> = {
      input_ids: new Tensor("int64", inputIds, [B, S]),
      attention_mask: new Tensor("int64", mask, [B, S]),
    };
    if (typeIds) feeds.token_type_ids = new Tensor("int64", typeIds, [B, S]);

    const outputs = (await this.model.forward(feeds)) as Record<string, HfTensor>;
    try {
      let out = outputs.last_hidden_state ?? outputs.token_embeddings ?? outputs.sentence_embedding;
      out ??= Object.values(outputs)[0];
      if (!out) throw new Error("the model produced no output");
      if (out.type !== "float32") out = out.to("float32");
      return poolAndNormalize(out.data as Float32Array, out.dims, maskRows, this.info.pooling);
    } finally {
      for (const v of Object.values(outputs)) (v as { dispose?: () => void }).dispose?.();
    }
  }
}

/** Pools [B, S, D] hidden states (or passes [B, D] through) and L2-normalises each row. */
export function poolAndNormalize(
  data: Float32Array,
  dims: readonly number[],
  maskRows: Uint8Array[],
  pooling: EmbeddingPooling,
): Float32Array[] {
  const result: Float32Array[] = [];
  if (dims.length === 2) {
    const [B, D] = dims as [number, number];
    for (let b = 0; b < B; b++) result.push(l2normalize(data.slice(b * D, (b + 1) * D)));
    return result;
  }
  if (dims.length !== 3) throw new Error(`unexpected model output shape [${dims.join(", ")}]`);
  const [B, S, D] = dims as [number, number, number];
  for (let b = 0; b < B; b++) {
    const m = maskRows[b]!;
    const v = new Float32Array(D);
    const base = b * S * D;
    if (pooling === "mean") {
      let n = 0;
      for (let s = 0; s < S; s++) {
        if (!m[s]) continue;
        n++;
        const o = base + s * D;
        for (let d = 0; d < D; d++) v[d]! += data[o + d]!;
      }
      const inv = 1 / Math.max(n, 1e-9);
      for (let d = 0; d < D; d++) v[d]! *= inv;
    } else {
      let pos = pooling === "cls" ? m.indexOf(1) : m.lastIndexOf(1);
      if (pos < 0) pos = 0;
      v.set(data.subarray(base + pos * D, base + (pos + 1) * D));
    }
    result.push(l2normalize(v));
  }
  return result;
}

function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}
