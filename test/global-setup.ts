/**
 * Vitest globalSetup (runs once, in the main process, before any test file).
 *
 * 1. Generates the tiny fixture embedding model into test/.fixtures/models/tiny-embed/
 *    (gitignored) unless an up-to-date copy is already there. Idempotent and safe when several
 *    vitest runs start at once (builds in a temp folder, then renames).
 * 2. Publishes paths to test files, both as environment variables (inherited by the forked
 *    workers: vitest builds the fork env from process.env after globalSetup) and through
 *    `project.provide` (read with `inject("KB_TEST_...")` from "vitest"):
 *
 *    KB_TEST_EMBED_MODELS_DIR    absolute models dir holding the fixture (use as modelsDir / KB_MODELS_DIR)
 *    KB_TEST_EMBED_MODEL         fixture folder name, "tiny-embed" (use as model / KB_EMBED_MODEL)
 *    KB_TEST_EMBED_MODEL_DIR     absolute path of the fixture folder
 *    KB_TEST_IMAGE_MODEL         fixture image-to-text folder name in KB_TEST_EMBED_MODELS_DIR, "tiny-caption"
 *                                (random weights: gibberish captions; fixtures/make-image-caption-model.ts)
 *    KB_TEST_GGUF                ../shared/models/stories260K/stories260K.gguf (absolute) or "" when absent;
 *                                a non-empty KB_TEST_GGUF already in the environment is kept
 *    KB_TEST_SHARED_MODELS_DIR   ../shared/models (absolute) or "" when absent
 *    KB_TEST_DB_RUN              this run's id: with KB_TEST_DATABASE_URL, the test databases are
 *                                named kb_t_<run>_… (helpers/pg.ts) and the teardown drops those
 *                                still there (a worker that crashed before its tests' close)
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { makeTinyEmbeddingModel, TINY_EMBED_FIXTURE_VERSION } from "./fixtures/make-embedding-model.ts";
import { makeTinyCaptionModel, TINY_CAPTION_FIXTURE_VERSION } from "./fixtures/make-image-caption-model.ts";
import { dropDatabasesStartingWith, runPrefix } from "./helpers/pg.ts";

declare module "vitest" {
  export interface ProvidedContext {
    KB_TEST_EMBED_MODELS_DIR: string;
    KB_TEST_EMBED_MODEL: string;
    KB_TEST_EMBED_MODEL_DIR: string;
    KB_TEST_IMAGE_MODEL: string;
    KB_TEST_GGUF: string;
    KB_TEST_SHARED_MODELS_DIR: string;
  }
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const FIXTURE_MODELS_DIR = path.join(REPO_ROOT, "test", ".fixtures", "models");
export const FIXTURE_EMBED_MODEL = "tiny-embed";
export const FIXTURE_IMAGE_MODEL = "tiny-caption";

const FIXTURES = {
  [FIXTURE_EMBED_MODEL]: { files: ["tokenizer.json", "tokenizer_config.json", path.join("onnx", "model.onnx")], version: TINY_EMBED_FIXTURE_VERSION, make: makeTinyEmbeddingModel },
  [FIXTURE_IMAGE_MODEL]: {
    files: ["tokenizer.json", "tokenizer_config.json", "preprocessor_config.json", "generation_config.json", path.join("onnx", "encoder_model.onnx"), path.join("onnx", "decoder_model_merged.onnx")],
    version: TINY_CAPTION_FIXTURE_VERSION,
    make: makeTinyCaptionModel,
  },
} as const;

function fixtureIsCurrent(dir: string, name: keyof typeof FIXTURES = FIXTURE_EMBED_MODEL): boolean {
  try {
    for (const f of FIXTURES[name].files) {
      if (!fs.statSync(path.join(dir, f)).isFile()) return false;
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as { _fixture_version?: number };
    return cfg._fixture_version === FIXTURES[name].version;
  } catch {
    return false;
  }
}

/** Ensures the fixture model exists and is current; returns its folder. */
export async function ensureFixtureEmbeddingModel(modelsDir = FIXTURE_MODELS_DIR): Promise<string> {
  return ensureFixtureModel(FIXTURE_EMBED_MODEL, modelsDir);
}

/** Ensures the fixture image-to-text model exists and is current; returns its folder. */
export async function ensureFixtureImageModel(modelsDir = FIXTURE_MODELS_DIR): Promise<string> {
  return ensureFixtureModel(FIXTURE_IMAGE_MODEL, modelsDir);
}

async function ensureFixtureModel(name: keyof typeof FIXTURES, modelsDir: string): Promise<string> {
  const target = path.join(modelsDir, name);
  const isCurrent = (dir: string) => fixtureIsCurrent(dir, name);
  if (isCurrent(target)) return target;
  await fs.promises.mkdir(modelsDir, { recursive: true });
  const tmp = path.join(modelsDir, `.${name}.tmp-${process.pid}-${Date.now()}`);
  try {
    await FIXTURES[name].make(tmp);
    if (isCurrent(target)) return target; // another run finished first
    await fs.promises.rm(target, { recursive: true, force: true }); // stale version
    try {
      await fs.promises.rename(tmp, target);
    } catch (e) {
      if (!isCurrent(target)) throw e; // lost a race is fine, anything else is not
    }
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
  return target;
}

function existing(p: string): string {
  return fs.existsSync(p) ? p : "";
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Once per run: both projects (unit, web) run this setup in the same process.
  process.env.KB_TEST_DB_RUN ||= crypto.randomBytes(4).toString("hex");
  const modelDir = await ensureFixtureEmbeddingModel();
  await ensureFixtureImageModel();
  const sharedModels = path.resolve(REPO_ROOT, "..", "shared", "models");
  const values = {
    KB_TEST_EMBED_MODELS_DIR: FIXTURE_MODELS_DIR,
    KB_TEST_EMBED_MODEL: FIXTURE_EMBED_MODEL,
    KB_TEST_EMBED_MODEL_DIR: modelDir,
    KB_TEST_IMAGE_MODEL: FIXTURE_IMAGE_MODEL,
    KB_TEST_GGUF: process.env.KB_TEST_GGUF || existing(path.join(sharedModels, "stories260K", "stories260K.gguf")),
    KB_TEST_SHARED_MODELS_DIR: existing(sharedModels),
  } satisfies Record<string, string>;
  for (const [k, v] of Object.entries(values)) {
    process.env[k] = v;
    project.provide(k as keyof typeof values, v);
  }
  return async () => {
    const server = process.env.KB_TEST_DATABASE_URL;
    if (!server) return;
    const left = await dropDatabasesStartingWith(server, runPrefix()).catch((err: Error) => {
      console.warn(`[pg] could not drop this run's test databases: ${err.message}`);
      return [];
    });
    if (left.length > 0) console.warn(`[pg] dropped ${left.length} test database(s) left by this run`);
  };
}
