/**
 * npm run bench:answers — answer quality through the real ask path (`AskService`, as
 * `/api/v1/ask`) on KorQuAD 1.0 dev and SQuAD 1.1 dev: every paragraph a document titled by its
 * article, every fifth article held out of the index (its questions should get "I don't know").
 * Without models in the models folder this measures lexical retrieval + the extractive answerer.
 *
 *   tsx bench/answers.ts [--answerable N] [--held-out N] [--split tune|report]
 *
 * `--split report` asks only questions on the half of the articles the extractive answerer's
 * weights were not fitted on (bench/fit-answer-weights.ts); the docs report that half.
 *
 * Writes docs/benchmarks.md (section "answers"). Needs ../shared/data (skips a missing dataset).
 */
import { runAnswerEval, type DevSplit } from "../src/eval/run-answer-eval.ts";
import { tableRowsOverQaDatasets, withTempKb, writeTableSection } from "./qa-datasets.ts";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};

const splitArg = args.includes("--split") ? args[args.indexOf("--split") + 1] : undefined;
if (splitArg !== undefined && splitArg !== "tune" && splitArg !== "report") throw new Error("--split is tune or report");
const split = splitArg as DevSplit | undefined;

const rows = await tableRowsOverQaDatasets(async (name, dataset, onProgress) => {
  const r = await withTempKb((kb) => runAnswerEval(kb, dataset, { answerable: opt("--answerable"), heldOut: opt("--held-out"), split, onProgress }));
  const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)}%`;
  return `| ${name}${split ? ` (${split} half)` : ""} | ${r.mode} | ${r.documents} | ${r.answerable} | ${pct(r.answered, r.answerable)} | ${pct(r.containsAnswer, r.answerable)} | ${pct(r.firstSentenceContainsAnswer, r.answerable)} | ${pct(r.citesReference, r.answerable)} | ${r.heldOut} | ${pct(r.abstained, r.heldOut)} | ${r.msPerQuestion.toFixed(1)} ms |`;
});
writeTableSection(
  "answers",
  [
    "Every paragraph is a document; every fifth article is held out of the index. *Answerable*: questions on indexed articles, spread evenly over the set; an answer counts when it contains one of the reference answers (ignoring whitespace and case). *Held out*: questions on held-out articles, where the right reply is \"I don't know\".",
  ],
  ["dataset", "mode", "documents", "answerable asked", "answered", "answer contains reference", "first sentence contains it", "cites the reference paragraph", "held out asked", "abstained", "per question"],
  rows,
  `npm run bench:answers${args.length ? ` -- ${args.join(" ")}` : ""}`,
);
