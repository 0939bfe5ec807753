/**
 * Configurable lexical analyzer. `index.ts` exposes the configuration chosen by
 * `bench/analysis-experiment.ts`; the options exist so that the experiment can compare variants
 * with the same code that runs in production.
 *
 * Pipeline for a piece of text:
 * 1. Split on whitespace into chunks; NFKC-normalize (full-width → ASCII, compatibility forms)
 *    and lowercase each chunk; drop apostrophes inside words ("Obama's" → "obama",
 *    "don't" → "dont") and thousands separators ("1,000" → "1000").
 * 2. Split a chunk into words on anything that is not a letter, digit or combining mark, and a
 *    word into script runs: Hangul syllables, CJK-like scripts written without spaces (Han,
 *    kana, Thai, Lao, Khmer, Myanmar), and everything else (Latin, digits, Cyrillic, …).
 * 3. Hangul run (an eojeol, or a Korean tail glued to a foreign word as in "iPhone을"):
 *    strip particles/endings, drop stop words (and question words in queries), then emit
 *    syllable bigrams of the stem (a one-syllable stem is emitted as is). Whole stems as extra
 *    terms are an option; they measured worse (they over-weight a passage's topic entity).
 * 4. CJK-like run: character unigrams and bigrams.
 * 5. Other run: fold Latin diacritics, drop stop words, Porter-stem ASCII words; digits are
 *    kept. A hyphenated pair ("e-mail") is also indexed joined ("email").
 * The index string writes every term twice (`indexRepeat`), which turns LanceDB's fixed BM25
 * k1 = 1.2 into k1 = 0.6, better for short passages.
 * Every term is at most MAX_TERM_BYTES UTF-8 bytes (LanceDB's FTS drops longer tokens), never
 * empty and never contains whitespace.
 */
import { ENGLISH_QUESTION_WORDS, ENGLISH_STOP_WORDS, LUCENE_STOP_WORDS, SNOWBALL_STOP_WORDS, stemEnglish } from "./english.ts";
import { KOREAN_QUESTION_WORDS, KOREAN_STOP_WORDS, stripKoreanSuffix } from "./korean.ts";

export type AnalysisMode = "index" | "query";

export interface AnalyzerOptions {
  /** Emit every Hangul syllable as a term. */
  koUnigrams: boolean;
  /** Emit Hangul syllable bigrams. */
  koBigrams: boolean;
  /** Take bigrams from the stripped stem, or from the whole eojeol (particles included). */
  koBigramsFrom: "stem" | "eojeol";
  /** Emit the stem itself when it has at least this many syllables (Infinity: never). */
  koStemMinLength: number;
  /** Strip particles/endings (rounds of stripping; 0 disables it). */
  koStripRounds: number;
  /** Allow one-syllable stems when stripping 은/는/을/를/에. */
  koShortStems: boolean;
  /** Drop Korean function words (및, 등, 것, 수, 있다, …) on both sides. */
  koStopWords: boolean;
  /** English stop words on both sides: Lucene's 33, ours (function words), Snowball-like, none. */
  enStopWords: "none" | "lucene" | "function" | "snowball";
  /** Also index a hyphenated pair of words joined ("e-mail" → "email" as well as "e", "mail"). */
  enJoinHyphenated: boolean;
  /** Porter-stem ASCII words. */
  enStem: boolean;
  /** Drop question words (무엇, 누구, 몇 …; what, who …) from queries. */
  queryQuestionWords: boolean;
  /** Keep each query term once (otherwise repeated terms weigh more in LanceDB's BM25). */
  dedupeQueryTerms: boolean;
  /** Fold Latin diacritics ("Pérez" → "perez"). */
  foldDiacritics: boolean;
  /**
   * How many times `indexString` writes each term. LanceDB's BM25 has k1 = 1.2 fixed; writing
   * every index term r times ranks exactly like BM25 with k1 = 1.2 / r (tf, document length and
   * average length all scale by r, idf is unchanged).
   */
  indexRepeat: number;
}

export const DEFAULT_ANALYZER_OPTIONS: Readonly<AnalyzerOptions> = Object.freeze({
  koUnigrams: false,
  koBigrams: true,
  koBigramsFrom: "stem",
  koStemMinLength: Infinity,
  koStripRounds: 2,
  koShortStems: true,
  koStopWords: true,
  enStopWords: "function",
  enJoinHyphenated: true,
  enStem: true,
  queryQuestionWords: true,
  dedupeQueryTerms: false,
  foldDiacritics: true,
  indexRepeat: 2,
});

/** LanceDB's FTS tokenizer ignores tokens longer than 40 bytes; stay strictly below. */
export const MAX_TERM_BYTES = 39;

export interface Token {
  term: string;
  /** Offsets (UTF-16, end exclusive) in the original text of the word the term came from. */
  start: number;
  end: number;
}

const CHUNK_RE = /\S+/g;
const WORD_RE = /[\p{L}\p{N}\p{M}]+/gu;
const CJK_CLASS = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\u30FC`;
const RUN_RE = new RegExp(String.raw`([\uAC00-\uD7A3]+)|([${CJK_CLASS}]+)|([^\uAC00-\uD7A3${CJK_CLASS}]+)`, "gu");
/** Chunks made only of printable ASCII and Hangul syllables take the fast path (NFKC is a no-op on them). */
const FAST_CHUNK_RE = /^[\x21-\x7E\uAC00-\uD7A3]*$/;
const UPPER_RE = /[A-Z]/;
const POSSESSIVE_RE = /(\p{L})['’‘`´]s(?![\p{L}\p{N}])/gu;
const APOSTROPHE_RE = /(\p{L})['’‘`´](?=\p{L})/gu;
const APOSTROPHE_TEST_RE = /['’‘`´]/;
const THOUSANDS_RE = /(\d),(?=\d{3}(?!\d))/g;
const ASCII_WORD_RE = /^[a-z]+$/;
const HYPHEN_PAIR_RE = /^([^a-z0-9]*)([a-z]+)-([a-z]+)[^a-z0-9]*$/;
const LATIN_DIACRITIC_RE = /[\u00C0-\u024F\u1E00-\u1EFF]/;

function foldLatin(word: string): string {
  return word.normalize("NFD").replace(/(\p{Script=Latin})\p{M}+/gu, "$1").normalize("NFC");
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Truncates a term to at most MAX_TERM_BYTES UTF-8 bytes at a code point boundary. */
export function capTermLength(term: string): string {
  if (term.length * 3 <= MAX_TERM_BYTES || utf8Length(term) <= MAX_TERM_BYTES) return term;
  let bytes = 0;
  let end = 0;
  for (const ch of term) {
    const b = utf8Length(ch);
    if (bytes + b > MAX_TERM_BYTES) break;
    bytes += b;
    end += ch.length;
  }
  return term.slice(0, end);
}

/** Apostrophes and thousands separators (after lowercasing). */
function fixPunctuation(s: string): string {
  if (APOSTROPHE_TEST_RE.test(s)) s = s.replace(POSSESSIVE_RE, "$1").replace(APOSTROPHE_RE, "$1");
  if (s.includes(",")) s = s.replace(THOUSANDS_RE, "$1");
  return s;
}

/** 1: Hangul syllable, 2: ASCII letter or digit (lowercase), 0: anything else. */
function fastClass(c: number): number {
  if (c >= 0xac00 && c <= 0xd7a3) return 1;
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) return 2;
  return 0;
}

/** Where analysis output goes: terms, plus word offsets when asked for. */
interface Sink {
  terms: string[];
  starts: number[] | null;
  ends: number[] | null;
  start: number;
  end: number;
}

export class Analyzer {
  readonly options: Readonly<AnalyzerOptions>;
  private readonly enStop: ReadonlySet<string>;

  constructor(options: Partial<AnalyzerOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_ANALYZER_OPTIONS, ...options });
    const stops = { none: new Set<string>(), lucene: LUCENE_STOP_WORDS, function: ENGLISH_STOP_WORDS, snowball: SNOWBALL_STOP_WORDS };
    this.enStop = stops[this.options.enStopWords];
  }

  /** Terms in text order (repeats kept; queries deduplicated when `dedupeQueryTerms`). */
  terms(text: string, mode: AnalysisMode): string[] {
    const sink = this.run(text, mode, false);
    return mode === "query" && this.options.dedupeQueryTerms ? [...new Set(sink.terms)] : sink.terms;
  }

  /** Terms with the offsets of the words they came from. */
  tokens(text: string, mode: AnalysisMode): Token[] {
    const sink = this.run(text, mode, true);
    const out: Token[] = [];
    const seen = mode === "query" && this.options.dedupeQueryTerms ? new Set<string>() : null;
    sink.terms.forEach((term, i) => {
      if (seen) {
        if (seen.has(term)) return;
        seen.add(term);
      }
      out.push({ term, start: sink.starts![i]!, end: sink.ends![i]! });
    });
    return out;
  }

  /** The terms written to the `analyzed` column: index terms, the list repeated `indexRepeat` times. */
  indexTerms(text: string): string[] {
    const terms = this.terms(text, "index");
    const r = Math.max(1, Math.floor(this.options.indexRepeat));
    if (r === 1) return terms;
    const out: string[] = [];
    for (let i = 0; i < r; i++) for (const t of terms) out.push(t);
    return out;
  }

  /** The `analyzed` column value (`indexTerms` space-joined). */
  indexString(text: string): string {
    return this.indexTerms(text).join(" ");
  }

  /** The query string for a MatchQuery: query terms, space-joined ("" when nothing is searchable). */
  queryString(text: string): string {
    return this.terms(text, "query").join(" ");
  }

  private run(text: string, mode: AnalysisMode, withOffsets: boolean): Sink {
    const sink: Sink = { terms: [], starts: withOffsets ? [] : null, ends: withOffsets ? [] : null, start: 0, end: 0 };
    if (typeof text !== "string" || text.length === 0) return sink;
    for (const chunkMatch of text.matchAll(CHUNK_RE)) {
      const raw = chunkMatch[0];
      const chunkStart = chunkMatch.index;
      if (FAST_CHUNK_RE.test(raw)) this.fastChunk(raw, chunkStart, mode, sink);
      else this.slowChunk(raw, chunkStart, mode, sink);
    }
    return sink;
  }

  /** ASCII + Hangul chunk: a hand-written scanner instead of Unicode regexes. */
  private fastChunk(raw: string, chunkStart: number, mode: AnalysisMode, sink: Sink): void {
    const norm = fixPunctuation(UPPER_RE.test(raw) ? raw.toLowerCase() : raw);
    const sameOffsets = norm.length === raw.length;
    this.hyphenated(norm, chunkStart, raw.length, sameOffsets, mode, sink);
    const n = norm.length;
    let i = 0;
    while (i < n) {
      if (fastClass(norm.charCodeAt(i)) === 0) {
        i++;
        continue;
      }
      const wordStart = i;
      let wordEnd = i;
      while (wordEnd < n && fastClass(norm.charCodeAt(wordEnd)) !== 0) wordEnd++;
      sink.start = sameOffsets ? chunkStart + wordStart : chunkStart;
      sink.end = sameOffsets ? chunkStart + wordEnd : chunkStart + raw.length;
      let prev = 0;
      while (i < wordEnd) {
        const cls = fastClass(norm.charCodeAt(i));
        const runStart = i;
        while (i < wordEnd && fastClass(norm.charCodeAt(i)) === cls) i++;
        const run = norm.slice(runStart, i);
        if (cls === 1) this.hangul(run, prev !== 0, mode, sink);
        else this.other(run, true, mode, sink);
        prev = cls;
      }
    }
  }

  private slowChunk(raw: string, chunkStart: number, mode: AnalysisMode, sink: Sink): void {
    const norm = fixPunctuation(raw.normalize("NFKC").toLowerCase());
    const sameOffsets = norm.length === raw.length;
    this.hyphenated(norm, chunkStart, raw.length, sameOffsets, mode, sink);
    for (const wordMatch of norm.matchAll(WORD_RE)) {
      const word = wordMatch[0];
      sink.start = sameOffsets ? chunkStart + wordMatch.index : chunkStart;
      sink.end = sameOffsets ? sink.start + word.length : chunkStart + raw.length;
      let runIndex = 0;
      for (const m of word.matchAll(RUN_RE)) {
        if (m[1] !== undefined) this.hangul(m[1], runIndex > 0, mode, sink);
        else if (m[2] !== undefined) this.cjk(m[2], sink);
        else if (m[3] !== undefined) this.other(m[3], false, mode, sink);
        runIndex++;
      }
    }
  }

  /** "well-known" → also "wellknown" (stemmed), for a chunk that is one hyphenated pair of words. */
  private hyphenated(norm: string, chunkStart: number, rawLength: number, sameOffsets: boolean, mode: AnalysisMode, sink: Sink): void {
    if (!this.options.enJoinHyphenated || !norm.includes("-")) return;
    const m = HYPHEN_PAIR_RE.exec(norm);
    if (!m) return;
    const [, lead, first, second] = m as unknown as [string, string, string, string];
    sink.start = sameOffsets ? chunkStart + lead.length : chunkStart;
    sink.end = sameOffsets ? sink.start + first.length + 1 + second.length : chunkStart + rawLength;
    this.other(first + second, true, mode, sink);
  }

  private push(sink: Sink, term: string): void {
    if (term.length === 0) return;
    sink.terms.push(capTermLength(term));
    if (sink.starts) {
      sink.starts.push(sink.start);
      sink.ends!.push(sink.end);
    }
  }

  private hangul(run: string, afterForeign: boolean, mode: AnalysisMode, sink: Sink): void {
    const o = this.options;
    const stem =
      o.koStripRounds > 0
        ? stripKoreanSuffix(run, { allowEmpty: afterForeign, rounds: o.koStripRounds, shortStems: o.koShortStems })
        : run;
    if (stem.length === 0) return;
    if (o.koStopWords && (KOREAN_STOP_WORDS.has(stem) || KOREAN_STOP_WORDS.has(run))) return;
    if (mode === "query" && o.queryQuestionWords && isKoreanQuestionWord(stem, run)) return;

    if (o.koUnigrams) for (const ch of stem) this.push(sink, ch);
    const gramSource = o.koBigramsFrom === "eojeol" ? run : stem;
    if (o.koBigrams && gramSource.length >= 2) {
      for (let i = 0; i + 2 <= gramSource.length; i++) this.push(sink, gramSource.slice(i, i + 2));
    } else if (!o.koUnigrams) {
      this.push(sink, gramSource);
    }
    // A stem that is not already one of the terms above (two-syllable stems are their own bigram).
    const alreadyThere = (o.koBigrams && gramSource === stem && stem.length <= 2) || (!o.koBigrams && !o.koUnigrams);
    if (stem.length >= o.koStemMinLength && !alreadyThere) this.push(sink, stem);
  }

  private cjk(run: string, sink: Sink): void {
    const chars = [...run];
    for (let i = 0; i < chars.length; i++) {
      this.push(sink, chars[i]!);
      if (i + 1 < chars.length) this.push(sink, chars[i]! + chars[i + 1]!);
    }
  }

  private other(word: string, ascii: boolean, mode: AnalysisMode, sink: Sink): void {
    const run = !ascii && this.options.foldDiacritics && LATIN_DIACRITIC_RE.test(word) ? foldLatin(word) : word;
    if (this.enStop.has(run)) return;
    if (mode === "query" && this.options.queryQuestionWords && ENGLISH_QUESTION_WORDS.has(run)) return;
    const term = this.options.enStem && (ascii || ASCII_WORD_RE.test(run)) ? stemEnglish(run) : run;
    this.push(sink, term);
  }
}

function isKoreanQuestionWord(stem: string, run: string): boolean {
  if (KOREAN_QUESTION_WORDS.has(stem) || KOREAN_QUESTION_WORDS.has(run)) return true;
  // 몇 + counter: 몇년, 몇명, 몇개, 몇번째, 몇골 …
  return stem.length <= 4 && stem.startsWith("몇");
}
