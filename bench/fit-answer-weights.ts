/**
 * npm run bench:fit-answers — fits the extractive answerer's sentence-scoring weights
 * (SCORE_WEIGHTS in src/services/answer/extractive.ts) on the "tune" half of KorQuAD 1.0 dev and
 * SQuAD 1.1 dev, and prints them with the first-sentence hit rate on both halves.
 *
 * Each question is asked once through the real ask path (lexical retrieval, as `/api/v1/ask`) and
 * its retrieved sources are cached in <tmp>/kb-answer-sources-<set>.json (delete to refresh).
 * The model: for each answerable question, a softmax over its candidate sentences that pass the
 * answer gate, maximising the probability of those that contain a reference answer (listwise
 * logistic regression, L2 1e-3, plain gradient descent from zero). Only the weights' order of
 * the candidates matters, so no bias is fitted. Paste the printed weights into SCORE_WEIGHTS,
 * then measure with `npm run bench:answers -- --split report`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { devSplitOf, normalizeForMatch } from "../src/eval/run-answer-eval.ts";
import { evalAsker, ingestQaDocuments } from "../src/eval/run-eval.ts";
import type { AnswerSource } from "../src/services/answer/types.ts";
import { MIN_COVERAGE, MIN_PASSAGE_COVERAGE, SCORE_WEIGHTS, SENTENCE_FEATURES, selectSentences } from "../src/services/answer/extractive.ts";
import { QA_DATASETS, withTempKb } from "./qa-datasets.ts";

interface Asked {
  question: string;
  answers: string[];
  split: "tune" | "report";
  sources: AnswerSource[];
}

async function askedQuestions(name: string, file: string): Promise<Asked[]> {
  const cache = path.join(os.tmpdir(), `kb-answer-sources-${name.split(" ")[0]}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, "utf8")) as Asked[];
  const dataset = await readQaDataset(file);
  // As bench:answers: every fifth article is held out of the index (its questions are not used here).
  const titles = [...new Set(dataset.documents.map((d) => d.title))];
  const held = new Set(titles.filter((_, i) => i % 5 === 4));
  const kept = dataset.documents.filter((d) => !held.has(d.title));
  const titleOf = new Map(kept.map((d) => [d.id, d.title]));
  const out: Asked[] = [];
  await withTempKb(async (kb) => {
    await ingestQaDocuments(kb, kept);
    const asker = await evalAsker(kb);
    const questions = dataset.questions.filter((q) => (q.answers?.length ?? 0) > 0 && q.relevantDocumentIds.length > 0 && q.relevantDocumentIds.every((id) => titleOf.has(id)));
    // Every second answerable question: enough to fit ten weights, half the time.
    for (const [i, q] of questions.entries()) {
      if (i % 2 === 1) continue;
      const { events } = await kb.ask.answer(asker, q.question);
      let sources: AnswerSource[] = [];
      for await (const e of events) if (e.type === "sources") sources = e.sources;
      out.push({ question: q.question, answers: q.answers!, split: devSplitOf(titleOf.get(q.relevantDocumentIds[0]!)!), sources });
      if (i % 200 === 0) process.stderr.write(`\r${name}: asked ${i}/${questions.length}   `);
    }
  });
  process.stderr.write("\n");
  fs.writeFileSync(cache, JSON.stringify(out));
  return out;
}

type Candidates = { x: number[]; y: number }[];
const examples: Record<"tune" | "report", Candidates[]> = { tune: [], report: [] };
for (const ds of QA_DATASETS) {
  if (!fs.existsSync(ds.file)) {
    console.log(`skip ${ds.name}: ${ds.file} not found`);
    continue;
  }
  const lang = ds.name.startsWith("KorQuAD") ? "ko" : "en";
  for (const a of await askedQuestions(ds.name, ds.file)) {
    const gold = a.answers.map(normalizeForMatch).filter(Boolean);
    const candidates = selectSentences(a.question, a.sources, lang).filter((c) => c.coverage >= MIN_COVERAGE && (c.questionTerms < 3 || c.passageCoverage >= MIN_PASSAGE_COVERAGE));
    examples[a.split].push(candidates.map((c) => ({ x: SENTENCE_FEATURES.map((k) => c.features[k]), y: gold.some((g) => normalizeForMatch(c.sentence).includes(g)) ? 1 : 0 })));
  }
}

const firstHit = (set: Candidates[], w: number[]) => {
  let hit = 0;
  for (const cands of set) {
    let best = -Infinity;
    let y = 0;
    for (const c of cands) {
      const z = c.x.reduce((s, v, i) => s + v * w[i]!, 0);
      if (z > best) [best, y] = [z, c.y];
    }
    hit += y;
  }
  return ((100 * hit) / Math.max(1, set.length)).toFixed(1);
};

const current = SENTENCE_FEATURES.map((k) => SCORE_WEIGHTS[k]);
console.log(`questions: ${examples.tune.length} tune, ${examples.report.length} report; first sentence holds the answer with the current weights: tune ${firstHit(examples.tune, current)}%, report ${firstHit(examples.report, current)}%`);
let w = SENTENCE_FEATURES.map(() => 0);
const trainable = examples.tune.filter((c) => c.some((x) => x.y) && !c.every((x) => x.y));
for (let step = 0; step < 2000; step++) {
  const grad = w.map(() => 0);
  for (const cands of trainable) {
    const z = cands.map((c) => c.x.reduce((s, v, i) => s + v * w[i]!, 0));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const all = e.reduce((a, b) => a + b, 0);
    const pos = cands.reduce((a, c, j) => a + (c.y ? e[j]! : 0), 0);
    cands.forEach((c, j) => {
      const coef = e[j]! / all - (c.y ? e[j]! / pos : 0);
      c.x.forEach((v, i) => (grad[i]! += coef * v));
    });
  }
  w = w.map((wi, i) => wi - (grad[i]! / trainable.length + 1e-3 * wi));
}
console.log(`fitted: tune ${firstHit(examples.tune, w)}%, report ${firstHit(examples.report, w)}%`);
console.log(`SCORE_WEIGHTS = ${JSON.stringify(Object.fromEntries(SENTENCE_FEATURES.map((k, i) => [k, Number(w[i]!.toFixed(3))])))}`);
