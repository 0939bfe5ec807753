/**
 * Checks the [n] citations of a generated answer against the sources the model was given.
 *
 * 1. Markers: "[1]", "[1, 2]", "[1,2]", "[1][2]", "[1-3]", "[출처 1]", "[source 2]". A marker
 *    right after the end of a sentence ("… 했다. [1]") belongs to that sentence.
 * 2. A cited number must be one of the sources (else "nonexistent-source").
 * 3. The cited source must support what it is attached to ("unsupported-claim" otherwise). The
 *    claim is the clause before the marker (since the previous marker or the sentence start) and,
 *    failing that, the whole sentence. Support is lexical, on the same terms as retrieval
 *    (`passageTerms`: Korean stems → syllable bigrams, so particles and endings do not matter;
 *    English → Porter stems without stop words; digits kept):
 *
 *        support = |claim terms ∩ source terms| / |claim terms|
 *
 *    and the citation stands when support ≥ SUPPORT_THRESHOLD (0.3) with at least
 *    min(2, |claim terms|) shared terms. Why 0.3: a sentence written from a source keeps most of
 *    its names, numbers and nouns even when paraphrased; in our fixtures grounded sentences score
 *    0.5–1.0 and sentences taken from another source or made up score 0–0.15 (what they share is
 *    incidental: a common noun, a year). 0.3 sits between the two with room for paraphrase
 *    (synonyms and inflections that stemming misses). The second condition keeps a two-term claim
 *    from standing on one shared word. A lexical check cannot tell "X rose" from "X fell"; it
 *    catches citations to the wrong source and sentences that the source does not talk about.
 * 4. Markers of dropped citations are taken out of the answer (a group keeps its valid numbers);
 *    each kept citation gets a quote: the source sentence that shares the most terms with the
 *    claim it supports.
 */
import { passageTerms, type Lang } from "../analysis/index.ts";
import { splitSentences } from "../analysis/sentences.ts";
import type { AnswerSource, Citation } from "./sources.ts";

export const SUPPORT_THRESHOLD = 0.3;
/** Longest quote (characters). */
export const MAX_QUOTE_CHARS = 300;
/** Widest range a marker like [1-3] may expand to. */
const MAX_RANGE = 20;

export type CitationFlagReason = "nonexistent-source" | "unsupported-claim";

export interface CitationFlag {
  n: number;
  reason: CitationFlagReason;
}

export interface CitationCheck {
  citations: Citation[];
  flagged: CitationFlag[];
  cleanedAnswer: string;
}

const MARKER_RE = /\[\s*(?:(?:sources?|src|ref|출처|자료|문서)\s*)?(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*\]/gi;
/** End of a sentence: terminal punctuation (plus closing quotes) before whitespace, or a line break. */
const SENTENCE_END_RE = /[.!?。！？…]+["'”’)\]]*(?=\s)|\n/g;

interface Marker {
  start: number;
  end: number;
  numbers: number[];
  /** The marker used ", " between numbers (keep that style when rewriting). */
  commaStyle: boolean;
}

export function parseMarkerNumbers(inner: string): number[] {
  const out: number[] = [];
  for (const part of inner.split(/[,，、]/)) {
    const range = part.split(/[-–~]/).map((x) => Number.parseInt(x.trim(), 10));
    if (range.length === 2 && Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1]! >= range[0]! && range[1]! - range[0]! < MAX_RANGE) {
      for (let k = range[0]!; k <= range[1]!; k++) out.push(k);
    } else {
      for (const v of range) if (Number.isFinite(v)) out.push(v);
    }
  }
  return [...new Set(out)];
}

export function findMarkers(text: string): Marker[] {
  const out: Marker[] = [];
  for (const m of text.matchAll(MARKER_RE)) {
    out.push({ start: m.index, end: m.index + m[0].length, numbers: parseMarkerNumbers(m[1]!), commaStyle: /[,，、]/.test(m[1]!) });
  }
  return out;
}

/** Sentence spans [start, end) of the answer. */
function sentenceSpans(text: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let start = 0;
  for (const m of text.matchAll(SENTENCE_END_RE)) {
    const end = m.index + m[0].length;
    if (end > start) spans.push({ start, end });
    start = end;
  }
  if (start < text.length) spans.push({ start, end: text.length });
  return spans;
}

function termSet(text: string): Set<string> {
  return new Set(passageTerms(text));
}

function shared(a: Set<string>, b: Set<string>): number {
  let n = 0;
  for (const t of a) if (b.has(t)) n++;
  return n;
}

/** Support of a claim by a source's terms: share of the claim's terms found in the source. */
export function supportScore(claim: string, sourceText: string): number {
  const c = termSet(claim);
  if (c.size === 0) return 0;
  return shared(c, termSet(sourceText)) / c.size;
}

function supports(claimTerms: Set<string>, sourceTerms: Set<string>): { ok: boolean; shared: number } {
  if (claimTerms.size === 0) return { ok: true, shared: 0 }; // nothing checkable ("Yes [1].")
  const s = shared(claimTerms, sourceTerms);
  return { ok: s / claimTerms.size >= SUPPORT_THRESHOLD && s >= Math.min(2, claimTerms.size), shared: s };
}

function trimQuote(sentence: string): string {
  const s = sentence.replace(/\s+/g, " ").trim();
  if (s.length <= MAX_QUOTE_CHARS) return s;
  const cut = s.slice(0, MAX_QUOTE_CHARS);
  const space = cut.lastIndexOf(" ");
  return `${(space > MAX_QUOTE_CHARS * 0.7 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

interface SourceIndex {
  source: AnswerSource;
  terms: Set<string>;
  sentences: { text: string; terms: Set<string> }[];
}

/** The source sentence sharing the most terms with the claim (ties: the shorter one). */
function bestQuote(idx: SourceIndex, claimTerms: Set<string>): string {
  let best: { text: string; score: number } | null = null;
  for (const s of idx.sentences) {
    const score = shared(claimTerms, s.terms) - s.text.length / 1e6;
    if (!best || score > best.score) best = { text: s.text, score };
  }
  return trimQuote(best?.text ?? idx.source.text);
}

export function checkCitations(answer: string, sources: AnswerSource[]): CitationCheck {
  const byN = new Map<number, SourceIndex>();
  const indexOf = (n: number): SourceIndex | undefined => {
    const source = sources.find((s) => s.n === n);
    if (!source) return undefined;
    let idx = byN.get(n);
    if (!idx) {
      const sentences = splitSentences(source.text)
        .map((t) => t.trim())
        .filter((t) => t.length > 0)
        .map((text) => ({ text, terms: termSet(text) }));
      idx = { source, terms: termSet(`${source.title} ${source.text}`), sentences };
      byN.set(n, idx);
    }
    return idx;
  };

  const markers = findMarkers(answer);
  const spans = sentenceSpans(answer);
  const stripMarkers = (s: string) => s.replace(MARKER_RE, " ");

  // Which sentence each marker belongs to: a marker at the very start of a sentence (only
  // whitespace/markers before it) is attached to the previous sentence.
  const spanOf = (m: Marker): number => {
    const i = spans.findIndex((s) => m.start >= s.start && m.start < s.end);
    if (i <= 0) return Math.max(0, i);
    const before = stripMarkers(answer.slice(spans[i]!.start, m.start));
    return before.trim() === "" ? i - 1 : i;
  };

  const keepNumbers = new Map<Marker, number[]>();
  const flags: CitationFlag[] = [];
  const flag = (n: number, reason: CitationFlagReason) => {
    if (!flags.some((f) => f.n === n && f.reason === reason)) flags.push({ n, reason });
  };
  const kept = new Map<number, { quote: string; shared: number; order: number }>();

  let prevMarkerEnd = 0;
  let prevSpan = -1;
  markers.forEach((m, order) => {
    const si = spanOf(m);
    const span = spans[si] ?? { start: 0, end: answer.length };
    // Clause: from the previous marker in the same sentence (or the sentence start) to this marker.
    const clauseStart = prevSpan === si ? Math.max(prevMarkerEnd, span.start) : span.start;
    const clauseEnd = m.start >= span.end ? span.end : m.start;
    const clause = stripMarkers(answer.slice(clauseStart, Math.max(clauseStart, clauseEnd)));
    const sentence = stripMarkers(answer.slice(span.start, span.end));
    const clauseTerms = termSet(clause);
    const sentenceTerms = termSet(sentence);
    prevMarkerEnd = m.end;
    prevSpan = si;

    const keep: number[] = [];
    for (const n of m.numbers) {
      const idx = indexOf(n);
      if (!idx) {
        flag(n, "nonexistent-source");
        continue;
      }
      const byClause = clauseTerms.size >= 3 ? supports(clauseTerms, idx.terms) : { ok: false, shared: 0 };
      const bySentence = supports(sentenceTerms, idx.terms);
      const ok = byClause.ok || bySentence.ok;
      if (!ok) {
        flag(n, "unsupported-claim");
        continue;
      }
      keep.push(n);
      const claimTerms = byClause.ok && clauseTerms.size > 0 ? clauseTerms : sentenceTerms;
      const s = Math.max(byClause.shared, bySentence.shared);
      const prev = kept.get(n);
      if (!prev || s > prev.shared) kept.set(n, { quote: bestQuote(idx, claimTerms), shared: s, order: prev?.order ?? order });
    }
    keepNumbers.set(m, keep);
  });

  // A number kept somewhere and flagged elsewhere stays flagged: that other claim was dropped.
  const citations: Citation[] = [...kept.entries()]
    .sort((a, b) => a[1].order - b[1].order)
    .map(([n, k]) => {
      const s = indexOf(n)!.source;
      return { n, documentId: s.documentId, title: s.title, source: s.source, page: s.page, quote: k.quote };
    });

  // Rewrite the markers that lost numbers.
  let cleaned = "";
  let at = 0;
  for (const m of markers) {
    const keep = keepNumbers.get(m) ?? [];
    if (keep.length === m.numbers.length) {
      cleaned += answer.slice(at, m.end);
    } else if (keep.length === 0) {
      cleaned += answer.slice(at, m.start).replace(/[ \t]+$/, "");
    } else {
      cleaned += answer.slice(at, m.start) + (m.commaStyle ? `[${keep.join(", ")}]` : keep.map((n) => `[${n}]`).join(""));
    }
    at = m.end;
  }
  cleaned += answer.slice(at);
  return { citations, flagged: flags, cleanedAnswer: cleaned.trim() };
}

const NO_ANSWER_PATTERNS: Record<Lang, RegExp[]> = {
  en: [
    /\bI (?:do not|don't|dont|cannot|can't|could not|couldn't|am unable to|was unable to) (?:know|find|answer|determine|tell|say|locate)\b/i,
    /\b(?:unable|not able) to (?:find|answer|determine|locate)\b/i,
    /\b(?:sources?|documents?|context|texts?|passages?|provided (?:information|material))\b[^.]{0,80}?\b(?:do not|don't|does not|doesn't|did not|didn't|cannot|can't)\b[^.]{0,40}?\b(?:contain|mention|include|say|state|provide|specify|address|cover|answer|discuss)/i,
    /\b(?:is|are|was|were)(?: not|n't) (?:mentioned|contained|provided|specified|stated|found|available|covered|included|given|addressed)\b[^.]{0,60}?\b(?:sources?|documents?|context|texts?)\b/i,
    /\bno (?:relevant |such |specific )?(?:information|answer|mention|details?)\b[^.]{0,60}?\b(?:sources?|documents?|context|provided)\b/i,
    /\b(?:there is|there's) no (?:information|answer|mention)\b/i,
  ],
  ko: [
    /모르겠/,
    /알 ?수(?:가)? ?없/,
    /(?:찾을|답할|답변할|확인할|말씀드릴|드릴) ?수(?:가)? ?없/,
    /찾지 ?못(?:했|하|함)/,
    /(?:포함|언급|명시|기재|기술|설명|제시|제공)(?:되어|돼|되)? ?(?:있지 ?않|있지않|지 ?않)/,
    /나와 ?있지 ?않/,
    /(?:관련된?|해당|관한) ?(?:정보|내용|자료)(?:가|는|이|은)? ?(?:없|존재하지 ?않)/,
    /(?:정보|내용|답)(?:가|는|이|은)? ?(?:없습니다|없어요|없다|없음)/,
  ],
};

/** A contrast ("…, but …") means the text goes on to answer something. */
const CONTRAST_RE = /\b(?:but|however|although|though|instead)\b|하지만|그러나|다만|반면|그런데/i;
const NO_ANSWER_MAX_CHARS = 300;

/**
 * Whether a generated answer says that the sources do not answer the question ("I don't know",
 * "제공된 문서에서 답을 찾을 수 없습니다"). Both languages are checked (models switch language);
 * a long answer, or one that turns to an answer after a contrast ("X is not mentioned, but …"),
 * is not a no-answer.
 */
export function isNoAnswer(text: string, lang: Lang): boolean {
  const t = text.replace(MARKER_RE, " ").replace(/\s+/g, " ").trim();
  if (t.length === 0) return true;
  if (t.length > NO_ANSWER_MAX_CHARS || CONTRAST_RE.test(t)) return false;
  const first = lang === "ko" ? [...NO_ANSWER_PATTERNS.ko, ...NO_ANSWER_PATTERNS.en] : [...NO_ANSWER_PATTERNS.en, ...NO_ANSWER_PATTERNS.ko];
  return first.some((re) => re.test(t));
}
