/**
 * Personal data in the full-text index. The index never holds the characters of a detected
 * value: ingestion blanks each span out of the text it analyses and indexes one opaque key per
 * value instead ("§" and 24 hex digits of SHA-256 over the value's digits, or over the
 * lower-cased e-mail address). A query's values become the same keys only for users who may see
 * personal data; for everyone else they are removed from the query before it is analysed or
 * embedded. So a search cannot confirm that a readable document holds a number the user sees
 * masked, not even by searching a fragment of it, while users with `view_sensitive` can still
 * find a document by a number. The query analyzer never produces "§", so a key cannot be typed.
 */
import { createHash } from "node:crypto";
import { detectSensitive, type SensitiveKind, type SensitiveSpan } from "./detect.ts";
import { foldForDetection } from "./fold.ts";

/** Prefix of key terms; the analyzer splits user text on it, so only this module makes keys. */
export const SENSITIVE_KEY_PREFIX = "§";

/**
 * Context words that let the detector accept values that need context (bank accounts, RRNs
 * without a hyphen). A query has no surrounding text: "110-123-456789" alone should still be
 * recognised as the account number it is in the document.
 */
const QUERY_CONTEXT = "계좌 주민등록번호 ";

/** The key of a value: its folded form decides, so "０１０-１２３４-５６７８" and "01012345678" share one. */
export function sensitiveKey(kind: SensitiveKind, value: string): string {
  const folded = foldForDetection(value).text;
  const normalized = kind === "email" ? folded.toLowerCase() : folded.replace(/\D/g, "");
  return SENSITIVE_KEY_PREFIX + createHash("sha256").update(normalized).digest("hex").slice(0, 24);
}

export interface SplitText {
  /** The text with every detected value replaced by spaces (offsets kept). */
  text: string;
  /** One key per detected value, in text order. */
  keys: string[];
}

function split(text: string, spans: readonly SensitiveSpan[], offset = 0): SplitText {
  let out = "";
  let at = 0;
  const keys: string[] = [];
  for (const s of spans) {
    const start = s.start - offset;
    const end = s.end - offset;
    if (start < at || end <= 0) continue;
    keys.push(sensitiveKey(s.kind, text.slice(start, end)));
    out += text.slice(at, start) + " ".repeat(end - start);
    at = end;
  }
  return { text: out + text.slice(at), keys };
}

/** For indexing: the text without its personal data, and the values' keys. */
export function splitSensitiveForIndex(text: string): SplitText {
  return split(text, detectSensitive(text));
}

/** For a query: the same, detecting values as if the query stood next to context words. */
export function splitSensitiveForQuery(query: string): SplitText {
  const spans = detectSensitive(QUERY_CONTEXT + query).filter((s) => s.start >= QUERY_CONTEXT.length);
  return split(query, spans, QUERY_CONTEXT.length);
}
