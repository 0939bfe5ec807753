/** What bench:retrieval and bench:answers share: the QA sets (read in place), a throw-away knowledge base per run, the report table. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { loadConfig, type Config } from "../src/config.ts";
import { readQaDataset, type QaDataset } from "../src/eval/qa-formats.ts";
import { openKb, type Kb } from "../src/services/container.ts";
import { replaceSection } from "./report.ts";

const SHARED = path.resolve("../shared/data");

export const QA_DATASETS = [
  { name: "KorQuAD 1.0 dev", file: path.join(SHARED, "korquad1_dev/KorQuAD_v1.0_dev.json") },
  { name: "SQuAD 1.1 dev", file: path.join(SHARED, "squad11_dev/dev-v1.1.json") },
];

/** Runs `fn` on a fresh knowledge base in a temporary folder (models from KB_MODELS_DIR if set), then removes it. */
export async function withTempKb<T>(fn: (kb: Kb) => Promise<T>, overrides: Partial<Config> = {}): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-"));
  const kb = await openKb(loadConfig(process.env, { dataDir, modelsDir: process.env.KB_MODELS_DIR ?? path.join(dataDir, "models"), logLevel: "warn", ...overrides }), {
    logger: pino({ level: "warn" }),
  });
  try {
    return await fn(kb);
  } finally {
    await kb.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Runs `rowFor` on each QA set that is present (a missing one is skipped with a message), with a
 * progress callback for stderr; returns the Markdown table rows it produced.
 */
export async function tableRowsOverQaDatasets(
  rowFor: (name: string, dataset: QaDataset, onProgress: (stage: string, done: number, total: number) => void) => Promise<string>,
): Promise<string[]> {
  const rows: string[] = [];
  for (const ds of QA_DATASETS) {
    if (!fs.existsSync(ds.file)) {
      console.log(`skip ${ds.name}: ${ds.file} not found`);
      continue;
    }
    const dataset = await readQaDataset(ds.file);
    const row = await rowFor(ds.name, dataset, (stage, done, total) => process.stderr.write(`\r${ds.name}: ${stage} ${done}/${total}   `));
    process.stderr.write("\n");
    console.log(row);
    rows.push(row);
  }
  return rows;
}

/** Writes a "Measured … command `npm run bench:<name>`" section of docs/benchmarks.md with one table. */
export function writeTableSection(name: string, intro: string[], header: string[], rows: string[]): void {
  if (rows.length === 0) return;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:${name}\`.`,
    "",
    ...intro.flatMap((line) => [line, ""]),
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---|").join("")}`,
    ...rows,
  ].join("\n");
  replaceSection("docs/benchmarks.md", name, body);
  console.log("updated docs/benchmarks.md");
}
