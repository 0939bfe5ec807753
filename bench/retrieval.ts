/**
 * npm run bench:retrieval — retrieval quality on KorQuAD 1.0 dev and SQuAD 1.1 dev through the
 * real ingest and search path (`kb eval`), each paragraph a document titled by its article.
 * Writes the figures into docs/benchmarks.md between the retrieval markers.
 * Needs ../shared/data (skips a dataset that is missing).
 */
import { runRetrievalEval } from "../src/eval/run-eval.ts";
import { tableRowsOverQaDatasets, withTempKb, writeTableSection } from "./qa-datasets.ts";

const rows = await tableRowsOverQaDatasets(async (name, dataset, onProgress) => {
  const r = await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress }));
  const f = (x: number) => x.toFixed(3);
  return `| ${name} | ${r.mode} | ${r.documents} | ${r.chunks} | ${r.questions} | ${f(r.recall1)} | ${f(r.recall5)} | ${f(r.recall10)} | ${f(r.mrr10)} | ${f(r.ndcg10)} | ${r.ingestSeconds.toFixed(0)} s | ${r.msPerQuery.toFixed(1)} ms |`;
});
writeTableSection("retrieval", [], ["dataset", "retrieval", "documents", "chunks", "questions", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "ingest", "per query"], rows);
