/**
 * Answer evaluation through the product's real path: the dataset's documents are ingested by the
 * ingestion service, and questions are asked through `AskService.ask` (ACL-filtered retrieval,
 * then the configured answerer) as an ordinary viewer, exactly as `/api/v1/ask` does.
 *
 * Some articles (every `holdOutEvery`-th title) are not ingested. Their questions have no support
 * in the index, so the right answer is "I don't know": that measures how often the answerer
 * presents unrelated text as an answer.
 *
 * Measured, for questions whose article was ingested:
 *   - answered: the answerer said it found an answer;
 *   - answer contains a reference answer (compared without whitespace or case, NFC);
 *   - first sentence contains it (what a reader sees first);
 *   - cites the reference document;
 * and for held-out questions: abstained (said it found no answer).
 */
import type { Actor } from "../../policies/index.ts";
import type { AnswerEvent } from "../services/answer/types.ts";
import type { Kb } from "../services/container.ts";
import type { QaDataset, QaQuestion } from "./qa-formats.ts";
import { evalAsker, ingestQaDocuments } from "./run-eval.ts";

export interface AnswerEvalOptions {
  /** Most answerable questions asked (spread evenly over the dataset). Default 1000. */
  answerable?: number;
  /** Most held-out questions asked. Default 300. */
  heldOut?: number;
  /** Every n-th article title is held out of the index. Default 5. */
  holdOutEvery?: number;
  /**
   * Only questions on the articles of one half ("tune": the half the extractive answerer's
   * weights were fitted on, "report": the other), split by a hash of the article title.
   */
  split?: DevSplit;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export type DevSplit = "tune" | "report";

/** The half of the dev data an article title belongs to (FNV-1a of the title, even → tune). */
export function devSplitOf(title: string): DevSplit {
  let h = 0x811c9dc5;
  for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 2 === 0 ? "tune" : "report";
}

export interface AnswerEvalReport {
  mode: string;
  documents: number;
  answerable: number;
  answered: number;
  containsAnswer: number;
  firstSentenceContainsAnswer: number;
  citesReference: number;
  heldOut: number;
  abstained: number;
  msPerQuestion: number;
}

/** Whitespace-, case- and width-insensitive containment. */
export function normalizeForMatch(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/\s+/g, "");
}

function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

export async function runAnswerEval(kb: Kb, dataset: QaDataset, options: AnswerEvalOptions = {}): Promise<AnswerEvalReport> {
  const holdOutEvery = options.holdOutEvery ?? 5;
  const titles = [...new Set(dataset.documents.map((d) => d.title))];
  const heldTitles = new Set(titles.filter((_, i) => i % holdOutEvery === holdOutEvery - 1));
  const kept = dataset.documents.filter((d) => !heldTitles.has(d.title));
  const keptIds = new Set(kept.map((d) => d.id));
  const heldIds = new Set(dataset.documents.filter((d) => heldTitles.has(d.title)).map((d) => d.id));

  const { toQaId } = await ingestQaDocuments(kb, kept, options.onProgress);
  const asker = await evalAsker(kb);
  const withAnswers = (q: QaQuestion) => (q.answers?.length ?? 0) > 0;
  const titleOf = new Map(dataset.documents.map((d) => [d.id, d.title]));
  const inSplit = (q: QaQuestion) => !options.split || q.relevantDocumentIds.every((id) => devSplitOf(titleOf.get(id) ?? "") === options.split);
  const answerable = spread(dataset.questions.filter((q) => withAnswers(q) && inSplit(q) && q.relevantDocumentIds.every((id) => keptIds.has(id))), options.answerable ?? 1000);
  const heldOut = spread(dataset.questions.filter((q) => inSplit(q) && q.relevantDocumentIds.every((id) => heldIds.has(id))), options.heldOut ?? 300);

  const report: AnswerEvalReport = {
    mode: `${kb.retriever.mode} retrieval, ${kb.ask.answerMode} answers`,
    documents: kept.length,
    answerable: answerable.length,
    answered: 0,
    containsAnswer: 0,
    firstSentenceContainsAnswer: 0,
    citesReference: 0,
    heldOut: heldOut.length,
    abstained: 0,
    msPerQuestion: 0,
  };
  const t0 = performance.now();
  const all = [...answerable.map((q) => ({ q, held: false })), ...heldOut.map((q) => ({ q, held: true }))];
  for (const [i, { q, held }] of all.entries()) {
    await askAndScore(kb, asker, q, held, report, (id) => toQaId.get(id));
    if (i % 100 === 0) options.onProgress?.("ask", i, all.length);
  }
  report.msPerQuestion = (performance.now() - t0) / Math.max(1, all.length);
  return report;
}

/** Asks one question as `asker` and adds the outcome to `report`; `toExpectedId` maps a cited document id to the set's id. */
async function askAndScore(kb: Kb, asker: Actor, q: QaQuestion, held: boolean, report: AnswerEvalReport, toExpectedId: (documentId: string) => string | undefined): Promise<void> {
  const { events } = await kb.ask.answer(asker, q.question);
  let done: Extract<AnswerEvent, { type: "done" }> | undefined;
  for await (const e of events) if (e.type === "done") done = e;
  if (!done) throw new Error(`no answer for question ${q.id}`);
  if (held) {
    if (!done.found) report.abstained++;
    return;
  }
  if (!done.found) return;
  report.answered++;
  // Extractive answers: a lead-in line, then one quoted sentence per line with its citation
  // marker. A language model's answer is compared whole.
  const sentences = done.mode === "extractive" ? done.answer.split("\n").slice(1).map((s) => s.replace(/\s*\[\d+\]\s*$/, "")) : [done.answer];
  const gold = (q.answers ?? []).map(normalizeForMatch).filter(Boolean);
  const has = (text: string) => gold.some((g) => normalizeForMatch(text).includes(g));
  if (has(sentences.join(" "))) report.containsAnswer++;
  if (sentences[0] && has(sentences[0])) report.firstSentenceContainsAnswer++;
  if (done.citations.some((c) => q.relevantDocumentIds.includes(toExpectedId(c.documentId) ?? ""))) report.citesReference++;
}

/**
 * Answer quality on an existing knowledge base (a reviewed-feedback export whose rows carry an
 * expected answer): each question is asked as `asker` through the real ask path; an answer counts
 * when it contains the expected answer and when it cites an expected document. Nothing is held
 * out here (the set's documents are the knowledge base's own), so "I don't know" is not measured.
 */
export async function runAnswerEvalInPlace(
  kb: Kb,
  dataset: QaDataset,
  asker: Actor,
  options: { limit?: number; onProgress?: (stage: string, done: number, total: number) => void } = {},
): Promise<AnswerEvalReport> {
  const withAnswers = dataset.questions.filter((q) => (q.answers?.length ?? 0) > 0);
  if (withAnswers.length === 0) throw new Error("no question of this set has an expected answer (expected_answer): measure retrieval without --answers");
  const questions = options.limit ? withAnswers.slice(0, options.limit) : withAnswers;
  const report: AnswerEvalReport = {
    mode: `${kb.retriever.mode} retrieval, ${kb.ask.answerMode} answers`,
    documents: (await kb.documents.list(asker, { limit: 1, offset: 0 })).total,
    answerable: questions.length,
    answered: 0,
    containsAnswer: 0,
    firstSentenceContainsAnswer: 0,
    citesReference: 0,
    heldOut: 0,
    abstained: 0,
    msPerQuestion: 0,
  };
  const t0 = performance.now();
  for (const [i, q] of questions.entries()) {
    await askAndScore(kb, asker, q, false, report, (id) => id);
    if (i % 100 === 0) options.onProgress?.("ask", i, questions.length);
  }
  report.msPerQuestion = (performance.now() - t0) / Math.max(1, questions.length);
  return report;
}
