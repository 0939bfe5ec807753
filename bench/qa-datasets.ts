/** What bench:retrieval and bench:answers share: the QA sets (read in place), a throw-away knowledge base per run, the report table. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig, type Config } from "../src/config.ts";
import { readQaDataset, type QaDataset } from "../src/eval/qa-formats.ts";
import { openKb, type Kb } from "../src/services/container.ts";
import { replaceSection } from "./report.ts";
import { freshDatabase, type StoreName } from "./stores.ts";

const SHARED = path.resolve("../shared/data");

export const QA_DATASETS = [
  { name: "KorQuAD 1.0 dev", file: path.join(SHARED, "korquad1_dev/KorQuAD_v1.0_dev.json") },
  { name: "SQuAD 1.1 dev", file: path.join(SHARED, "squad11_dev/dev-v1.1.json") },
];

/** Runs `fn` on a fresh knowledge base in a temporary folder (models from KB_MODELS_DIR if set), then removes it. */
export async function withTempKb<T>(fn: (kb: Kb) => Promise<T>, overrides: Partial<Config> = {}): Promise<T> {
  const { kb, close } = await openTempKb("SQLite", undefined, overrides);
  try {
    return await fn(kb);
  } finally {
    await close();
  }
}

/**
 * A fresh knowledge base in a temporary folder (models from KB_MODELS_DIR if set) whose metadata
 * store is `store` (PostgreSQL: a fresh database on `server`); `close` removes folder and database.
 */
export async function openTempKb(store: StoreName, server: string | undefined, overrides: Partial<Config> = {}): Promise<{ kb: Kb; close: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-"));
  const db = await freshDatabase(store, server);
  try {
    const kb = await openKb(
      loadConfig(process.env, { dataDir, modelsDir: process.env.KB_MODELS_DIR ?? path.join(dataDir, "models"), logLevel: "warn", databaseUrl: db.databaseUrl, ...overrides }),
      { logger: pino({ level: "warn" }) },
    );
    return {
      kb,
      close: async () => {
        try {
          await kb.close();
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
          await db.drop();
        }
      },
    };
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await db.drop();
    throw err;
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
export function writeTableSection(name: string, intro: string[], header: string[], rows: string[], command = `npm run bench:${name}`): void {
  if (rows.length === 0) return;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`${command}\`.`,
    "",
    ...intro.flatMap((line) => [line, ""]),
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---|").join("")}`,
    ...rows,
  ].join("\n");
  replaceSection("docs/benchmarks.md", name, body);
  console.log("updated docs/benchmarks.md");
}

/**
 * Whether two knowledge bases with the same documents rank `question` with the same list of
 * scores, with the same (QA) documents at each score, so that their rankings differ at most in the
 * order of equal scores: asked as the system actor, who sees scores. A tie at the top-k cut-off
 * may bring in another document of the same score; that counts as a tie too.
 */
export async function sameScoresUpToTies(
  a: { kb: Kb; toQaId: Map<string, string> },
  b: { kb: Kb; toQaId: Map<string, string> },
  question: string,
  topK: number,
): Promise<boolean> {
  const listOf = async (side: typeof a) =>
    (await side.kb.retriever.retrieve(SYSTEM_ACTOR, question, { topK })).chunks.map((c) => ({
      score: Number(c.score ?? Number.NaN).toFixed(6),
      id: side.toQaId.get(c.documentId) ?? c.documentId,
    }));
  const [x, y] = [await listOf(a), await listOf(b)];
  if (x.length !== y.length || x.some((e, i) => e.score !== y[i]!.score || e.score === "NaN")) return false;
  const last = x.at(-1)?.score;
  const group = (l: typeof x, score: string) => l.filter((e) => e.score === score).map((e) => e.id).sort().join("\n");
  return [...new Set(x.map((e) => e.score))].every((score) => score === last || group(x, score) === group(y, score));
}
