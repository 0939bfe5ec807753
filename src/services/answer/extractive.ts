/**
 * The extractive answerer: with no language model, the answer is the source sentences most
 * likely to answer the question (its terms, the kind of value it asks for: SENTENCE_FEATURES),
 * each cited. It never writes a sentence of its own beyond
 * a short lead-in, so it cannot invent facts; when no sentence covers enough of the question
 * it says it found no answer.
 *
 * "Enough" is two thresholds on the question's terms, weighted by their rarity among the candidate
 * sentences: the sentence must cover MIN_COVERAGE of them and, for questions of three or more
 * terms, its passage (chunk text and document title) MIN_PASSAGE_COVERAGE, a bar raised or
 * lowered by how many of the sources read come from the sentence's document (`supported`). The passage test is what keeps questions the documents do not
 * cover from getting a loosely related sentence as their answer. Measured with bench:answers on
 * KorQuAD/SQuAD dev with a fifth of the articles held out of the index (details in
 * docs/benchmarks.md): adding it raised "I don't know" on unsupported questions from 67% to 89%
 * (KorQuAD) and 56% to 84% (SQuAD), while the first quoted sentence held the reference answer for
 * 76% instead of 80% (KorQuAD) and 64% instead of 71% (SQuAD) of the supported ones.
 */
import { detectLanguage, passageTerms, queryTerms, type Lang } from "../../domain/analysis/index.ts";
import { stripKoreanSuffix } from "../../domain/analysis/korean.ts";
import { splitSentences } from "../../domain/analysis/sentences.ts";
import { expectedAnswerType, holdsAnswerOfType } from "../../domain/grounding/answer-type.ts";
import type { AnswerEvent, AnswerRequest, AnswerSource, Answerer, Citation } from "./types.ts";

/** Share of the question's (IDF-weighted) terms a sentence must contain to count as an answer. */
export const MIN_COVERAGE = 0.3;
/** Share of the question's (IDF-weighted) terms the sentence's passage, with its title, must contain. */
export const MIN_PASSAGE_COVERAGE = 0.5;
const MAX_SENTENCES = 3;
/** Sources (best first) whose sentences are candidates. */
export const MAX_SOURCES = 5;
const MAX_SENTENCE_CHARS = 600;

export const NO_ANSWER: Record<Lang, string> = {
  ko: "제공된 문서에서 이 질문에 대한 답을 찾지 못했습니다.",
  en: "I couldn't find an answer to this question in the documents you can access.",
};

const LEAD_IN: Record<Lang, string> = {
  ko: "문서에서 찾은 관련 내용입니다:",
  en: "Here is what the documents say:",
};

export interface Candidate {
  source: AnswerSource;
  sentence: string;
  coverage: number;
  /** Coverage of the question by the sentence's whole passage (chunk text and title). */
  passageCoverage: number;
  /** Distinct terms of the question. */
  questionTerms: number;
  /** Sources read (the first MAX_SOURCES) with this sentence's source's title or holding the sentence itself (itself included). */
  agreeing: number;
  sourcesRead: number;
  features: SentenceFeatures;
  score: number;
}

/** Questions with fewer distinct terms are judged on the sentence alone ("병가는 며칠까지 쓸 수 있나요?" → 병가, 쓸). */
const PASSAGE_TEST_MIN_TERMS = 3;

/**
 * How far the sources read (the first MAX_SOURCES) agree on a sentence's document: how many of
 * them have its source's title or hold the sentence itself (a look-alike's copy: the same report
 * for several companies or years). When the documents hold the answer, retrieval tends to bring
 * several passages of the document that does; when they do not, the passages scatter over
 * look-alike documents, one each (on the tune half of KorQuAD/SQuAD dev the share of the five
 * sources with the sentence's title averages 0.66–0.68 for answerable questions, 0.28–0.34 for
 * those whose article is held out).
 * A sentence whose document is one of at least CORROBORATING_SOURCES sources passes the gate when
 * its passage covers CORROBORATED_PASSAGE_COVERAGE of the question, whatever its own coverage.
 */
export const CORROBORATING_SOURCES = 3;
export const CORROBORATED_PASSAGE_COVERAGE = 0.4;
/** A sentence alone of its document among the sources (at most LONE_SOURCE_SHARE of them) passes only when its passage covers this much. */
export const LONE_PASSAGE_COVERAGE = 0.6;
export const LONE_SOURCE_SHARE = 0.25;

/**
 * The gate between an answer and "I don't know": whether a candidate sentence (and its passage)
 * covers enough of the question, with the bar set by how much the sources agree on its document
 * (above): a passage from the document most sources come from needs less of the question (the
 * answering passage often words it otherwise), a passage alone among look-alikes needs more.
 * Thresholds chosen on the tune half of bench:fit-answers, checked on bench:lookalike's tune half
 * (docs/benchmarks.md, "Answer quality").
 */
export function supported(c: Candidate): boolean {
  if (c.agreeing >= CORROBORATING_SOURCES && c.passageCoverage >= CORROBORATED_PASSAGE_COVERAGE) return true;
  if (c.coverage < MIN_COVERAGE) return false;
  if (c.questionTerms < PASSAGE_TEST_MIN_TERMS) return true;
  const lone = c.agreeing / c.sourcesRead <= LONE_SOURCE_SHARE;
  return c.passageCoverage >= (lone ? LONE_PASSAGE_COVERAGE : MIN_PASSAGE_COVERAGE);
}

/** Headings and labels ("연차 휴가", "Setting up") restate the question; they answer nothing. */
function looksLikeHeading(sentence: string): boolean {
  return sentence.length < 25 && !/[.!?。다요음함죠까]["')\]]*$/.test(sentence);
}

/**
 * What the score of a candidate sentence is made of (each 0..1 except where said):
 * - `coverage`: the question's terms it contains, weighted by their rarity among the candidates;
 * - `answerType`: it holds a value of the kind the question asks for (a date for "언제", a
 *   number for "how many") that the question does not (1/0); `typeMissing`: the question asks
 *   for a kind and the sentence holds none (1/0);
 * - `novelty`: the share of its terms the question does not have (a sentence that only restates
 *   the question answers nothing);
 * - `order`: the share of the question's adjacent term pairs that stand in the same order in the
 *   sentence (questions paraphrase the answering sentence around its answer);
 * - `proximity`: matched question terms divided by the span of sentence terms they spread over;
 * - `rank`: 1 / (the passage's retrieval rank + 1); `first`: it opens its passage (1/0);
 * - `length`: log of its length in characters, divided by 6;
 * - `characters`: the share of the question's character trigrams (spaces and Korean particles
 *   removed) it contains: catches paraphrases the analyzed terms miss (numbers and names written
 *   together or apart, compounds).
 */
export const SENTENCE_FEATURES = ["coverage", "answerType", "typeMissing", "novelty", "order", "proximity", "rank", "first", "length", "characters"] as const;
export type SentenceFeatures = Record<(typeof SENTENCE_FEATURES)[number], number>;

/**
 * Weights of the features above: a listwise logistic model (softmax over a question's candidate
 * sentences) of "this sentence contains the reference answer", fitted by `npm run bench:fit-answers` on one half of KorQuAD 1.0 dev and SQuAD 1.1 dev (articles split by a hash of
 * their title; sources as retrieved for each question), reported on the other half
 * (docs/benchmarks.md, "Answer quality"). Only the order matters: the gate that decides between
 * an answer and "I don't know" stays on `coverage` (MIN_COVERAGE / MIN_PASSAGE_COVERAGE).
 */
export const SCORE_WEIGHTS: SentenceFeatures = {
  coverage: 5.055,
  answerType: 0.78,
  typeMissing: -0.78,
  novelty: -1.269,
  order: 0.497,
  proximity: 0.042,
  rank: 2.156,
  first: -0.314,
  length: -0.889,
  characters: 2.74,
};

/**
 * Added to a sentence's score times the share of the question's document-naming words (those on
 * a source's cover) that its own document's cover holds. Not fitted with SCORE_WEIGHTS (the QA
 * sets have no covers): chosen on the tune half of bench:lookalike (3, 5, 8, 12 tried: the named
 * document was cited for 40.7 / 40.7 / 46.3 / 51.9% of the Korean and 32.4 / 34.3 / 38.0 / 38.9%
 * of the English tune questions, with the same first-sentence hits), large enough that a
 * sentence from the document the question names comes before the same sentence from a
 * look-alike ranked higher.
 */
export const NAMED_DOCUMENT_WEIGHT = 12;

/** Further sentences are quoted when their score is within this of the best one's (log-odds). */
export const NEXT_SENTENCE_MARGIN = 1.5;

/** The sentence's score: the log-odds, up to a constant shared by all candidates, that it holds the answer. */
export function scoreOf(f: SentenceFeatures, weights: SentenceFeatures = SCORE_WEIGHTS): number {
  let z = 0;
  for (const k of SENTENCE_FEATURES) z += weights[k] * f[k];
  return z;
}

export function selectSentences(question: string, sources: AnswerSource[], lang: Lang = detectLanguage(question)): Candidate[] {
  const allTerms = [...new Set(queryTerms(question))];
  // Words found on a source document's cover name the document ("2021년 2분기 별빛캐피탈
  // 분기보고서에서, …"): retrieval used them to find it; the answer is judged on the rest of the
  // question, so the cover itself does not win for repeating the name.
  const naming = new Set(sources.flatMap((s) => (s.naming ? passageTerms(s.naming) : [])));
  const asking = allTerms.filter((t) => !naming.has(t));
  const qTerms = asking.length > 0 ? asking : allTerms;
  // Look-alike documents share their body text: of two equal sentences, the one whose document's
  // cover holds the words the question names it by is the one to quote and cite.
  const named = allTerms.filter((t) => naming.has(t));
  const namesOf = new Map(sources.map((s) => [s, s.naming ? new Set(passageTerms(s.naming)) : new Set<string>()]));
  // Weighted by rarity among the sources' covers: the company's name tells two quarterly reports
  // apart, "2021" and "분기보고서" do not.
  const coversWith = (t: string) => [...namesOf.values()].filter((n) => n.has(t)).length;
  const namedWeight = new Map(named.map((t) => [t, Math.log(1 + sources.length / Math.max(1, coversWith(t)))]));
  const namedTotal = named.reduce((sum, t) => sum + namedWeight.get(t)!, 0);
  const namedShare = (source: AnswerSource) => (namedTotal === 0 ? 0 : named.reduce((sum, t) => sum + (namesOf.get(source)!.has(t) ? namedWeight.get(t)! : 0), 0) / namedTotal);
  const answerType = expectedAnswerType(question, lang);
  if (qTerms.length === 0) return [];
  const sentences: { source: AnswerSource; sentence: string; terms: Set<string>; sequence: string[]; rank: number; first: boolean }[] = [];
  const passageTermSets = new Map<AnswerSource, Set<string>>();
  sources.slice(0, MAX_SOURCES).forEach((source, rank) => {
    passageTermSets.set(source, new Set([...passageTerms(source.text), ...passageTerms(source.title)]));
    let first = true;
    for (const s of splitSentences(source.text)) {
      const sentence = s.trim();
      if (sentence.length > MAX_SENTENCE_CHARS || looksLikeHeading(sentence)) continue;
      const sequence = passageTerms(sentence);
      sentences.push({ source, sentence, terms: new Set(sequence), sequence, rank, first });
      first = false;
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
  // Look-alike documents (the same report for several companies or years) repeat each other's
  // passages under other titles: a source holding the very sentence agrees as well as one of the same title.
  const read = [...passageTermSets.keys()];
  const agreeingWith = (source: AnswerSource, sentence: string) => read.filter((s) => s === source || s.title === source.title || s.text.includes(sentence)).length;
  const asked = new Set(qTerms);
  const pairs = qTerms.slice(1).map((t, i) => [qTerms[i]!, t] as const);
  const trigrams = characterTrigrams(question);
  return sentences
    .map((s) => {
      const features = sentenceFeatures(s, { question, lang, answerType, asked, pairs, trigrams, coverage: coverageOf(s.terms) });
      const score = scoreOf(features) + NAMED_DOCUMENT_WEIGHT * namedShare(s.source);
      return { source: s.source, sentence: s.sentence, coverage: features.coverage, passageCoverage: passageCoverage.get(s.source)!, questionTerms: qTerms.length, agreeing: agreeingWith(s.source, s.sentence), sourcesRead: read.length, features, score };
    })
    .sort((a, b) => b.score - a.score);
}

function sentenceFeatures(
  s: { sentence: string; terms: Set<string>; sequence: string[]; rank: number; first: boolean },
  q: { question: string; lang: Lang; answerType: ReturnType<typeof expectedAnswerType>; asked: Set<string>; pairs: (readonly [string, string])[]; trigrams: Set<string>; coverage: number },
): SentenceFeatures {
  const own = characterTrigrams(s.sentence);
  const typed = holdsAnswerOfType(s.sentence, q.question, q.answerType, q.lang);
  const novel = s.terms.size === 0 ? 0 : [...s.terms].filter((t) => !q.asked.has(t)).length / s.terms.size;
  const position = new Map<string, number>();
  s.sequence.forEach((t, i) => position.has(t) || position.set(t, i));
  const inOrder = q.pairs.filter(([a, b]) => position.has(a) && position.has(b) && position.get(a)! < position.get(b)!).length;
  const matched = s.sequence.map((t, i) => (q.asked.has(t) ? i : -1)).filter((i) => i >= 0);
  const distinctMatched = new Set(matched.map((i) => s.sequence[i])).size;
  const span = matched.length ? matched[matched.length - 1]! - matched[0]! + 1 : 0;
  return {
    coverage: q.coverage,
    answerType: typed ? 1 : 0,
    typeMissing: q.answerType !== "other" && !typed ? 1 : 0,
    novelty: novel,
    order: q.pairs.length ? inOrder / q.pairs.length : 0,
    proximity: span ? distinctMatched / span : 0,
    rank: 1 / (s.rank + 1),
    first: s.first ? 1 : 0,
    length: Math.log(1 + s.sentence.length) / 6,
    characters: q.trigrams.size ? [...q.trigrams].filter((t) => own.has(t)).length / q.trigrams.size : 0,
  };
}

/**
 * Character trigrams of the text's words, lower-cased, each Korean word without its particle or
 * ending ("휴가는" and "휴가가" both give 휴가), joined without spaces, so that a sentence does not
 * score for repeating the question's particles.
 */
function characterTrigrams(text: string): Set<string> {
  const words = text.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const chars = [...words.map((w) => (/[가-힣]$/.test(w) ? stripKoreanSuffix(w) : w)).join("")];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(""));
  return out;
}

export class ExtractiveAnswerer implements Answerer {
  readonly mode = "extractive" as const;

  async *answer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    yield { type: "sources", sources: request.sources };
    // The gate decides whether the documents answer: some sentence (and its passage) covers enough
    // of the question. What is quoted is then the best-scoring sentence of all, which may fall
    // below that gate itself (issue 16: the answering sentence often repeats few of the question's
    // words while a weaker one that restates them passes).
    // Only sentences that share something with the question may be quoted: one that shares no
    // term (a table's rule line, another document's caption) answers nothing, whatever its score.
    const ranked = selectSentences(request.retrievalQuery ?? request.question, request.sources, request.language).filter(
      (c) => c.coverage > 0 && /[\p{L}\p{Nd}]/u.test(c.sentence),
    );
    const best = ranked[0];
    if (!best || !ranked.some(supported)) {
      const text = NO_ANSWER[request.language];
      yield { type: "delta", text };
      yield { type: "done", answer: text, citations: [], mode: this.mode, found: false };
      return;
    }
    const chosen: Candidate[] = [];
    for (const c of ranked) {
      if (chosen.length >= MAX_SENTENCES || c.score < best.score - NEXT_SENTENCE_MARGIN) break;
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
