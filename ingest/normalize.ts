/**
 * Stage 3: normalize extracted text.
 *   - Unicode NFC (decomposed Hangul jamo from PDFs / macOS file names become syllables);
 *   - line separators → \n; NBSP, ideographic and other Unicode spaces, tabs → space
 *     (code blocks keep tabs); zero-width characters, soft hyphens and control characters removed;
 *   - runs of spaces collapsed, lines trimmed (code keeps its indentation), blank-line runs collapsed;
 *   - paragraphs of PDFs (always) and of hard-wrapped plain text are reflowed: lines broken
 *     mid-sentence are joined (English "hyphen-\nated" words re-joined), while paragraph breaks, list
 *     items and Korean structure starts (제1조, ①, 가.) start new paragraph blocks;
 *   - empty blocks and pages dropped; headings become single lines.
 * Pure: returns a new document, never mutates its input.
 */
import { displayWidth, startsWithListMarker, STRUCTURE_START } from "./text-utils.ts";
import type { Block, ExtractedDocument, ExtractedPage } from "./types.ts";

const ZERO_WIDTH = /[\u200b\u2060\ufeff\u00ad\u180e]/g;
const SPACES = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
// C0 (except \t \n) and C1 controls, DEL, and non-characters.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffe\uffff]/g;

/** Character-level cleanup shared by every block kind. */
export function normalizeChars(text: string, keepTabs = false): string {
  let t = text.normalize("NFC");
  t = t.replace(/\r\n?|\u2028|\u2029|\u0085/g, "\n");
  t = t.replace(/\f/g, "\n");
  t = t.replace(ZERO_WIDTH, "");
  t = t.replace(SPACES, " ");
  if (!keepTabs) t = t.replace(/\t/g, " ");
  t = t.replace(CONTROLS, "");
  return t;
}

/** Collapse spaces, trim lines (lists keep their nesting indentation), collapse blank-line runs. */
function tidyLines(text: string, keepIndent = false): string {
  return text
    .split("\n")
    .map((l) => {
      if (!keepIndent) return l.replace(/ {2,}/g, " ").trim();
      const indent = /^ */.exec(l)![0];
      return indent + l.slice(indent.length).replace(/ {2,}/g, " ").trimEnd();
    })
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

const STRONG_TERMINAL = /[.!?。！？…]["'”’)\]」』]*$|(?:다|요|니다|음|함|임|됨)$/;

const BULLET_START = /^[-*+•◦▪▫●○◎■□◆◇▶▷►▸※·ㆍ∙]\s*/;

function isStructuralStart(line: string): boolean {
  return startsWithListMarker(line) || STRUCTURE_START.test(line);
}

const KOREAN_HEADING = /^(?:제\s?\d+\s?(편|장|절|관)(?:\s|$)|【[^】]{1,30}】$)/;

/**
 * Korean document-structure headings in reflowed text: "제1장 총칙", "제2관 보험금의 지급",
 * "【보통약관】" standing alone on a short line. Level: 【】/편 1, 장 2, 절/관 3.
 */
export function koreanHeadingLevel(text: string): number | undefined {
  if (text.length > 50 || text.includes("\n") || /[.。!?다요]$/.test(text)) return undefined;
  const m = KOREAN_HEADING.exec(text);
  if (!m) return undefined;
  if (!m[1] || m[1] === "편") return 1;
  return m[1] === "장" ? 2 : 3;
}

/** A wide line-width percentile of the lines (used as "full line" width). */
function typicalWidth(lines: string[]): number {
  return widthPercentile(lines.map(displayWidth));
}

function widthPercentile(widths: number[]): number {
  const sorted = [...widths].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.8))]!;
}

/** Join two lines of one paragraph: English hyphenation is undone, otherwise a space. */
function joinLines(prev: string, next: string): string {
  if (/[A-Za-z]-$/.test(prev) && /^[a-z]/.test(next) && !/\s-$/.test(prev)) {
    return prev.slice(0, -1) + next;
  }
  return `${prev} ${next}`;
}

/**
 * Reflow the lines of one paragraph block into one or more paragraphs.
 * `fullWidth` is the display width of a full line in this layout (0 = estimate from the lines).
 */
export function reflowParagraph(text: string, fullWidth = 0): string[] {
  const rawLines = text.split("\n");
  const paragraphs: string[] = [];
  let current = "";
  let prevLine = "";
  const width = fullWidth || typicalWidth(rawLines.filter((l) => l.trim()));
  for (const raw of rawLines) {
    const line = raw.trim();
    if (!line) {
      if (current) paragraphs.push(current);
      current = "";
      prevLine = "";
      continue;
    }
    if (!current) {
      current = line;
      prevLine = line;
      continue;
    }
    // A line that ends well before the right margin ends its paragraph (or table cell, or title),
    // unless it visibly continues (trailing comma, hyphen, opening bracket).
    const prevShort = width > 0 && displayWidth(prevLine) < width * 0.75;
    const continues = /[,，、(\[{‘“-]$/.test(prevLine) && !STRONG_TERMINAL.test(prevLine);
    // Bullets always start a new item; numbering / 제N조 only after a finished line (a line may wrap
    // right before "제3조(의료기관)에 …" or "1. …" inside a sentence).
    const prevEnded = prevShort || STRONG_TERMINAL.test(prevLine) || /[:：]$/.test(prevLine);
    const breakHere = BULLET_START.test(line) || (isStructuralStart(line) && prevEnded) || (prevShort && !continues);
    if (breakHere) {
      paragraphs.push(current);
      current = line;
    } else {
      current = joinLines(current, line);
    }
    prevLine = line;
  }
  if (current) paragraphs.push(current);
  return paragraphs;
}

/**
 * Plain text hard-wrapped at a fixed column (e-mails, Project Gutenberg, fixed-width exports):
 * returns the wrap width when most lines that do not end a paragraph end near the same column,
 * judged over all paragraphs of the document; undefined otherwise. Field lists
 * ("정의: …\n예시: …") and poems are not hard-wrapped and keep their line breaks.
 */
export function hardWrapWidth(paragraphs: string[]): number | undefined {
  const inner: number[] = []; // widths of lines that are not the last line of their paragraph
  const all: number[] = [];
  for (const p of paragraphs) {
    const lines = p.split("\n").map((l) => l.trim()).filter(Boolean);
    const widths = lines.map(displayWidth);
    all.push(...widths);
    inner.push(...widths.slice(0, -1));
  }
  if (inner.length < 3) return undefined;
  const width = widthPercentile(all);
  if (width < 40 || width > 200) return undefined;
  const full = inner.filter((w) => w >= width * 0.8 && w <= width * 1.1).length;
  return full / inner.length >= 0.7 ? width : undefined;
}

/** Does one plain-text paragraph look hard-wrapped? */
export function looksHardWrapped(text: string): boolean {
  return hardWrapWidth([text]) !== undefined;
}

/** `wrapWidth`: full line width for reflowing (PDF page width, or plain-text wrap column); 0 = no reflow. */
function normalizeBlock(block: Block, mode: "pdf" | "plain" | "other", wrapWidth: number): Block[] {
  if (block.kind === "code") {
    const text = normalizeChars(block.text, true)
      .split("\n")
      .map((l) => l.replace(/\s+$/, ""))
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .replace(/^\n+|\n+$/g, "");
    return text.trim() ? [{ kind: "code", text }] : [];
  }
  const text = tidyLines(normalizeChars(block.text), block.kind === "list").replace(/^\n+/, "");
  if (!text.trim()) return [];
  if (block.kind === "heading") {
    const level = Math.min(6, Math.max(1, block.level ?? 1));
    return [{ kind: "heading", level, text: text.replace(/\s*\n\s*/g, " ") }];
  }
  if (block.kind === "paragraph" && (mode === "pdf" || (mode === "plain" && wrapWidth > 0))) {
    return reflowParagraph(text, wrapWidth).map((t): Block => {
      const level = koreanHeadingLevel(t);
      return level ? { kind: "heading", level, text: t } : { kind: "paragraph", text: t };
    });
  }
  if (block.kind === "paragraph" || block.kind === "caption") {
    // Keep deliberate line breaks, but undo English hyphenation at line ends.
    return [{ kind: block.kind, text: text.replace(/([A-Za-z])-\n([a-z])/g, "$1$2") }];
  }
  return [{ ...block, text }];
}

function modeOf(mime: string): "pdf" | "plain" | "other" {
  if (mime === "application/pdf") return "pdf";
  if (mime === "text/plain") return "plain";
  return "other";
}

export function normalizeDocument(doc: ExtractedDocument): ExtractedDocument {
  const mode = modeOf(doc.mime);
  const pages: ExtractedPage[] = [];
  const tidyParagraph = (b: Block) => tidyLines(normalizeChars(b.text));
  const plainWrap =
    mode === "plain" ? (hardWrapWidth(doc.pages.flatMap((p) => p.blocks.filter((b) => b.kind === "paragraph").map(tidyParagraph))) ?? 0) : 0;
  for (const page of doc.pages) {
    // For PDFs, the full line width is measured over the whole page, not one block.
    const pageWidth =
      mode === "pdf"
        ? typicalWidth(
            page.blocks
              .filter((b) => b.kind === "paragraph")
              .flatMap((b) => normalizeChars(b.text).split("\n"))
              .map((l) => l.replace(/ {2,}/g, " ").trim())
              .filter(Boolean),
          )
        : plainWrap;
    const blocks = page.blocks.flatMap((b) => normalizeBlock(b, mode, pageWidth));
    if (blocks.length) pages.push({ ...page, blocks });
  }
  const title = doc.title !== undefined ? tidyLines(normalizeChars(doc.title)).replace(/\s*\n\s*/g, " ") || undefined : undefined;
  return { ...doc, title, pages, warnings: [...doc.warnings] };
}
