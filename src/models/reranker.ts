/**
 * Local cross-encoder reranker on top of @huggingface/transformers (ONNX Runtime for Node).
 *
 * - A reranker is a transformers.js-layout folder under the models dir, the same layout as an
 *   embedding model: config.json (a `…ForSequenceClassification` architecture), tokenizer.json,
 *   tokenizer_config.json, onnx/model.onnx (or onnx/model_<dtype>.onnx with `dtype`, e.g.
 *   model_quantized.onnx for "q8", set in the folder's private-kb.json sidecar or the options).
 * - Loaded with AutoTokenizer + AutoModelForSequenceClassification from local files only: the
 *   same offline lock-down as the embedder (`loadTransformers` → `applyOfflineTransformersEnv`:
 *   remote models off, `fetch` throws). A model that is not on disk is an error.
 * - `score(query, passages)` tokenizes each (query, passage) pair as the model's two segments and
 *   returns the first logit of each pair: the relevance score (higher is more relevant), as
 *   bge-reranker and the other single-logit cross-encoders define it. Models with several labels
 *   are refused at load (they are classifiers, not rerankers).
 * - One batch runs at a time per reranker (bounded memory, safe for concurrent callers).
 */
import fs from "node:fs";
import path from "node:path";
import type { PreTrainedModel, PreTrainedTokenizer, Tensor as HfTensor } from "@huggingface/transformers";
import { DTYPE_SUFFIX, loadOnDevice, loadTransformers, NO_SPINNING, openSlotModelFolder, type EmbeddingDevice, type EmbeddingDtype } from "./embeddings.ts";
import { memoizeWordPiece } from "./tokenizer-memo.ts";

export interface Reranker {
  /** Folder name under the models dir. */
  readonly modelId: string;
  /** One relevance score per passage, in input order (higher: more relevant to `query`). */
  score(query: string, passages: string[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface LoadRerankerOptions {
  modelsDir: string;
  /** Folder name under modelsDir, or an absolute path. */
  model: string;
  /** "auto": CUDA when onnxruntime-node's CUDA provider is installed and works, else CPU. Default "cpu". */
  device?: EmbeddingDevice;
  /** Pairs per forward pass (default 16). */
  batchSize?: number;
  /** Max tokens per pair, special tokens included (default: the model's, capped at 512). */
  maxLength?: number;
  /** ONNX variant (default: the sidecar's `dtype`, else fp32 = onnx/model.onnx). */
  dtype?: EmbeddingDtype;
  /** ONNX Runtime intra-op threads (default: ORT's choice). */
  threads?: number;
  log?: (message: string) => void;
}

const DEFAULT_MAX_LENGTH = 512;
const DEFAULT_BATCH_SIZE = 16;
/** Passages are cut to maxLength * this many characters before tokenising (bounds tokenizer work). */
const CHARS_PER_TOKEN_BOUND = 16;

const PLACEMENT_HINT =
  "A reranker is a transformers.js-format folder in the models folder: config.json (a …ForSequenceClassification " +
  "architecture with one label), tokenizer.json, tokenizer_config.json and onnx/model.onnx (e.g. the files of " +
  "onnx-community/bge-reranker-v2-m3-ONNX, copied from a connected machine; set \"dtype\" in private-kb.json to use " +
  "onnx/model_quantized.onnx or another variant).";

/** Loads the reranker named by `model` from the models folder; throws with the reason when it cannot. */
export async function loadReranker(opts: LoadRerankerOptions): Promise<Reranker> {
  const log = opts.log ?? ((m: string) => console.warn(`[reranker] ${m}`));
  const { modelsDir, dir, modelId, sidecar, dtype, fail } = openSlotModelFolder(opts, "Reranker", PLACEMENT_HINT);
  const onnxFile = `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
  const missing = ["config.json", "tokenizer.json", "tokenizer_config.json", onnxFile].filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) fail(`${dir} is incomplete: missing ${missing.join(", ")}. ${PLACEMENT_HINT}`);

  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    return fail(`cannot parse config.json: ${(e as Error).message}`);
  }
  const archs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  if (archs.length && !archs.some((a) => a.endsWith("ForSequenceClassification"))) {
    fail(`config.json names ${archs.join(", ")}, not a …ForSequenceClassification cross-encoder. ${PLACEMENT_HINT}`);
  }
  const labels = typeof config.num_labels === "number" ? config.num_labels : config.id2label && typeof config.id2label === "object" ? Object.keys(config.id2label).length : 1;
  if (labels !== 1) fail(`config.json has ${labels} labels; a reranker has one (its relevance logit). ${PLACEMENT_HINT}`);

  const t = await loadTransformers(modelsDir);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = await t.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    return fail(`cannot load the tokenizer: ${(e as Error).message}`);
  }
  memoizeWordPiece(tokenizer);
  const positions = typeof config.max_position_embeddings === "number" ? config.max_position_embeddings - (/roberta/.test(String(config.model_type ?? "")) ? 2 : 0) : Infinity;
  const tokenizerMax = Number.isFinite(tokenizer.model_max_length) && tokenizer.model_max_length > 0 ? tokenizer.model_max_length : Infinity;
  const modelMax = Math.min(positions, tokenizerMax);
  const requested = opts.maxLength ?? sidecar.maxLength;
  const maxLength = Math.max(8, Math.floor(Math.min(requested ?? DEFAULT_MAX_LENGTH, modelMax)));
  if (requested !== undefined && requested > modelMax) log(`maxLength ${requested} exceeds the model's ${modelMax}; using ${maxLength}`);

  const sessionOptions: Record<string, unknown> = {};
  if (opts.threads !== undefined && opts.threads > 0) sessionOptions.intraOpNumThreads = Math.floor(opts.threads);
  const load = (device: "cpu" | "cuda") =>
    t.AutoModelForSequenceClassification.from_pretrained(dir, { local_files_only: true, device, dtype, session_options: device === "cpu" ? { ...sessionOptions, extra: NO_SPINNING } : { ...sessionOptions } });
  const model: PreTrainedModel = await loadOnDevice(opts.device ?? "cpu", load, fail, log, path.join(dir, onnxFile));
  const reranker = new TransformersReranker(t, tokenizer, model, modelId, maxLength, Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE)));
  try {
    const probe = await reranker.score("probe / 확인", ["probe passage / 확인 문장"]);
    if (probe.length !== 1 || !Number.isFinite(probe[0])) throw new Error("the model returned no finite score");
  } catch (e) {
    await reranker.close();
    return fail(`failed its probe: ${(e as Error).message}`);
  }
  return reranker;
}

type TransformersModule = Awaited<ReturnType<typeof loadTransformers>>;

class TransformersReranker implements Reranker {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly specialIds: Set<number>;

  constructor(
    private readonly t: TransformersModule,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    readonly modelId: string,
    private readonly maxLength: number,
    private readonly batchSize: number,
  ) {
    this.specialIds = new Set(tokenizer.all_special_ids);
  }

  async score(query: string, passages: string[]): Promise<number[]> {
    if (passages.length === 0) return [];
    const cap = this.maxLength * CHARS_PER_TOKEN_BOUND;
    const q = query.slice(0, cap);
    const texts = passages.map((p) => p.slice(0, cap));
    const out: number[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize);
      // One batch at a time per model, in arrival order.
      const run = this.queue.then(() => this.runBatch(q, batch));
      this.queue = run.catch(() => {});
      out.push(...(await run));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.model.dispose();
  }

  private async runBatch(query: string, passages: string[]): Promise<number[]> {
    if (this.closed) throw new Error(`reranker "${this.modelId}" is closed`);
    const enc = this.tokenizer(
      passages.map(() => query),
      { text_pair: passages, padding: false, truncation: false, return_tensor: false },
    ) as unknown as { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] };
    const L = this.maxLength;
    // Pairs longer than maxLength lose the end of the passage; the closing special token
    // ([SEP] / </s>) is kept, as the Python tokenizers' `only_second` truncation does.
    const rows = enc.input_ids.map((ids, i) => {
      let types = enc.token_type_ids?.[i];
      if (ids.length > L) {
        const last = ids[ids.length - 1]!;
        const keepLast = this.specialIds.has(last);
        ids = keepLast ? [...ids.slice(0, L - 1), last] : ids.slice(0, L);
        if (types) types = keepLast ? [...types.slice(0, L - 1), types[types.length - 1]!] : types.slice(0, L);
      }
      return { ids, types };
    });
    const B = rows.length;
    const S = Math.max(1, ...rows.map((r) => r.ids.length));
    const leftPad = this.tokenizer.padding_side === "left";
    const inputIds = new BigInt64Array(B * S).fill(BigInt(this.tokenizer.pad_token_id ?? 0));
    const mask = new BigInt64Array(B * S);
    const typeIds = enc.token_type_ids ? new BigInt64Array(B * S) : null;
    rows.forEach((r, b) => {
      const off = b * S + (leftPad ? S - r.ids.length : 0);
      for (let j = 0; j < r.ids.length; j++) {
        inputIds[off + j] = BigInt(r.ids[j]!);
        mask[off + j] = 1n;
        if (typeIds && r.types) typeIds[off + j] = BigInt(r.types[j] ?? 0);
      }
    });
    const { Tensor } = this.t;
    const feeds: Record<string, HfTensor> = {
      input_ids: new Tensor("int64", inputIds, [B, S]),
      attention_mask: new Tensor("int64", mask, [B, S]),
    };
    if (typeIds) feeds.token_type_ids = new Tensor("int64", typeIds, [B, S]);
    const output = (await (this.model as unknown as (f: Record<string, HfTensor>) => Promise<Record<string, HfTensor>>)(feeds)) as Record<string, HfTensor>;
    try {
      let logits = output.logits;
      if (!logits) throw new Error("the model produced no logits");
      if (logits.type !== "float32") logits = logits.to("float32");
      const per = logits.dims.length === 2 ? logits.dims[1]! : 1;
      const data = logits.data as Float32Array;
      return Array.from({ length: B }, (_, b) => data[b * per]!);
    } finally {
      for (const v of Object.values(output)) (v as { dispose?: () => void }).dispose?.();
    }
  }
}
