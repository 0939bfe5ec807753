/**
 * The recommended models, for `kb models pull | verify` and the README.
 *
 * Honesty rules for this file:
 * - `sha256: null` means we could not verify the checksum when writing this (no network in the
 *   build environment, and Hugging Face "main" revisions change: the same file name has had
 *   several different hashes). `kb models pull` refuses to install a file whose checksum is not
 *   pinned here (or in an operator's `--manifest`) unless run with `--no-verify`.
 * - `sizeBytes: null` means the exact size is not known; `approxBytes` is the size shown in the
 *   Hugging Face file listing (decimal units), for planning only, never for verification.
 * - `memory` figures are estimates (weights ≈ file size; KV cache from the architecture in the
 *   model's config at the given context, f16; plus runtime buffers), not measurements.
 *
 * Operators who have checked a file (e.g. against the SHA256 the model page shows for a pinned
 * revision) can pin it in their own manifest JSON of the same shape and pass `--manifest file`.
 */
import { z } from "zod";

export const ManifestFileSchema = z.object({
  /** Path inside the model's target (folder for embedding models; the file name for GGUF). */
  path: z.string().min(1),
  url: z.string().url(),
  /** Exact size in bytes, or null when unknown. */
  sizeBytes: z.number().int().positive().nullable(),
  /** Size as listed upstream (approximate, decimal units), for planning. */
  approxBytes: z.number().int().positive().optional(),
  /** Lower-case hex SHA-256, or null when it could not be verified. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});

export const ManifestEntrySchema = z.object({
  /** The name under the models folder: a folder (embedding) or a .gguf file (llm). */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  kind: z.enum(["embedding", "llm"]),
  description: z.string(),
  /** Where it comes from (repository and revision). */
  source: z.string(),
  license: z.string(),
  /** Which deployment it suits: "cpu", "consumer-gpu", "datacenter-gpu". */
  tiers: z.array(z.enum(["cpu", "consumer-gpu", "datacenter-gpu"])),
  /** Estimated memory to run it, as text (estimates, see the file comment). */
  memory: z.string(),
  files: z.array(ManifestFileSchema).min(1),
  /** Written beside embedding models as private-kb.json (prefixes, pooling, dtype), if needed. */
  sidecar: z.record(z.string(), z.unknown()).optional(),
});

export const ManifestSchema = z.object({ models: z.array(ManifestEntrySchema) });

export type ManifestFile = z.infer<typeof ManifestFileSchema>;
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;
export type Manifest = z.infer<typeof ManifestSchema>;

const HF = "https://huggingface.co";
const hf = (repo: string, file: string, revision = "main") => `${HF}/${repo}/resolve/${revision}/${file}`;
const MB = 1_000_000;
const GB = 1_000_000_000;

function transformersJsFiles(repo: string, onnxApprox: number) {
  return [
    { path: "config.json", url: hf(repo, "config.json"), sizeBytes: null, sha256: null },
    { path: "tokenizer.json", url: hf(repo, "tokenizer.json"), sizeBytes: null, sha256: null },
    { path: "tokenizer_config.json", url: hf(repo, "tokenizer_config.json"), sizeBytes: null, sha256: null },
    { path: "special_tokens_map.json", url: hf(repo, "special_tokens_map.json"), sizeBytes: null, sha256: null },
    { path: "onnx/model.onnx", url: hf(repo, "onnx/model.onnx"), sizeBytes: null, approxBytes: onnxApprox, sha256: null },
  ];
}

/** The built-in manifest. */
export const MANIFEST: Manifest = ManifestSchema.parse({
  models: [
    {
      name: "multilingual-e5-small",
      kind: "embedding",
      description: "Multilingual (Korean + English) embedding model, 384 dimensions, fp32 ONNX in transformers.js layout. Turns on hybrid retrieval.",
      source: "Xenova/multilingual-e5-small (ONNX export of intfloat/multilingual-e5-small), revision main",
      license: "MIT",
      tiers: ["cpu", "consumer-gpu"],
      memory: "about 0.5-1 GB RAM (470 MB of weights plus ONNX Runtime buffers; estimate)",
      files: transformersJsFiles("Xenova/multilingual-e5-small", 470 * MB),
    },
    {
      name: "multilingual-e5-base",
      kind: "embedding",
      description: "Larger multilingual embedding model, 768 dimensions, fp32 ONNX. Better retrieval, about 3x the CPU cost of e5-small.",
      source: "Xenova/multilingual-e5-base (ONNX export of intfloat/multilingual-e5-base), revision main",
      license: "MIT",
      tiers: ["consumer-gpu", "datacenter-gpu"],
      memory: "about 1.5-2 GB RAM (1.11 GB of weights plus buffers; estimate)",
      files: transformersJsFiles("Xenova/multilingual-e5-base", 1110 * MB),
    },
    {
      name: "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
      kind: "llm",
      description: "Small instruct model with Korean support (Qwen2.5 covers 29+ languages), 4-bit. Usable on CPU only.",
      source: "bartowski/Qwen2.5-1.5B-Instruct-GGUF (quantization of Qwen/Qwen2.5-1.5B-Instruct), revision main",
      license: "Apache-2.0",
      tiers: ["cpu"],
      memory: "about 1.5 GB RAM at KB_LLM_CONTEXT=4096 (0.99 GB weights + ~0.12 GB KV cache per sequence + buffers; estimate)",
      files: [{ path: "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf", url: hf("bartowski/Qwen2.5-1.5B-Instruct-GGUF", "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf"), sizeBytes: null, approxBytes: 986 * MB, sha256: null }],
    },
    {
      name: "Qwen2.5-7B-Instruct-Q4_K_M.gguf",
      kind: "llm",
      description: "7B instruct model with Korean support, 4-bit. Fits one consumer GPU with 8 GB or more.",
      source: "bartowski/Qwen2.5-7B-Instruct-GGUF (quantization of Qwen/Qwen2.5-7B-Instruct), revision main",
      license: "Apache-2.0",
      tiers: ["consumer-gpu"],
      memory: "about 5.5 GB VRAM at KB_LLM_CONTEXT=4096 (4.68 GB weights + ~0.23 GB KV cache per sequence + buffers; estimate)",
      files: [{ path: "Qwen2.5-7B-Instruct-Q4_K_M.gguf", url: hf("bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen2.5-7B-Instruct-Q4_K_M.gguf"), sizeBytes: null, approxBytes: 4.68 * GB, sha256: null }],
    },
    {
      name: "Qwen2.5-14B-Instruct-Q4_K_M.gguf",
      kind: "llm",
      description: "14B instruct model with Korean support, 4-bit. For one data-center GPU; room left for several sequences (KB_LLM_SEQUENCES).",
      source: "bartowski/Qwen2.5-14B-Instruct-GGUF (quantization of Qwen/Qwen2.5-14B-Instruct), revision main",
      license: "Apache-2.0",
      tiers: ["datacenter-gpu"],
      memory: "about 10.5 GB VRAM at KB_LLM_CONTEXT=4096 with one sequence (8.99 GB weights + ~0.8 GB KV cache per sequence + buffers; estimate)",
      files: [{ path: "Qwen2.5-14B-Instruct-Q4_K_M.gguf", url: hf("bartowski/Qwen2.5-14B-Instruct-GGUF", "Qwen2.5-14B-Instruct-Q4_K_M.gguf"), sizeBytes: null, approxBytes: 8.99 * GB, sha256: null }],
    },
  ],
});

/** Merges an operator's manifest over the built-in one (same name replaces). */
export function mergeManifest(base: Manifest, extra: Manifest): Manifest {
  const byName = new Map(base.models.map((m) => [m.name, m]));
  for (const m of extra.models) byName.set(m.name, m);
  return { models: [...byName.values()] };
}

export function parseManifest(json: unknown, where = "manifest"): Manifest {
  const r = ManifestSchema.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid ${where}:\n${lines.join("\n")}`);
  }
  return r.data;
}
