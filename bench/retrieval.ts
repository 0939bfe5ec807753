/**
 * npm run bench:retrieval — retrieval quality on KorQuAD 1.0 dev and SQuAD 1.1 dev through the
 * real ingest and search path (`kb eval`), each paragraph a document titled by its article.
 * Writes the figures into docs/benchmarks.md between the retrieval markers.
 * Needs ../shared/data (skips a dataset that is missing).
 *
 * With KB_RERANK_MODEL set (a reranker in KB_MODELS_DIR), each dataset gets a second row with the
 * reranker: its quality and its own time per query. Fusion and candidate counts come from
 * KB_FUSION and KB_*_CANDIDATES like the server's.
 */
import { describeRetrievalSettings, loadConfig } from "../src/config.ts";
import { runRetrievalEval, type EvalReport } from "../src/eval/run-eval.ts";
import { tableRowsOverQaDatasets, withTempKb, writeTableSection } from "./qa-datasets.ts";

const configured = loadConfig(process.env);
const f = (x: number) => x.toFixed(3);
const row = (name: string, r: EvalReport) => {
  const retrieval = r.reranker ? `${r.mode} + rerank ${r.reranker} (top ${r.settings.rerankCandidates}: ${r.rerankMsPerQuery?.toFixed(1) ?? "–"} ms/query)` : r.mode;
  return `| ${name} | ${retrieval} | ${r.documents} | ${r.chunks} | ${r.questions} | ${f(r.recall1)} | ${f(r.recall5)} | ${f(r.recall10)} | ${f(r.mrr10)} | ${f(r.ndcg10)} | ${r.ingestSeconds.toFixed(0)} s | ${r.msPerQuery.toFixed(1)} ms |`;
};
const rows = await tableRowsOverQaDatasets(async (name, dataset, onProgress) => {
  const lines = [row(name, await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress }), { rerankModel: undefined }))];
  if (configured.rerankModel) lines.push(row(name, await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress }))));
  return lines.join("\n");
});
writeTableSection(
  "retrieval",
  [`Settings: ${describeRetrievalSettings(configured.retrieval, configured.rerankModel ?? null)}.`],
  ["dataset", "retrieval", "documents", "chunks", "questions", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "ingest", "per query"],
  rows,
);
