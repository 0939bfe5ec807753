/**
 * English (and other Latin-script) word handling: stop words and Porter stemming.
 */
import { stemmer } from "stemmer";

/** Lucene's classic English stop set (used by EnglishAnalyzer). */
export const LUCENE_STOP_WORDS: ReadonlySet<string> = new Set([
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
  "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
  "to", "was", "will", "with",
]);

/**
 * Function words removed on both sides: Lucene's set plus pronouns, auxiliaries/modals,
 * wh-words and a few fillers. Prepositions and quantifiers that carry meaning in questions
 * ("before", "after", "during", "most", "first", "only") are kept; the full Snowball/NLTK list
 * (SNOWBALL_STOP_WORDS) measured worse (bench/analysis-experiment.ts).
 */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  ...LUCENE_STOP_WORDS,
  "i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "its", "them",
  "am", "been", "being", "have", "has", "had", "do", "does", "did", "were",
  "would", "should", "could", "can", "may", "might", "must", "shall",
  "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
  "s", "t", "also", "from", "so", "than", "too", "very", "just",
  // apostrophes are dropped inside words ("don't" → "dont")
  "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant", "wont", "im", "ive",
  "youre", "theyre", "thats", "theres",
]);

/** A fuller list close to Snowball's/NLTK's (an experiment option). */
export const SNOWBALL_STOP_WORDS: ReadonlySet<string> = new Set([
  ...ENGLISH_STOP_WORDS,
  "myself", "ours", "ourselves", "yours", "yourself", "yourselves", "himself", "hers", "herself",
  "itself", "theirs", "themselves", "having", "doing", "ought", "because", "until", "while",
  "about", "against", "between", "through", "during", "before", "after", "above", "below", "up",
  "down", "out", "off", "over", "under", "again", "further", "once", "here", "both", "each",
  "few", "more", "most", "other", "some", "nor", "only", "own", "same", "don", "now", "those",
  "any", "all", "yet", "via", "per", "upon", "within", "without", "whether",
]);

/** Question words; in ENGLISH_STOP_WORDS already, listed for callers that keep them in passages. */
export const ENGLISH_QUESTION_WORDS: ReadonlySet<string> = new Set([
  "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
]);

const stemCache = new Map<string, string>();
const STEM_CACHE_LIMIT = 100_000;

/** Porter stem of a lowercase ASCII word (other words are returned unchanged). */
export function stemEnglish(word: string): string {
  if (!/^[a-z]+$/.test(word) || word.length < 3) return word;
  const cached = stemCache.get(word);
  if (cached !== undefined) return cached;
  const s = stemmer(word);
  if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
  stemCache.set(word, s);
  return s;
}
