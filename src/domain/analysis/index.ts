/**
 * Lexical analysis for BM25. LanceDB's FTS has no usable Korean tokenizer here, so we analyze
 * text ourselves into space-separated terms, store them in the `analyzed` column and index that
 * column with LanceDB's plain whitespace tokenizer:
 *
 *   await table.createIndex("analyzed", { config: lancedb.Index.fts({ baseTokenizer: "whitespace",
 *     lowercase: false, stem: false, removeStopWords: false, asciiFolding: false, withPosition: false }) });
 *
 * and search it with a MatchQuery (a plain OR of the terms; no query-string parsing):
 *
 *   table.query().fullTextSearch(new lancedb.MatchQuery(analyzeForQuery(q), "analyzed"))
 *     .where(filter).select([..., "_score"]).limit(k)
 *
 * Design (measured in bench/analysis-experiment.ts; details in analyzer.ts):
 * - NFKC + lowercase; apostrophes and thousands separators removed inside words.
 * - Korean: particles and endings (조사/어미) are stripped from each eojeol and the stem is
 *   indexed as syllable bigrams ("평양축전에" → 평양 양축 축전); function words are dropped.
 * - English/Latin: diacritics folded, function words dropped, Porter stems; digits kept;
 *   "e-mail" also as "email". Han/kana: character unigrams + bigrams.
 * - Queries also drop question words (무엇, 누구, 몇 …; what, who …).
 * - `analyzeForIndex` writes each term twice: LanceDB's BM25 has k1 = 1.2 built in, and doubling
 *   every term ranks exactly like k1 = 0.6, which suits short passages better.
 * - No term exceeds 39 UTF-8 bytes (LanceDB's FTS silently drops tokens of 40+ bytes).
 */
import { Analyzer, type Token } from "./analyzer.ts";

export { Analyzer, DEFAULT_ANALYZER_OPTIONS, MAX_TERM_BYTES, type AnalyzerOptions, type AnalysisMode, type Token } from "./analyzer.ts";

export type Lang = "ko" | "en";

const analyzer = new Analyzer();

/**
 * "ko" when the text is mostly Hangul (used to answer in the question's language). A Hangul
 * syllable carries about as much as 2-3 Latin letters, so the text is "ko" when
 * 2.5 × (Hangul characters) ≥ (Latin letters): "BTS의 멤버는?" is ko, "What does 김치 mean?"
 * is en. Text with no Hangul (including digits/symbols only, or empty) is "en".
 */
export function detectLanguage(text: string): Lang {
  let hangul = 0;
  let latin = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0xac00 && c <= 0xd7a3) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f)) hangul++;
    else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0x24f)) latin++;
  }
  return hangul > 0 && hangul * 2.5 >= latin ? "ko" : "en";
}

/** Terms for indexing a passage (title/headings/text), space-joined, for the `analyzed` column. */
export function analyzeForIndex(text: string): string {
  return analyzer.indexString(text);
}

/** Terms for a query, space-joined; drops question words/stop words. Empty string when nothing is searchable. */
export function analyzeForQuery(text: string): string {
  return analyzer.queryString(text);
}

/** The distinct query terms in order of first appearance (for overlap scoring by the extractive answerer). */
export function queryTerms(text: string): string[] {
  return [...new Set(analyzer.terms(text, "query"))];
}

/** The passage's terms in text order, repeats included (`analyzeForIndex` writes this list twice, see `indexRepeat`). */
export function passageTerms(text: string): string[] {
  return analyzer.terms(text, "index");
}

/** Passage terms with the offsets of the words they came from (to locate matches for answer extraction). */
export function passageTokens(text: string): Token[] {
  return analyzer.tokens(text, "index");
}

/** Query terms with offsets into the query text. */
export function queryTokens(text: string): Token[] {
  return analyzer.tokens(text, "query");
}
