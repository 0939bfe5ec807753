/**
 * npm run bench:retrieval — retrieval quality on KorQuAD 1.0 dev and SQuAD 1.1 dev through the
 * real ingest and search path (`kb eval`), each paragraph a document titled by its article.
 * Writes the figures into docs/benchmarks.md between the retrieval markers.
 * Needs ../shared/data (skips a dataset that is missing).
 */
import fs from "node:fs";
import os from "node:os";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { runRetrievalEval } from "../src/eval/run-eval.ts";
import { QA_DATASETS, withTempKb } from "./qa-datasets.ts";
import { replaceSection } from "./report.ts";

const rows: string[] = [];
for (const ds of QA_DATASETS) {
  if (!fs.existsSync(ds.file)) {
    console.log(`skip ${ds.name}: ${ds.file} not found`);
    continue;
  }
  const dataset = await readQaDataset(ds.file);
  const r = await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress: (s, d, t) => process.stderr.write(`\r${ds.name}: ${s} ${d}/${t}   `) }));
  process.stderr.write("\n");
  const f = (x: number) => x.toFixed(3);
  const row = `| ${ds.name} | ${r.mode} | ${r.documents} | ${r.chunks} | ${r.questions} | ${f(r.recall1)} | ${f(r.recall5)} | ${f(r.recall10)} | ${f(r.mrr10)} | ${f(r.ndcg10)} | ${r.ingestSeconds.toFixed(0)} s | ${r.msPerQuery.toFixed(1)} ms |`;
  console.log(row);
  rows.push(row);
}

if (rows.length) {
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:retrieval\`.`,
    "",
    "| dataset | retrieval | documents | chunks | questions | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | ingest | per query |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  replaceSection("docs/benchmarks.md", "retrieval", body);
  console.log("updated docs/benchmarks.md");
}
