/** The QA sets bench:retrieval and bench:answers read in place, and a throw-away knowledge base for each run. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config.ts";
import { openKb, type Kb } from "../src/services/container.ts";

const SHARED = path.resolve("../shared/data");

export const QA_DATASETS = [
  { name: "KorQuAD 1.0 dev", file: path.join(SHARED, "korquad1_dev/KorQuAD_v1.0_dev.json") },
  { name: "SQuAD 1.1 dev", file: path.join(SHARED, "squad11_dev/dev-v1.1.json") },
];

/** Runs `fn` on a fresh knowledge base in a temporary folder (models from KB_MODELS_DIR if set), then removes it. */
export async function withTempKb<T>(fn: (kb: Kb) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-"));
  const kb = await openKb(loadConfig(process.env, { dataDir, modelsDir: process.env.KB_MODELS_DIR ?? path.join(dataDir, "models"), logLevel: "warn" }), {
    logger: pino({ level: "warn" }),
  });
  try {
    return await fn(kb);
  } finally {
    await kb.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
