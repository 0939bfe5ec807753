import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import type { AnswerEvalReport } from "../../eval/run-answer-eval.ts";
import type { EvalReport } from "../../eval/run-eval.ts";
import { actorFor, withKb } from "../context.ts";

export function formatReport(name: string, r: EvalReport): string {
  const f = (x: number) => x.toFixed(4);
  return [
    `${name}: ${r.questions} questions over ${r.documents} documents (${r.chunks} chunks), ${r.mode} retrieval`,
    `  passages: Recall@1 ${f(r.recall1)}  Recall@5 ${f(r.recall5)}  Recall@10 ${f(r.recall10)}  MRR@10 ${f(r.mrr10)}  nDCG@10 ${f(r.ndcg10)}`,
    `  files:    hit@1 ${f(r.files.recall1)}  hit@5 ${f(r.files.recall5)}  hit@10 ${f(r.files.recall10)}  MRR@10 ${f(r.files.mrr10)}`,
    `  ingest ${r.ingestSeconds.toFixed(1)} s, queries ${r.querySeconds.toFixed(1)} s (${r.msPerQuery.toFixed(1)} ms/query)`,
  ].join("\n");
}

export function formatAnswerReport(name: string, r: AnswerEvalReport): string {
  const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)}%`;
  return [
    `${name}: ${r.answerable} answerable and ${r.heldOut} held-out questions over ${r.documents} documents, ${r.mode}`,
    `  answered ${pct(r.answered, r.answerable)}  contains the reference ${pct(r.containsAnswer, r.answerable)}  first sentence ${pct(r.firstSentenceContainsAnswer, r.answerable)}  cites the reference ${pct(r.citesReference, r.answerable)}`,
    r.heldOut ? `  held out: "I don't know" ${pct(r.abstained, r.heldOut)}; ${r.msPerQuestion.toFixed(1)} ms/question` : `  ${r.msPerQuestion.toFixed(1)} ms/question`,
  ].join("\n");
}

export function registerEvalCommand(program: Command): void {
  program
    .command("eval <qaFile>")
    .description(
      "measure retrieval (passages: Recall@1/5/10, MRR@10, nDCG@10; files: hit@1/5/10) or, with --answers, answers and \"I don't know\" on a QA set (SQuAD/KorQuAD JSON or AutoRAG JSONL) through the real ingest and ask path, in a temporary knowledge base; a reviewed-feedback export (JSONL question/expected_document_ids/expected_answer) is measured in place, on the configured knowledge base",
    )
    .option("--limit <n>", "retrieval: only the first n questions; --answers: at most n answerable questions (default 1000)")
    .option("--answers", "ask through the answerer; QA sets: every fifth article is held out of the index and its questions should get \"I don't know\"; feedback sets: rows with an expected_answer")
    .option("--held-out <n>", "--answers: at most n held-out questions (default 300)")
    .option("--json", "print JSON")
    .option("--as <user>", "feedback sets: ask as this user (default: the operator, who reads everything)")
    .action(async (qaFile: string, o: { limit?: string; answers?: boolean; heldOut?: string; json?: boolean; as?: string }) => {
      // Evaluation code is loaded on use: `kb --help` and other commands start without it.
      const [{ readQaDataset }, { runAnswerEval, runAnswerEvalInPlace }, { runRetrievalEval, runRetrievalEvalInPlace }] = await Promise.all([
        import("../../eval/qa-formats.ts"),
        import("../../eval/run-answer-eval.ts"),
        import("../../eval/run-eval.ts"),
      ]);
      const dataset = await readQaDataset(qaFile);
      const onProgressInPlace = (s: string, d: number, t: number) => process.stderr.write(`\r${s} ${d}/${t}   `);
      if (dataset.format === "feedback") {
        // Its expected ids are documents of this knowledge base: nothing to ingest.
        const options = { limit: o.limit ? Number(o.limit) : undefined, onProgress: onProgressInPlace };
        const report = await withKb<EvalReport | AnswerEvalReport>(async (kb) =>
          o.answers ? runAnswerEvalInPlace(kb, dataset, await actorFor(kb, o.as), options) : runRetrievalEvalInPlace(kb, dataset, await actorFor(kb, o.as), options),
        );
        process.stderr.write("\n");
        if (o.json) console.log(JSON.stringify(report, null, 2));
        else console.log("answerable" in report ? formatAnswerReport(path.basename(qaFile), report) : formatReport(path.basename(qaFile), report));
        return;
      }
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-eval-data-"));
      const onProgress = (s: string, d: number, t: number) => process.stderr.write(`\r${s} ${d}/${t}   `);
      const limit = o.limit ? Number(o.limit) : undefined;
      try {
        const report = await withKb<EvalReport | AnswerEvalReport>(
          (kb) =>
            o.answers
              ? runAnswerEval(kb, dataset, { answerable: limit, heldOut: o.heldOut ? Number(o.heldOut) : undefined, onProgress })
              : runRetrievalEval(kb, dataset, { limit, onProgress }),
          // loadConfig puts the models under this data folder unless KB_MODELS_DIR names one.
          { dataDir, logLevel: "warn" },
        );
        process.stderr.write("\n");
        const name = path.basename(qaFile);
        if (o.json) console.log(JSON.stringify(report, null, 2));
        else console.log("answerable" in report ? formatAnswerReport(name, report) : formatReport(name, report));
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
}
