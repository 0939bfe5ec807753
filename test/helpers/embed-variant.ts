/**
 * A models folder for tests that switch models: the fixture model ("tiny-embed", 32d) and a
 * variant with another dimension ("tiny-embed-<dim>"), made from the fixture generator's
 * exported graph builder (test/fixtures/make-embedding-model.ts) with a different width and seed.
 */
import fs from "node:fs";
import path from "node:path";
import { buildTinyEmbeddingOnnx, tinyEmbedVocab } from "../fixtures/make-embedding-model.ts";

export function modelsWithVariant(dir: string, dimension = 48): { modelsDir: string; base: string; variant: string } {
  const source = process.env.KB_TEST_EMBED_MODEL_DIR;
  const base = process.env.KB_TEST_EMBED_MODEL;
  if (!source || !base) throw new Error("KB_TEST_EMBED_MODEL_DIR is not set (run through vitest: test/global-setup.ts)");
  const modelsDir = path.join(dir, "models");
  fs.cpSync(source, path.join(modelsDir, base), { recursive: true });
  const variant = `${base}-${dimension}`;
  const target = path.join(modelsDir, variant);
  fs.cpSync(source, target, { recursive: true });
  fs.writeFileSync(path.join(target, "onnx", "model.onnx"), buildTinyEmbeddingOnnx(tinyEmbedVocab().length, dimension, 4321));
  const config = JSON.parse(fs.readFileSync(path.join(target, "config.json"), "utf8")) as Record<string, unknown>;
  fs.writeFileSync(path.join(target, "config.json"), JSON.stringify({ ...config, hidden_size: dimension }, null, 1));
  return { modelsDir, base, variant };
}
