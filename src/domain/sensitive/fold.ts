/**
 * The text the detector reads: a folded copy of the input in which every form of a digit,
 * letter, separator or space that a person reads as the plain ASCII one becomes that one
 * ("８５０３１５－２３４５６７８" → "850315-2345678"), with a map from each folded UTF-16 unit back
 * to the code point of the original it came from. Detection runs on the folded copy; masking
 * and index keys use the mapped spans, so they always cover the right characters of the
 * ORIGINAL text, even where a fold changes the length ("𝟎" is two units, "0" one).
 *
 * Folding is NFKC per code point (fullwidth and mathematical digits and letters, ideographic
 * and no-break spaces, fullwidth punctuation), plus what NFKC leaves alone but readers take as
 * separators: every dash and minus sign (U+2010-2015, U+2043, U+2212, small and fullwidth
 * hyphen-minus) becomes "-", the soft hyphen too, and zero-width spaces and joiners become " ".
 * "Other numbers" and symbols (superscripts, circled digits, fractions, "㏠") are left alone:
 * they are footnote marks and list numbers, and folding "²" after a phone number would glue a
 * digit onto it.
 */

export interface FoldedText {
  /** The folded text the detector reads. */
  text: string;
  /** Original offsets of a span [start, end) of `text`: the code points it came from. */
  toOriginal(start: number, end: number): { start: number; end: number };
}

const DASHES = /[\u00AD\u2010-\u2015\u2043\u2212\uFE58\uFE63\uFF0D]/g;
const INVISIBLE = /^[\u200B-\u200D\u2060\uFEFF]$/;
const KEEP = /^[\p{No}\p{So}]$/u;
// Text made only of ASCII and Hangul syllables has nothing to fold (most Korean text).
const NOTHING_TO_FOLD = /^[\x00-\x7F\uAC00-\uD7A3]*$/;

const cache = new Map<string, string>();

/** The folded form of one code point. */
function foldCodePoint(ch: string): string {
  let f = cache.get(ch);
  if (f !== undefined) return f;
  if (INVISIBLE.test(ch)) f = " ";
  else if (KEEP.test(ch)) f = ch;
  else f = ch.normalize("NFKC").replace(DASHES, "-");
  if (f.length === 0) f = ch;
  if (cache.size < 10_000) cache.set(ch, f);
  return f;
}

export function foldForDetection(text: string): FoldedText {
  if (NOTHING_TO_FOLD.test(text)) return { text, toOriginal: (start, end) => ({ start, end }) };
  let out = "";
  // For folded unit i: the original code point it came from is [from[i], to[i]).
  const from: number[] = [];
  const to: number[] = [];
  let at = 0;
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    const f = code < 0x80 || (code >= 0xac00 && code <= 0xd7a3) ? ch : foldCodePoint(ch);
    out += f;
    for (let k = 0; k < f.length; k++) {
      from.push(at);
      to.push(at + ch.length);
    }
    at += ch.length;
  }
  return {
    text: out,
    toOriginal(start, end) {
      if (end <= start) {
        const o = start < from.length ? from[start]! : text.length;
        return { start: o, end: o };
      }
      return { start: from[start]!, end: to[end - 1]! };
    },
  };
}
