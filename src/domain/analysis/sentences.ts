/**
 * Sentence splitter for Korean + English text.
 *
 * Boundaries:
 *   - after . ! ? … 。 ！ ？ (and runs of them, plus closing quotes/brackets) followed by whitespace
 *     or the end of the text;
 *   - Korean sentence endings glued to the next sentence ("했다.그러나") are split;
 *   - every line break, except a line that continues an English sentence (next line starts with a
 *     lower-case letter and the previous line has no sentence-final punctuation): so Korean lines
 *     without a final period, list items and table rows are sentences of their own;
 *   - blank lines always.
 * Not boundaries: abbreviations (Mr. Dr. e.g. i.e. U.S. etc. …), single-letter initials, decimals
 * (3.14), list markers at the start of a line (1. 가. a. IV.), dots inside URLs / file names,
 * punctuation inside brackets or quotes that close within 200 characters, and a period followed by a
 * lower-case word.
 * Lossless: the sentences, concatenated, contain every non-whitespace character of the input in order.
 */
import { startsWithListMarker } from "../../../ingest/text-utils.ts";

const TERMINATORS = new Set([".", "!", "?", "…", "。", "！", "？", "‼", "⁇", "⁈", "⁉"]);
const CLOSERS = new Set(['"', "'", "”", "’", ")", "]", "}", "」", "』", "》", "〉", "】", "〕", "）", "］"]);
const BRACKETS: Record<string, string> = {
  "(": ")", "[": "]", "{": "}", "“": "”", "‘": "’", "「": "」", "『": "』", "《": "》", "〈": "〉", "【": "】", "〔": "〕", "（": "）", "［": "］",
};
const MAX_BRACKET_SPAN = 200;

const ABBREVIATIONS = new Set([
  "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "v", "etc", "cf", "al", "fig", "figs",
  "no", "nos", "vol", "vols", "pp", "p", "ed", "eds", "inc", "ltd", "co", "corp", "dept", "univ", "approx", "est",
  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "gen", "col", "lt", "sgt",
  "capt", "rev", "hon", "gov", "sen", "rep", "pres", "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "ph.d",
  "b.a", "m.a", "m.d", "b.sc", "m.sc", "e.u", "viz", "ca", "resp", "incl", "excl", "min", "max", "avg", "eq",
  "sec", "ch", "chap", "art", "para", "ref", "refs", "tel", "ext",
]);
/** Abbreviations that usually end a sentence when the next word is capitalised. */
const SENTENCE_FINAL_ABBREVIATIONS = new Set(["etc", "al", "inc", "ltd", "co", "corp"]);
/** Korean enumeration letters used as list markers ("가." "나." …). */
const KOREAN_ENUM = new Set([..."가나다라마바사아자차카타파하"]);
/** Syllables that end Korean sentences; a period after them splits even without a following space. */
const KOREAN_FINAL = new Set([..."다요죠까니음함임됨네군라오"]);

function isHangul(ch: string | undefined): boolean {
  if (!ch) return false;
  const cp = ch.codePointAt(0)!;
  return cp >= 0xac00 && cp <= 0xd7a3;
}

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /\s/.test(ch);
}

/** Mark positions inside short, balanced bracket/quote spans (no sentence split inside). */
function protectedMask(s: string): Uint8Array {
  const mask = new Uint8Array(s.length);
  const stack: { close: string; at: number }[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const top = stack[stack.length - 1];
    if (top && ch === top.close) {
      stack.pop();
      if (i - top.at <= MAX_BRACKET_SPAN) mask.fill(1, top.at + 1, i);
      continue;
    }
    const close = BRACKETS[ch];
    if (close) {
      stack.push({ close, at: i });
      if (stack.length > 32) stack.shift();
    }
  }
  return mask;
}

/** The token before position i (back to whitespace or an opening bracket). */
function tokenBefore(s: string, i: number): { token: string; start: number } {
  let k = i;
  while (k > 0 && !isSpace(s[k - 1]) && !(s[k - 1]! in BRACKETS) && s[k - 1] !== '"' && s[k - 1] !== "'") k--;
  return { token: s.slice(k, i), start: k };
}

function nextNonSpace(s: string, i: number): string | undefined {
  let k = i;
  while (k < s.length && isSpace(s[k])) k++;
  return s[k];
}

function isListMarkerToken(token: string): boolean {
  return /^\d{1,3}$/.test(token) || /^[a-zA-Z]$/.test(token) || /^[ivxIVX]{1,4}$/.test(token) || (token.length === 1 && KOREAN_ENUM.has(token)) || /^\d{1,3}(?:\.\d{1,3})+$/.test(token);
}

/** Split one line-level segment (no newlines) at sentence boundaries. */
function splitSegment(s: string): string[] {
  const out: string[] = [];
  const mask = protectedMask(s);
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (!TERMINATORS.has(ch)) continue;
    let j = i;
    while (j + 1 < s.length && TERMINATORS.has(s[j + 1]!)) j++;
    const runEnd = j;
    while (j + 1 < s.length && CLOSERS.has(s[j + 1]!)) j++;
    // Inside brackets/quotes: only a terminator that ends the bracketed text counts ("(… note.) Next").
    if (mask[i] && mask[j]) {
      i = j;
      continue;
    }
    const next = s[j + 1];
    let boundary: boolean;
    if (next === undefined) {
      boundary = true;
    } else if (!isSpace(next)) {
      // Glued Korean sentences: "했다.그러나", "할까?그러면"
      boundary = j === runEnd && isHangul(next) && KOREAN_FINAL.has(s[i - 1] ?? "") && runEnd === i;
    } else {
      boundary = true;
      const following = nextNonSpace(s, j + 1);
      if (ch === "." && runEnd === i) {
        const { token, start: tokStart } = tokenBefore(s, i);
        const lower = token.toLowerCase();
        if (ABBREVIATIONS.has(lower)) {
          boundary = SENTENCE_FINAL_ABBREVIATIONS.has(lower) && following !== undefined && /[A-Z가-힣]/.test(following);
        } else if (/^(?:[A-Za-z]\.)+[A-Za-z]$/.test(token)) {
          boundary = false; // initialisms: U.S. e.g. a.m.
        } else if (/^[A-Z]$/.test(token) && tokStart > start) {
          boundary = false; // initial: "J. Smith"
        } else if (isListMarkerToken(token) && s.slice(start, tokStart).trim() === "") {
          boundary = false; // list marker at the start: "1. 계약", "가. 계약자"
        }
      }
      if (boundary && following !== undefined && /[a-z]/.test(following) && ch !== "。") boundary = false;
    }
    if (boundary) {
      const piece = s.slice(start, j + 1).trim();
      if (piece) out.push(piece);
      start = j + 1;
    }
    i = j;
  }
  const rest = s.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

const LINE_END_TERMINAL = /[.!?…。！？:;]["'”’)\]」』]*$/;

/** Split text into sentences (see module comment). */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let segment = "";
  for (const raw of lines) {
    const line = raw.trim();
    if (!line) {
      if (segment) out.push(...splitSegment(segment));
      segment = "";
      continue;
    }
    if (segment && /^[a-z]/.test(line) && !startsWithListMarker(line) && !LINE_END_TERMINAL.test(segment)) {
      segment = /[A-Za-z]-$/.test(segment) ? `${segment}${line}` : `${segment} ${line}`;
      continue;
    }
    if (segment) out.push(...splitSegment(segment));
    segment = line;
  }
  if (segment) out.push(...splitSegment(segment));
  return out;
}
