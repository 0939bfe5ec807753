import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { describeRetrievalSettings, loadConfig, parseFusion, type Config } from "../../config.ts";
import type { AnswerEvalReport } from "../../eval/run-answer-eval.ts";
import type { EvalReport } from "../../eval/run-eval.ts";
import { actorFor, withKb } from "../context.ts";

export function formatReport(name: string, r: EvalReport): string {
  const f = (x: number) => x.toFixed(4);
  return [
    `${name}: ${r.questions} questions over ${r.documents} documents (${r.chunks} chunks), ${r.mode} retrieval`,
    `  passages: Recall@1 ${f(r.recall1)}  Recall@5 ${f(r.recall5)}  Recall@10 ${f(r.recall10)}  MRR@10 ${f(r.mrr10)}  nDCG@10 ${f(r.ndcg10)}`,
    `  files:    hit@1 ${f(r.files.recall1)}  hit@5 ${f(r.files.recall5)}  hit@10 ${f(r.files.recall10)}  MRR@10 ${f(r.files.mrr10)}`,
    `  ${describeRetrievalSettings(r.settings, r.reranker)}` + (r.rerankMsPerQuery !== null ? `; reranked ${r.reranked} questions, ${r.rerankMsPerQuery.toFixed(1)} ms/query in the reranker` : ""),
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
    .option("--fusion <spec>", "this run's rank fusion instead of KB_FUSION: k=<n>,lexical=<weight>,vector=<weight> (any of them)")
    .option("--lexical-candidates <n>", "this run's KB_LEXICAL_CANDIDATES (0: max(3 × topK, 30))")
    .option("--vector-candidates <n>", "this run's KB_VECTOR_CANDIDATES (0: max(3 × topK, 30))")
    .option("--rerank-model <name>", "this run's KB_RERANK_MODEL (a folder in the models folder; none: no reranker)")
    .option("--rerank-candidates <n>", "this run's KB_RERANK_CANDIDATES")
    .action(async (qaFile: string, o: EvalOptions) => {
      const retrieval = retrievalOverrides(o);
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
        const report = await withKb<EvalReport | AnswerEvalReport>(
          async (kb) => (o.answers ? runAnswerEvalInPlace(kb, dataset, await actorFor(kb, o.as), options) : runRetrievalEvalInPlace(kb, dataset, await actorFor(kb, o.as), options)),
          retrieval,
        );
        process.stderr.write("\n");
        if (o.json) console.log(JSON.stringify(report, null, 2));
        else console.log("answerable" in report ? formatAnswerReport(path.basename(qaFile), report) : formatReport(path.basename(qaFile), report));
        return;
      }
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-eval-data-"));
      const onProgress = (s: string, d: number, t: number) => process.stderr.write(`\r${s} ${d}/${t}   `);
      const limit = o.limit ? Number(o.limit) : undefined;
      let setup = "";
      try {
        const report = await withKb<EvalReport | AnswerEvalReport>(
          async (kb) => {
            if (!o.answers) return runRetrievalEval(kb, dataset, { limit, onProgress });
            const r = await runAnswerEval(kb, dataset, { answerable: limit, heldOut: o.heldOut ? Number(o.heldOut) : undefined, onProgress });
            const rr = kb.reranker.status();
            setup = describeRetrievalSettings(kb.retriever.settings, rr.status === "off" ? null : rr.status === "failed" ? `${rr.model} (failed to load: ${rr.error})` : rr.model);
            return r;
          },
          // loadConfig puts the models under this data folder unless KB_MODELS_DIR names one.
          { dataDir, logLevel: "warn", ...retrieval },
        );
        process.stderr.write("\n");
        const name = path.basename(qaFile);
        if (o.json) console.log(JSON.stringify("answerable" in report ? { ...report, retrievalSettings: setup } : report, null, 2));
        else console.log("answerable" in report ? `${formatAnswerReport(name, report)}\n  ${setup}` : formatReport(name, report));
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
}

interface EvalOptions {
  limit?: string;
  answers?: boolean;
  heldOut?: string;
  json?: boolean;
  as?: string;
  fusion?: string;
  lexicalCandidates?: string;
  vectorCandidates?: string;
  rerankModel?: string;
  rerankCandidates?: string;
}

/** The retrieval settings a run's flags change (over the configured ones); {} without such flags. */
export function retrievalOverrides(o: EvalOptions, env: NodeJS.ProcessEnv = process.env): Partial<Config> {
  const count = (flag: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer of at least ${min}, got "${v}"`);
    return n;
  };
  const lexical = count("--lexical-candidates", o.lexicalCandidates, 0);
  const vector = count("--vector-candidates", o.vectorCandidates, 0);
  const rerank = count("--rerank-candidates", o.rerankCandidates, 1);
  const out: Partial<Config> = {};
  if (o.fusion !== undefined || lexical !== undefined || vector !== undefined || rerank !== undefined) {
    const base = loadConfig(env).retrieval;
    out.retrieval = {
      fusion: o.fusion !== undefined ? parseFusion(o.fusion, "--fusion", base.fusion) : base.fusion,
      lexicalCandidates: lexical ?? base.lexicalCandidates,
      vectorCandidates: vector ?? base.vectorCandidates,
      rerankCandidates: rerank ?? base.rerankCandidates,
    };
  }
  if (o.rerankModel !== undefined) out.rerankModel = o.rerankModel.toLowerCase() === "none" ? undefined : o.rerankModel;
  return out;
}
