/** Small text helpers shared by the ingestion stages (extractors, normalize, sentences, chunk). */

/**
 * A list-item / enumeration marker at the start of a line:
 * bullets (- * + • ◦ ▪ ● ○ ■ □ ▶ ※ · ㆍ …), "1." "1)" "(1)" "a." "가." "(가)" "①" "㉠" "Ⅰ.".
 */
export const LIST_MARKER =
  /^\s*(?:[-*+•◦▪▫●○◎■□◆◇▶▷►▸※·ㆍ∙]\s+|(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4}|[가-하]|[Ⅰ-Ⅻ])[.)]\s+|\(\s*(?:\d{1,3}|[a-zA-Z]|[가-하]|[ivxIVX]{1,4})\s*\)\s*|[①-⑳㉠-㉭㈀-㈍⑴-⒇]\s*)/;

/** True when the line starts with a list / enumeration marker. */
export function startsWithListMarker(line: string): boolean {
  return LIST_MARKER.test(line);
}

/** Korean legal / document structure starts: 제1조, 제2장, 제3관, 【보통약관】, [별표 1]. */
export const STRUCTURE_START = /^\s*(?:제\s?\d+\s?(?:조|항|관|장|절|편|호)(?:의\s?\d+)?[\s(]|【|\[별표|\[부칙|부\s?칙\s*$)/;

export function isHangulSyllable(cp: number): boolean {
  return cp >= 0xac00 && cp <= 0xd7a3;
}

/** Wide characters (Hangul, CJK, full-width forms) count as 2 columns. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x20000 && cp <= 0x3fffd)
    ) {
      w += 2;
    } else {
      w += 1;
    }
  }
  return w;
}

/** The last path segment of a display path or upload name (handles / and \). */
export function baseName(source: string): string {
  return source.split(/[\\/]/).filter(Boolean).pop() ?? source;
}

/** File name without directories and without its last extension. */
export function stemOf(source: string): string {
  const base = baseName(source).trim();
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}

const GENERIC_NAMES =
  /^(?:untitled|noname|unnamed|document|doc|file|text|new text document|new document|temp|tmp|draft|upload|download|output|input|data|새\s*텍스트\s*문서|새\s*문서|제목\s*없음|문서\d*|무제)(?:[\s_-]*(?:\(\d+\)|\d+))?$/i;

/** True for file names that say nothing about the content ("untitled.txt", "새 텍스트 문서 (2).txt", "a3f9c1e2.txt"). */
export function isGenericFileName(stem: string): boolean {
  const s = stem.trim();
  if (s.length === 0) return true;
  if (GENERIC_NAMES.test(s)) return true;
  if (/^[0-9a-f-]{8,}$/i.test(s) && /\d/.test(s)) return true; // hashes, uuids
  if (/^\d+$/.test(s)) return true;
  return false;
}

/** Title from a file name: the stem, or undefined when it is empty. */
export function titleFromFileName(source: string): string | undefined {
  const stem = stemOf(source).trim();
  return stem.length ? stem : undefined;
}

/** Collapse all whitespace runs to a single space and trim. */
export function collapseWhitespace(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/**
 * A metadata title (PDF Title, HTML <title>) when it looks like a real title; undefined for file names
 * ("report.pdf", "glxz-10k_20211231.htm"), placeholders ("Untitled", "제목 없음"), identifiers
 * ("insurance_biz") and paths. "Microsoft Word - " prefixes are removed.
 */
export function sensibleTitle(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  let t = collapseWhitespace(raw.replace(/[\u0000-\u001f\ufffd]/g, " "));
  t = t.replace(/^Microsoft (?:Word|PowerPoint|Excel) - /i, "");
  t = t.replace(/(?:\s*-)?\s+(?:복사본|사본|copy)(?:\s*\d+)?$/i, "").trim(); // "report 복사본", "plan - copy"
  if (t.length < 2 || t.length > 300) return undefined;
  const fileExt = /\.(?:pdf|docx?|hwpx?|pptx?|xlsx?|txt|rtf|odt|indd|ai|psd|dvi|tex|html?|md)$/i;
  if (fileExt.test(t)) {
    // A file name as title: keep its stem only when it reads like words ("2024_리그규정.pdf").
    t = t.replace(fileExt, "").trim();
    if (!/[^\x00-\x7f]/.test(t) && !/\s/.test(t)) return undefined;
    if (t.length < 2) return undefined;
  }
  if (/^(?:untitled|no title|title|제목 없음|제목없음|무제|document\d*|slide \d+|presentation\d*|print|none|null|unknown)$/i.test(t)) return undefined;
  if (!/[\p{L}\p{N}]/u.test(t)) return undefined; // only punctuation / symbols
  if (/^[A-Za-z0-9_.-]+$/.test(t) && /_/.test(t)) return undefined; // identifiers like insurance_biz, report_v2_final
  if (/^[A-Za-z]:\\|^\//.test(t)) return undefined; // paths
  return t;
}
