/**
 * The extractive answerer: with no language model, the answer is the source sentences that
 * best cover the question's terms, each cited. It never writes a sentence of its own beyond
 * a short lead-in, so it cannot invent facts; when no sentence covers enough of the question
 * it says it found no answer.
 *
 * "Enough" is two thresholds on the question's terms, weighted by their rarity among the candidate
 * sentences: the sentence must cover MIN_COVERAGE of them and, for questions of three or more
 * terms, its passage (chunk text and document title) MIN_PASSAGE_COVERAGE. The passage test is what keeps questions the documents do not
 * cover from getting a loosely related sentence as their answer. Measured with bench:answers on
 * KorQuAD/SQuAD dev with a fifth of the articles held out of the index (details in
 * docs/benchmarks.md): adding it raised "I don't know" on unsupported questions from 67% to 89%
 * (KorQuAD) and 56% to 84% (SQuAD), while the first quoted sentence held the reference answer for
 * 76% instead of 80% (KorQuAD) and 64% instead of 71% (SQuAD) of the supported ones.
 */
import { passageTerms, queryTerms, type Lang } from "../../domain/analysis/index.ts";
import { splitSentences } from "../../domain/analysis/sentences.ts";
import type { AnswerEvent, AnswerRequest, AnswerSource, Answerer, Citation } from "./types.ts";

/** Share of the question's (IDF-weighted) terms a sentence must contain to count as an answer. */
export const MIN_COVERAGE = 0.3;
/** Share of the question's (IDF-weighted) terms the sentence's passage, with its title, must contain. */
export const MIN_PASSAGE_COVERAGE = 0.5;
const MAX_SENTENCES = 3;
const MAX_SOURCES = 5;
const MAX_SENTENCE_CHARS = 600;

export const NO_ANSWER: Record<Lang, string> = {
  ko: "제공된 문서에서 이 질문에 대한 답을 찾지 못했습니다.",
  en: "I couldn't find an answer to this question in the documents you can access.",
};

const LEAD_IN: Record<Lang, string> = {
  ko: "문서에서 찾은 관련 내용입니다:",
  en: "Here is what the documents say:",
};

interface Candidate {
  source: AnswerSource;
  sentence: string;
  coverage: number;
  /** Coverage of the question by the sentence's whole passage (chunk text and title). */
  passageCoverage: number;
  /** Distinct terms of the question. */
  questionTerms: number;
  score: number;
}

/** Questions with fewer distinct terms are judged on the sentence alone ("병가는 며칠까지 쓸 수 있나요?" → 병가, 쓸). */
const PASSAGE_TEST_MIN_TERMS = 3;

function supported(c: Candidate): boolean {
  if (c.coverage < MIN_COVERAGE) return false;
  return c.questionTerms < PASSAGE_TEST_MIN_TERMS || c.passageCoverage >= MIN_PASSAGE_COVERAGE;
}

/** Headings and labels ("연차 휴가", "Setting up") restate the question; they answer nothing. */
function looksLikeHeading(sentence: string): boolean {
  return sentence.length < 25 && !/[.!?。다요음함죠까]["')\]]*$/.test(sentence);
}

export function selectSentences(question: string, sources: AnswerSource[]): Candidate[] {
  const qTerms = [...new Set(queryTerms(question))];
  if (qTerms.length === 0) return [];
  const sentences: { source: AnswerSource; sentence: string; terms: Set<string>; rank: number }[] = [];
  const passageTermSets = new Map<AnswerSource, Set<string>>();
  sources.slice(0, MAX_SOURCES).forEach((source, rank) => {
    passageTermSets.set(source, new Set([...passageTerms(source.text), ...passageTerms(source.title)]));
    for (const s of splitSentences(source.text)) {
      const sentence = s.trim();
      if (sentence.length > MAX_SENTENCE_CHARS || looksLikeHeading(sentence)) continue;
      sentences.push({ source, sentence, terms: new Set(passageTerms(sentence)), rank });
    }
  });
  if (sentences.length === 0) return [];
  // Rare terms among the candidate sentences say more about the question than common ones.
  const weight = new Map<string, number>();
  for (const t of qTerms) {
    const df = sentences.reduce((n, s) => n + (s.terms.has(t) ? 1 : 0), 0);
    weight.set(t, Math.log(1 + sentences.length / (1 + df)));
  }
  const total = qTerms.reduce((sum, t) => sum + weight.get(t)!, 0);
  if (total === 0) return [];
  const coverageOf = (terms: Set<string>) => qTerms.reduce((sum, t) => sum + (terms.has(t) ? weight.get(t)! : 0), 0) / total;
  const passageCoverage = new Map([...passageTermSets].map(([source, terms]) => [source, coverageOf(terms)]));
  return sentences
    .map((s) => {
      const coverage = coverageOf(s.terms);
      return { source: s.source, sentence: s.sentence, coverage, passageCoverage: passageCoverage.get(s.source)!, questionTerms: qTerms.length, score: coverage + 0.05 / (s.rank + 1) };
    })
    .sort((a, b) => b.score - a.score);
}

export class ExtractiveAnswerer implements Answerer {
  readonly mode = "extractive" as const;

  async *answer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    yield { type: "sources", sources: request.sources };
    // The best-scoring sentence whose passage supports the question (a loosely related passage
    // may hold a higher-scoring sentence).
    const ranked = selectSentences(request.retrievalQuery ?? request.question, request.sources).filter(supported);
    const best = ranked[0];
    if (!best) {
      const text = NO_ANSWER[request.language];
      yield { type: "delta", text };
      yield { type: "done", answer: text, citations: [], mode: this.mode, found: false };
      return;
    }
    const chosen: Candidate[] = [];
    for (const c of ranked) {
      if (chosen.length >= MAX_SENTENCES || c.score < best.score * 0.7) break;
      if (chosen.some((x) => x.sentence === c.sentence)) continue;
      chosen.push(c);
    }
    const citations: Citation[] = [];
    const parts: string[] = [];
    for (const c of chosen) {
      // One citation per source; its quote is the best sentence taken from it.
      const n = c.source.n;
      if (!citations.some((x) => x.n === n)) {
        citations.push({ n, documentId: c.source.documentId, title: c.source.title, source: c.source.source, page: c.source.page, quote: c.sentence });
      }
      parts.push(`${c.sentence} [${n}]`);
    }
    const text = `${LEAD_IN[request.language]}\n${parts.join("\n")}`;
    yield { type: "delta", text };
    yield { type: "done", answer: text, citations, mode: this.mode, found: true };
  }
}
