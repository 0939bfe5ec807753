/**
 * npm run bench:answers — answer quality through the real ask path (`AskService`, as
 * `/api/v1/ask`) on KorQuAD 1.0 dev and SQuAD 1.1 dev: every paragraph a document titled by its
 * article, every fifth article held out of the index (its questions should get "I don't know").
 * Without models in the models folder this measures lexical retrieval + the extractive answerer.
 *
 *   tsx bench/answers.ts [--answerable N] [--held-out N]
 *
 * Writes docs/benchmarks.md (section "answers"). Needs ../shared/data (skips a missing dataset).
 */
import fs from "node:fs";
import os from "node:os";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { runAnswerEval } from "../src/eval/run-answer-eval.ts";
import { QA_DATASETS, withTempKb } from "./qa-datasets.ts";
import { replaceSection } from "./report.ts";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};

const rows: string[] = [];
for (const ds of QA_DATASETS) {
  if (!fs.existsSync(ds.file)) {
    console.log(`skip ${ds.name}: ${ds.file} not found`);
    continue;
  }
  const dataset = await readQaDataset(ds.file);
  const r = await withTempKb((kb) =>
    runAnswerEval(kb, dataset, {
      answerable: opt("--answerable"),
      heldOut: opt("--held-out"),
      onProgress: (s, d, t) => process.stderr.write(`\r${ds.name}: ${s} ${d}/${t}   `),
    }),
  );
  process.stderr.write("\n");
  const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)}%`;
  const row = `| ${ds.name} | ${r.mode} | ${r.documents} | ${r.answerable} | ${pct(r.answered, r.answerable)} | ${pct(r.containsAnswer, r.answerable)} | ${pct(r.firstSentenceContainsAnswer, r.answerable)} | ${pct(r.citesReference, r.answerable)} | ${r.heldOut} | ${pct(r.abstained, r.heldOut)} | ${r.msPerQuestion.toFixed(1)} ms |`;
  console.log(row);
  rows.push(row);
}

if (rows.length) {
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:answers\`.`,
    "",
    "Every paragraph is a document; every fifth article is held out of the index. *Answerable*: questions on indexed articles, spread evenly over the set; an answer counts when it contains one of the reference answers (ignoring whitespace and case). *Held out*: questions on held-out articles, where the right reply is \"I don't know\".",
    "",
    "| dataset | mode | documents | answerable asked | answered | answer contains reference | first sentence contains it | cites the reference paragraph | held out asked | abstained | per question |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  replaceSection("docs/benchmarks.md", "answers", body);
  console.log("updated docs/benchmarks.md");
}
