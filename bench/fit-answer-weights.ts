/**
 * npm run bench:fit-answers — fits the extractive answerer's sentence-scoring weights
 * (SCORE_WEIGHTS in src/services/answer/extractive.ts) on the "tune" half of KorQuAD 1.0 dev and
 * SQuAD 1.1 dev, and prints, per language and half, how often the first quoted sentence holds a
 * reference answer and how often questions on held-out articles get "I don't know"; also fits a
 * per-question gate (an experiment of issue 16, not in the product: see GATE_FEATURES below).
 *
 *   tsx bench/fit-answer-weights.ts [--misses] [--keep-sentence-weights] [--all-questions] [--gate-grid]
 *
 * Each question is asked once through the real ask path (lexical retrieval, as `/api/v1/ask`),
 * every fifth article held out of the index as in bench:answers; the sources of every second
 * answerable question and of every held-out one are cached in
 * <tmp>/kb-answer-sources-v2-<set>.json (delete to refresh).
 * Sentence weights: for each answerable question, a softmax over all its candidate sentences,
 * maximising the probability of those that contain a reference answer (listwise logistic
 * regression, L2 1e-3, plain gradient descent from zero; only the order matters, so no bias),
 * over the questions the product's gate (`supported`) answers and the candidates the answerer may
 * quote (`--all-questions`: every answerable question, every candidate, as before the agreement gate).
 * Gate experiment: a logistic regression of answerable (1) against held-out (0) over
 * GATE_FEATURES of the questions of three or more terms, each language's classes weighted
 * equally; per language, the lowest threshold at which the tune half's held-out questions still
 * get "I don't know" at least GATE_TARGET_KO (0.91) / GATE_TARGET_EN (0.86) of the time.
 * `--keep-sentence-weights` skips the sentence fit (uses the weights in the code). `--misses`
 * sorts the tune half's misses by cause (retrieval, splitting, gate, sentence choice) under the
 * product's gate and the fitted one. Paste printed weights into extractive.ts, then measure with
 * `npm run bench:answers -- --split report`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { devSplitOf, normalizeForMatch } from "../src/eval/run-answer-eval.ts";
import { evalAsker, ingestQaDocuments } from "../src/eval/run-eval.ts";
import type { AnswerSource } from "../src/services/answer/types.ts";
import { splitSentences } from "../src/domain/analysis/sentences.ts";
import type { Lang } from "../src/domain/analysis/index.ts";
import { MAX_SOURCES, SCORE_WEIGHTS, SENTENCE_FEATURES, MIN_COVERAGE, MIN_PASSAGE_COVERAGE, selectSentences, supported, type Candidate } from "../src/services/answer/extractive.ts";
import { QA_DATASETS, withTempKb } from "./qa-datasets.ts";

/**
 * The experiment of issue 16 item 4 (not in the product; docs/benchmarks.md, "Answer quality"):
 * one decision per question between an answer and "I don't know", a logistic model over these
 * features of its candidates ranked best first (each 0..1): the highest sentence coverage,
 * passage coverage and character-trigram share among them; the same for the top sentence, and
 * whether it holds the asked-for kind of value. Questions of fewer than 3 distinct terms keep
 * the per-sentence rule (the QA sets have almost none, people ask them).
 */
const GATE_FEATURES = ["bestCoverage", "bestPassage", "bestCharacters", "topCoverage", "topPassage", "topCharacters", "topType"] as const;
type GateFeatures = Record<(typeof GATE_FEATURES)[number], number>;

function gateFeatures(ranked: Candidate[]): GateFeatures | undefined {
  const top = ranked[0];
  if (!top) return undefined;
  const max = (f: (c: Candidate) => number) => ranked.reduce((m, c) => Math.max(m, f(c)), 0);
  return {
    bestCoverage: max((c) => c.coverage),
    bestPassage: max((c) => c.passageCoverage),
    bestCharacters: max((c) => c.features.characters),
    topCoverage: top.coverage,
    topPassage: top.passageCoverage,
    topCharacters: top.features.characters,
    topType: top.features.answerType,
  };
}
const gated = (ranked: Candidate[]) => (ranked[0]?.questionTerms ?? 0) >= 3;
const answersShortQuestion = (ranked: Candidate[]) => ranked.some((c) => c.coverage >= MIN_COVERAGE);
function gateScore(ranked: Candidate[], weights: GateFeatures & { bias: number }): number {
  const f = gateFeatures(ranked);
  if (!f) return -Infinity;
  let z = weights.bias;
  for (const k of GATE_FEATURES) z += weights[k] * f[k];
  return z;
}
function answers(ranked: Candidate[], lang: Lang, threshold: Record<Lang, number>, weights: GateFeatures & { bias: number }): boolean {
  if (ranked.length === 0) return false;
  return gated(ranked) ? gateScore(ranked, weights) >= threshold[lang] : answersShortQuestion(ranked);
}

interface Asked {
  question: string;
  answers: string[];
  split: "tune" | "report";
  sources: AnswerSource[];
}

interface AskedSet {
  /** Every second answerable question (enough to fit ten weights, half the time). */
  answerable: Asked[];
  /** Every question on a held-out article (no answers: the right reply is "I don't know"). */
  heldOut: Asked[];
}

async function askedQuestions(name: string, file: string): Promise<AskedSet> {
  const cache = path.join(os.tmpdir(), `kb-answer-sources-v2-${name.split(" ")[0]}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, "utf8")) as AskedSet;
  const dataset = await readQaDataset(file);
  // As bench:answers: every fifth article is held out of the index.
  const titles = [...new Set(dataset.documents.map((d) => d.title))];
  const held = new Set(titles.filter((_, i) => i % 5 === 4));
  const kept = dataset.documents.filter((d) => !held.has(d.title));
  const titleOf = new Map(dataset.documents.map((d) => [d.id, d.title]));
  const keptIds = new Set(kept.map((d) => d.id));
  const out: AskedSet = { answerable: [], heldOut: [] };
  await withTempKb(async (kb) => {
    await ingestQaDocuments(kb, kept);
    const asker = await evalAsker(kb);
    const ask = async (q: (typeof dataset.questions)[number]): Promise<Asked> => {
      const { events } = await kb.ask.answer(asker, q.question);
      let sources: AnswerSource[] = [];
      for await (const e of events) if (e.type === "sources") sources = e.sources;
      return { question: q.question, answers: q.answers ?? [], split: devSplitOf(titleOf.get(q.relevantDocumentIds[0]!)!), sources };
    };
    const answerable = dataset.questions.filter((q) => (q.answers?.length ?? 0) > 0 && q.relevantDocumentIds.length > 0 && q.relevantDocumentIds.every((id) => keptIds.has(id)));
    for (const [i, q] of answerable.entries()) {
      if (i % 2 === 1) continue;
      out.answerable.push(await ask(q));
      if (i % 200 === 0) process.stderr.write(`\r${name}: asked ${i}/${answerable.length}   `);
    }
    const heldOut = dataset.questions.filter((q) => q.relevantDocumentIds.length > 0 && q.relevantDocumentIds.every((id) => held.has(titleOf.get(id) ?? "")));
    for (const q of heldOut) out.heldOut.push(await ask(q));
  });
  process.stderr.write("\n");
  fs.writeFileSync(cache, JSON.stringify(out));
  return out;
}

const has = (gold: string[], text: string) => gold.some((g) => normalizeForMatch(text).includes(g));

/** One asked question with its candidate sentences (all of them, not only those over the old per-sentence gate). */
interface Example {
  lang: Lang;
  split: "tune" | "report";
  held: boolean;
  candidates: { c: Candidate; x: number[]; y: number }[];
}

/**
 * Where a tune-half question's first quoted sentence misses the reference (`--misses`): under the
 * product's per-sentence gate (`supported`), or a fitted gate (`decide`).
 */
function missOf(a: Asked, ranked: Candidate[], decide?: (ranked: Candidate[]) => boolean): string {
  const gold = a.answers.map(normalizeForMatch).filter(Boolean);
  const quotable = decide ? (decide(ranked) ? ranked : []) : ranked.filter(supported);
  if (quotable[0] && has(gold, quotable[0].sentence)) return "hit";
  const seen = a.sources.slice(0, MAX_SOURCES);
  if (!seen.some((s) => has(gold, s.text))) return a.sources.some((s) => has(gold, s.text)) ? "a. retrieval: only beyond the sources the answerer reads" : "a. retrieval: in no retrieved passage";
  if (!seen.some((s) => splitSentences(s.text).some((x) => has(gold, x)))) return "c. answer spans sentences (or the splitter cut it)";
  if (!ranked.some((c) => has(gold, c.sentence))) return "c. answer sentence left out (over 600 characters or heading-like)";
  if (quotable.length === 0) return "e. gate: said I don't know";
  if (!quotable.some((c) => has(gold, c.sentence))) return "e. gate: answer sentence below the gate, another quoted";
  const right = quotable.find((c) => has(gold, c.sentence))!;
  return right.source === quotable[0]!.source ? "b. wrong sentence, same passage" : "b. wrong sentence, another passage";
}

const showMisses = process.argv.includes("--misses");
const tuneAnswerable: { a: Asked; lang: Lang; ranked: Candidate[] }[] = [];
const examples: Example[] = [];
for (const ds of QA_DATASETS) {
  if (!fs.existsSync(ds.file)) {
    console.log(`skip ${ds.name}: ${ds.file} not found`);
    continue;
  }
  const lang: Lang = ds.name.startsWith("KorQuAD") ? "ko" : "en";
  const set = await askedQuestions(ds.name, ds.file);
  for (const [held, asked] of [[false, set.answerable], [true, set.heldOut]] as const) {
    for (const a of asked) {
      const gold = a.answers.map(normalizeForMatch).filter(Boolean);
      const ranked = selectSentences(a.question, a.sources, lang);
      examples.push({ lang, split: a.split, held, candidates: ranked.map((c) => ({ c, x: SENTENCE_FEATURES.map((k) => c.features[k]), y: !held && has(gold, c.sentence) ? 1 : 0 })) });
      if (showMisses && !held && a.split === "tune") tuneAnswerable.push({ a, lang, ranked });
    }
  }
}

const dot = (x: number[], w: number[]) => x.reduce((s, v, i) => s + v * w[i]!, 0);

/** Listwise logistic fit of the sentence weights on the tune half's answerable questions. */
function fitSentenceWeights(): number[] {
  let w = SENTENCE_FEATURES.map(() => 0);
  // `--all-questions`: every answerable question, as the weights in the code were fitted before the
  // agreement gate. By default only those the product's gate answers, each with the candidates it
  // may quote (sharing a term with the question): the choice the weights make in the product.
  const onGate = !process.argv.includes("--all-questions");
  const trainable = examples
    .filter((e) => e.split === "tune" && !e.held && (!onGate || e.candidates.some((c) => supported(c.c))))
    .map((e) => (onGate ? e.candidates.filter((c) => c.c.coverage > 0) : e.candidates))
    .filter((cands) => cands.some((c) => c.y) && !cands.every((c) => c.y));
  for (let step = 0; step < 2000; step++) {
    const grad = w.map(() => 0);
    for (const cands of trainable) {
      const z = cands.map((c) => dot(c.x, w));
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
  return w;
}

/** The candidates re-ranked by weights `w` (the named-document term is 0 here: no covers in these sets). */
const rerank = (e: Example, w: number[]) => [...e.candidates].sort((a, b) => dot(b.x, w) - dot(a.x, w));

/** Logistic fit of the gate (answerable: 1, held out: 0) on the tune half's questions of 3+ terms, classes weighted equally per language. */
function fitGate(w: number[]): number[] {
  const rows = examples
    .filter((e) => e.split === "tune")
    .map((e) => ({ e, ranked: rerank(e, w).map((c) => c.c) }))
    .filter((r) => gated(r.ranked))
    .map(({ e, ranked }) => ({ e, x: [...GATE_FEATURES.map((k) => gateFeatures(ranked)![k]), 1], y: e.held ? 0 : 1 }));
  const classWeight = new Map<string, number>();
  for (const r of rows) classWeight.set(`${r.e.lang}${r.y}`, (classWeight.get(`${r.e.lang}${r.y}`) ?? 0) + 1);
  let v = [...GATE_FEATURES.map(() => 0), 0];
  for (let step = 0; step < 3000; step++) {
    const grad = v.map(() => 0);
    let total = 0;
    for (const r of rows) {
      const cw = 1 / classWeight.get(`${r.e.lang}${r.y}`)!;
      const p = 1 / (1 + Math.exp(-dot(r.x, v)));
      r.x.forEach((xi, i) => (grad[i]! += cw * (p - r.y) * xi));
      total += cw;
    }
    v = v.map((vi, i) => vi - 2 * (grad[i]! / total + 1e-4 * vi));
  }
  return v;
}

interface Outcome {
  answerable: number;
  answered: number;
  firstHit: number;
  heldOut: number;
  declined: number;
}

/**
 * Outcomes of a language's questions of one half, ranking by `w`, answering when `answers` says
 * so; `perSentence`: only candidates over the per-sentence gate are quoted (the product's rule).
 */
function outcome(lang: Lang, split: "tune" | "report", w: number[], answers: (ranked: Candidate[]) => boolean, perSentence: boolean | ((c: Candidate) => boolean) = false): Outcome {
  const o: Outcome = { answerable: 0, answered: 0, firstHit: 0, heldOut: 0, declined: 0 };
  for (const e of examples) {
    if (e.lang !== lang || e.split !== split) continue;
    const all = rerank(e, w);
    const quotable = perSentence === false ? () => true : perSentence === true ? supported : perSentence;
    const ranked = all.filter((c) => quotable(c.c));
    const yes = ranked.length > 0 && answers(all.map((c) => c.c));
    if (e.held) {
      o.heldOut++;
      if (!yes) o.declined++;
    } else {
      o.answerable++;
      if (yes) {
        o.answered++;
        o.firstHit += ranked[0]!.y;
      }
    }
  }
  return o;
}

const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)}%`;
const show = (label: string, o: Outcome) => console.log(`  ${label}: answered ${pct(o.answered, o.answerable)}, first sentence holds the answer ${pct(o.firstHit, o.answerable)} (of ${o.answerable}), held out declined ${pct(o.declined, o.heldOut)} (of ${o.heldOut})`);

const current = SENTENCE_FEATURES.map((k) => SCORE_WEIGHTS[k]);
const currentGate = (ranked: Candidate[]) => ranked.some(supported);
const w = process.argv.includes("--keep-sentence-weights") ? current : fitSentenceWeights();
const v = fitGate(w);
const gateWeights = { ...Object.fromEntries(GATE_FEATURES.map((k, i) => [k, v[i]!])), bias: v[GATE_FEATURES.length]! } as GateFeatures & { bias: number };
/** The gate's threshold per language: the lowest that still declines at least `target` of the tune half's held-out questions (short questions by their own rule). */
const target: Record<Lang, number> = { ko: Number(process.env.GATE_TARGET_KO ?? 0.91), en: Number(process.env.GATE_TARGET_EN ?? 0.86) };
const threshold: Record<Lang, number> = { ko: 0, en: 0 };
for (const lang of ["ko", "en"] as const) {
  const held = examples.filter((e) => e.lang === lang && e.split === "tune" && e.held).map((e) => rerank(e, w).map((c) => c.c));
  if (held.length === 0) continue;
  const shortAnswered = held.filter((r) => r.length > 0 && !gated(r) && answersShortQuestion(r)).length;
  const scores = held.filter((r) => r.length > 0 && gated(r)).map((r) => gateScore(r, gateWeights)).sort((a, b) => a - b);
  // Answered held-out questions allowed: (1 - target) of them, the short ones' included.
  const allowed = Math.floor((1 - target[lang]) * held.length) - shortAnswered;
  const at = scores.length - Math.max(0, allowed);
  threshold[lang] = at >= scores.length ? Infinity : Number((scores[Math.max(0, at - 1)]! + 1e-3).toFixed(3));
}
for (const lang of ["ko", "en"] as const) {
  console.log(`${lang}:`);
  for (const split of ["tune", "report"] as const) {
    show(`${split}, current weights and per-sentence gate`, outcome(lang, split, current, currentGate, true));
    show(`${split}, fitted weights, per-sentence gate`, outcome(lang, split, w, currentGate, true));
    show(`${split}, fitted weights, per-sentence gate decides, best of all sentences quoted (the product's rule)`, outcome(lang, split, w, currentGate, false));
    show(`${split}, per-sentence gate decides, best of all sentences quoted`, outcome(lang, split, current, currentGate, false));
    show(`${split}, per-sentence gate decides, best with a passage over the gate quoted`, outcome(lang, split, current, currentGate, (c) => c.questionTerms < 3 || c.passageCoverage >= MIN_PASSAGE_COVERAGE));
    show(`${split}, per-sentence gate decides, best with coverage 0.15+ quoted`, outcome(lang, split, current, currentGate, (c) => c.coverage >= 0.15));
    show(`${split}, fitted weights and fitted gate`, outcome(lang, split, w, (r) => answers(r, lang, threshold, gateWeights)));
  }
}
/**
 * `--gate-grid`: the product's gate (`supported`) against the coverage-only gate it replaced, and
 * the grid its agreement thresholds were chosen from, on the tune half (sentence weights as in the
 * code, best sentence of all quoted once the gate passes). `agree`: a sentence whose document (or
 * a copy of the sentence) is at least this many of the sources read passes when its passage covers
 * `passage`; `loneShare`, `lonePassage`: a sentence whose document is at most this share of them
 * needs that passage coverage (0 and 0.5: no such test).
 */
if (process.argv.includes("--gate-grid")) {
  const coverageOnly = (c: Candidate) => c.coverage >= MIN_COVERAGE && (c.questionTerms < 3 || c.passageCoverage >= MIN_PASSAGE_COVERAGE);
  const gateWith = (agree: number, passage: number, loneShare: number, lonePassage: number) => (c: Candidate) =>
    (c.coverage > 0 && c.agreeing >= agree && c.passageCoverage >= passage) ||
    (c.coverage >= MIN_COVERAGE && (c.questionTerms < 3 || c.passageCoverage >= (c.agreeing / c.sourcesRead <= loneShare ? lonePassage : MIN_PASSAGE_COVERAGE)));
  const line = (label: string, gate: (c: Candidate) => boolean) => {
    const parts = (["ko", "en"] as const).map((lang) => {
      const o = outcome(lang, "tune", current, (r) => r.some(gate));
      return `${lang} first ${pct(o.firstHit, o.answerable)}, declined ${pct(o.declined, o.heldOut)}`;
    });
    console.log(`  ${label}: ${parts.join("; ")}`);
  };
  console.log("gate grid, tune half:");
  line("coverage only (before)", coverageOnly);
  line("product (supported)", supported);
  for (const agree of [2, 3, 4, 6]) for (const passage of [0.3, 0.4]) for (const [loneShare, lonePassage] of [[0, 0.5], [0.25, 0.6], [0.25, 0.7], [0.45, 0.6]] as const) {
    if (agree === 6 && passage === 0.3) continue;
    line(`agree ${agree === 6 ? "off" : agree}, passage ${passage}, lone share ${loneShare}, lone passage ${lonePassage}`, gateWith(agree, passage, loneShare, lonePassage));
  }
}
const round = (x: number) => Number(x.toFixed(3));
console.log(`SCORE_WEIGHTS = ${JSON.stringify(Object.fromEntries(SENTENCE_FEATURES.map((k, i) => [k, round(w[i]!)])))}`);
console.log(`GATE_WEIGHTS = ${JSON.stringify(Object.fromEntries(Object.entries(gateWeights).map(([k, x]) => [k, round(x)])))}`);
console.log(`GATE_THRESHOLD = ${JSON.stringify(threshold)}`);
if (showMisses) {
  const misses = new Map<string, number>();
  for (const { a, lang, ranked } of tuneAnswerable) {
    for (const gate of ["per-sentence gate (product)", "fitted gate"] as const) {
      const cause = missOf(a, ranked, gate === "fitted gate" ? (r) => answers(r, lang, threshold, gateWeights) : undefined);
      const key = `${gate}: ${lang} ${cause}`;
      misses.set(key, (misses.get(key) ?? 0) + 1);
    }
  }
  console.log("tune half, first quoted sentence (weights in the code):");
  for (const [k, n] of [...misses].sort()) console.log(`  ${k}: ${n}`);
}
