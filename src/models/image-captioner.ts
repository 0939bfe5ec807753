/**
 * Local image-to-text model (KB_IMAGE_MODEL) on top of @huggingface/transformers' `image-to-text`
 * pipeline (ONNX Runtime for Node): one short description of a picture.
 *
 * - A model is a transformers.js-layout VisionEncoderDecoder folder under the models dir:
 *   config.json (model_type "vision-encoder-decoder"), preprocessor_config.json, tokenizer.json,
 *   tokenizer_config.json, onnx/encoder_model.onnx and onnx/decoder_model_merged.onnx (or the
 *   `_<dtype>` variants with `dtype` in the folder's private-kb.json sidecar), e.g. the files of
 *   Xenova/vit-gpt2-image-captioning. Florence-2 is a different architecture in transformers.js
 *   (image-text-to-text, not this pipeline) and is NOT supported or tested here.
 * - Loaded from local files only: the same offline lock-down as the embedder (`loadTransformers`
 *   → `applyOfflineTransformersEnv`: remote models off, `fetch` throws).
 * - Pictures are decoded with sharp (PNG, JPEG, WebP, GIF, TIFF: the first frame) to RGB before
 *   the pipeline sees them; one picture runs at a time per model (bounded memory), with at most
 *   `maxNewTokens` generated tokens (default 30, or less when the model's
 *   generation_config.json says so).
 */
import fs from "node:fs";
import path from "node:path";
import { DTYPE_SUFFIX, loadOnDevice, loadTransformers, openSlotModelFolder, type EmbeddingDevice, type EmbeddingDtype } from "./embeddings.ts";

export interface ImageCaptioner {
  /** Folder name under the models dir. */
  readonly modelId: string;
  /** The model's description of the picture (may be empty). */
  caption(bytes: Uint8Array): Promise<string>;
  close(): Promise<void>;
}

export interface LoadImageCaptionerOptions {
  modelsDir: string;
  /** Folder name under modelsDir, or an absolute path. */
  model: string;
  /** "auto": CUDA when onnxruntime-node's CUDA provider is installed and works, else CPU. Default "cpu". */
  device?: EmbeddingDevice;
  /** ONNX variant (default: the sidecar's `dtype`, else fp32). */
  dtype?: EmbeddingDtype;
  /** Most tokens of one description (default 30, or the model's generation_config.json max_new_tokens when lower). */
  maxNewTokens?: number;
  /** Longest side a picture is shrunk to before the model's own resizing (default 1024; bounds decoding memory). */
  maxSide?: number;
  log?: (message: string) => void;
}

const PLACEMENT_HINT =
  "An image-description model is a transformers.js-format VisionEncoderDecoder folder in the models folder: config.json, " +
  "preprocessor_config.json, tokenizer.json, tokenizer_config.json, onnx/encoder_model.onnx and onnx/decoder_model_merged.onnx " +
  "(e.g. the files of Xenova/vit-gpt2-image-captioning, copied from a connected machine).";

const DEFAULT_MAX_NEW_TOKENS = 30;

type TransformersModule = Awaited<ReturnType<typeof loadTransformers>>;
type Captioner = (image: unknown, options: Record<string, unknown>) => Promise<{ generated_text: string }[] | { generated_text: string }[][]>;

/** Loads the image-to-text model named by `model`; throws with the reason when it cannot. */
export async function loadImageCaptioner(opts: LoadImageCaptionerOptions): Promise<ImageCaptioner> {
  const log = opts.log ?? ((m: string) => console.warn(`[image-model] ${m}`));
  const { modelsDir, dir, modelId, sidecar, dtype, fail } = openSlotModelFolder(opts, "Image model", PLACEMENT_HINT);
  const suffix = DTYPE_SUFFIX[dtype];
  const needed = ["config.json", "preprocessor_config.json", "tokenizer_config.json", `onnx/encoder_model${suffix}.onnx`, `onnx/decoder_model_merged${suffix}.onnx`];
  const missing = needed.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) fail(`${dir} is incomplete: missing ${missing.join(", ")}. ${PLACEMENT_HINT}`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    return fail(`cannot parse config.json: ${(e as Error).message}`);
  }
  if (config.model_type !== "vision-encoder-decoder") fail(`config.json has model_type "${String(config.model_type)}", not "vision-encoder-decoder". ${PLACEMENT_HINT}`);

  const t = await loadTransformers(modelsDir);
  const load = async (device: "cpu" | "cuda") => (await t.pipeline("image-to-text", dir, { local_files_only: true, device, dtype })) as unknown as Captioner & { dispose(): Promise<void> };
  const pipe = await loadOnDevice(opts.device ?? "cpu", load, fail, log, dir);
  // The model's own generation_config.json may ask for shorter descriptions; never longer than 30 tokens by default.
  let modelMax = DEFAULT_MAX_NEW_TOKENS;
  try {
    const g = JSON.parse(fs.readFileSync(path.join(dir, "generation_config.json"), "utf8")) as { max_new_tokens?: unknown };
    if (typeof g.max_new_tokens === "number" && g.max_new_tokens > 0) modelMax = Math.min(modelMax, g.max_new_tokens);
  } catch {
    /* no generation_config.json: the default */
  }
  return new TransformersCaptioner(t, pipe, modelId, Math.max(1, Math.floor(opts.maxNewTokens ?? modelMax)), Math.max(64, Math.floor(opts.maxSide ?? 1024)));
}

class TransformersCaptioner implements ImageCaptioner {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly t: TransformersModule,
    private readonly pipe: Captioner & { dispose(): Promise<void> },
    readonly modelId: string,
    private readonly maxNewTokens: number,
    private readonly maxSide: number,
  ) {}

  caption(bytes: Uint8Array): Promise<string> {
    const run = this.queue.then(() => this.run(bytes));
    this.queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.pipe.dispose();
  }

  private async run(bytes: Uint8Array): Promise<string> {
    if (this.closed) throw new Error(`image model "${this.modelId}" is closed`);
    const { default: sharp } = await import("sharp");
    const { data, info } = await sharp(bytes, { pages: 1, limitInputPixels: 100_000_000 })
      .rotate()
      .resize({ width: this.maxSide, height: this.maxSide, fit: "inside", withoutEnlargement: true })
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    const image = new this.t.RawImage(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, 3);
    const out = await this.pipe(image, { max_new_tokens: this.maxNewTokens });
    const first = (Array.isArray(out[0]) ? out[0][0] : out[0]) as { generated_text?: string } | undefined;
    return (first?.generated_text ?? "").replace(/\s+/g, " ").trim();
  }
}
