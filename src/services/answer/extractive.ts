/**
 * The extractive answerer: with no language model, the answer is the source sentences that
 * best cover the question's terms, each cited. It never writes a sentence of its own beyond
 * a short lead-in, so it cannot invent facts; when no sentence covers enough of the question
 * it says it found no answer.
 */
import { passageTerms, queryTerms, type Lang } from "../../domain/analysis/index.ts";
import { splitSentences } from "../../../ingest/sentences.ts";
import type { AnswerEvent, AnswerRequest, AnswerSource, Answerer, Citation } from "./types.ts";

/** Share of the question's (IDF-weighted) terms a sentence must contain to count as an answer. */
export const MIN_COVERAGE = 0.3;
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
  score: number;
}

/** Headings and labels ("연차 휴가", "Setting up") restate the question; they answer nothing. */
function looksLikeHeading(sentence: string): boolean {
  return sentence.length < 25 && !/[.!?。다요음함죠까]["')\]]*$/.test(sentence);
}

export function selectSentences(question: string, sources: AnswerSource[]): Candidate[] {
  const qTerms = [...new Set(queryTerms(question))];
  if (qTerms.length === 0) return [];
  const sentences: { source: AnswerSource; sentence: string; terms: Set<string>; rank: number }[] = [];
  sources.slice(0, MAX_SOURCES).forEach((source, rank) => {
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
  return sentences
    .map((s) => {
      const covered = qTerms.reduce((sum, t) => sum + (s.terms.has(t) ? weight.get(t)! : 0), 0);
      const coverage = covered / total;
      return { source: s.source, sentence: s.sentence, coverage, score: coverage + 0.05 / (s.rank + 1) };
    })
    .sort((a, b) => b.score - a.score);
}

export class ExtractiveAnswerer implements Answerer {
  readonly mode = "extractive" as const;

  async *answer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    yield { type: "sources", sources: request.sources };
    const ranked = selectSentences(request.question, request.sources);
    const best = ranked[0];
    if (!best || best.coverage < MIN_COVERAGE) {
      const text = NO_ANSWER[request.language];
      yield { type: "delta", text };
      yield { type: "done", answer: text, citations: [], mode: this.mode, found: false };
      return;
    }
    const chosen: Candidate[] = [];
    for (const c of ranked) {
      if (chosen.length >= MAX_SENTENCES || c.score < best.score * 0.7 || c.coverage < MIN_COVERAGE) break;
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
