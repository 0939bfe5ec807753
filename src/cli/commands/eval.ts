import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { readQaDataset } from "../../eval/qa-formats.ts";
import { runRetrievalEval, type EvalReport } from "../../eval/run-eval.ts";
import { withKb } from "../context.ts";

export function formatReport(name: string, r: EvalReport): string {
  const f = (x: number) => x.toFixed(4);
  return [
    `${name}: ${r.questions} questions over ${r.documents} documents (${r.chunks} chunks), ${r.mode} retrieval`,
    `  Recall@1 ${f(r.recall1)}  Recall@5 ${f(r.recall5)}  Recall@10 ${f(r.recall10)}  MRR@10 ${f(r.mrr10)}  nDCG@10 ${f(r.ndcg10)}`,
    `  ingest ${r.ingestSeconds.toFixed(1)} s, queries ${r.querySeconds.toFixed(1)} s (${r.msPerQuery.toFixed(1)} ms/query)`,
  ].join("\n");
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval <qaFile>")
    .description("measure retrieval (Recall@1/5/10, MRR@10, nDCG@10) on a QA set (SQuAD/KorQuAD JSON or AutoRAG JSONL) through the real ingest and search path, in a temporary knowledge base")
    .option("--limit <n>", "only the first n questions")
    .option("--json", "print JSON")
    .action(async (qaFile: string, o: { limit?: string; json?: boolean }) => {
      const dataset = await readQaDataset(qaFile);
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-eval-data-"));
      try {
        const report = await withKb(
          (kb) => runRetrievalEval(kb, dataset, { limit: o.limit ? Number(o.limit) : undefined, onProgress: (s, d, t) => process.stderr.write(`\r${s} ${d}/${t}   `) }),
          { dataDir, modelsDir: process.env.KB_MODELS_DIR ? path.resolve(process.env.KB_MODELS_DIR) : path.join(dataDir, "models"), logLevel: "warn" },
        );
        process.stderr.write("\n");
        console.log(o.json ? JSON.stringify(report, null, 2) : formatReport(path.basename(qaFile), report));
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
}
