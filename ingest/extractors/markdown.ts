/**
 * Markdown extractor: a small line-based parser for the CommonMark / GFM subset that matters for
 * retrieval. Blocks: ATX and setext headings, paragraphs (soft breaks joined with a space), lists
 * (one block per list, one line per item, nesting kept as indentation), GFM tables (one "table" block
 * of Markdown text), fenced and indented code, block quotes (parsed recursively).
 * Inline markup is reduced to its text: links → link text, images → alt text, emphasis / code spans
 * unwrapped, inline HTML tags removed.
 * Title: front-matter `title`, else the first H1, else the file name.
 */
import { decodeText } from "../decode-text.ts";
import { titleFromFileName } from "../text-utils.ts";
import type { Block, DetectedType, ExtractedDocument, Extractor, SourceFile } from "../types.ts";

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const TABLE_DELIM = /^ {0,3}\|?[ \t]*:?-{1,}:?[ \t]*(?:\|[ \t]*:?-{1,}:?[ \t]*)*\|?[ \t]*$/;
const LINK_DEF = /^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$/;
const HTML_COMMENT_START = /^ {0,3}<!--/;

/** Reduce inline Markdown to plain text. */
export function stripInlineMarkdown(s: string): string {
  // Protect backslash escapes and code spans first: their content is literal.
  const codes: string[] = [];
  let t = s.replace(/\\([\\`*_{}[\]()#+\-.!|>~<])/g, (_m, ch: string) => {
    codes.push(ch);
    return `\u0000${codes.length - 1}\u0000`;
  });
  t = t.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_m, _f: string, code: string) => {
    codes.push(code.trim());
    return `\u0000${codes.length - 1}\u0000`;
  });
  t = t.replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1"); // images → alt
  t = t.replace(/!\[([^\]]*)\]\[[^\]]*\]/g, "$1");
  t = t.replace(/\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+"[^"]*")?\)/g, "$1"); // [text](url "title")
  t = t.replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1"); // [text][ref]
  t = t.replace(/<((?:https?|mailto|ftp):[^>\s]+)>/gi, "$1"); // autolinks
  t = t.replace(/<br\s*\/?>/gi, " ");
  t = t.replace(/<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g, ""); // inline HTML tags
  t = t.replace(/<!--[\s\S]*?-->/g, "");
  t = t.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, "$2");
  t = t.replace(/(^|[^\w*])\*(?=\S)([^*]*?\S)\*(?!\w)/g, "$1$2");
  t = t.replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, "$1$2");
  t = t.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "$1");
  t = t.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => codes[Number(i)] ?? "");
  return t;
}

function isTableRow(line: string): boolean {
  return line.includes("|");
}

function cleanTableLine(line: string): string {
  let t = line.trim();
  if (!t.startsWith("|")) t = `| ${t}`;
  if (!t.endsWith("|") || t.endsWith("\\|")) t = `${t} |`;
  if (TABLE_DELIM.test(t)) return t.replace(/[ \t]+/g, "");
  // Strip inline markup inside cells, but keep the pipes (and escaped pipes) intact.
  const cells = t
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => stripInlineMarkdown(c.replace(/\\\|/g, "\u0001")).replace(/\u0001/g, "\\|").trim());
  return `| ${cells.join(" | ")} |`;
}

function parseFrontMatter(lines: string[]): { title?: string; end: number } {
  const open = lines[0]?.trim();
  if (open !== "---" && open !== "+++") return { end: 0 };
  const close = open === "---" ? /^(---|\.\.\.)\s*$/ : /^\+\+\+\s*$/;
  for (let i = 1; i < Math.min(lines.length, 500); i++) {
    if (close.test(lines[i]!)) {
      let title: string | undefined;
      for (const l of lines.slice(1, i)) {
        const m = /^title\s*[:=]\s*(.+?)\s*$/i.exec(l);
        if (m) {
          title = m[1]!.replace(/^(["'])(.*)\1$/, "$2").trim() || undefined;
          break;
        }
      }
      return { title, end: i + 1 };
    }
  }
  return { end: 0 };
}

interface ParseState {
  firstH1?: string;
}

function parseBlocks(lines: string[], state: ParseState): Block[] {
  const blocks: Block[] = [];
  let para: string[] = [];
  const flushPara = () => {
    if (para.length) {
      const text = stripInlineMarkdown(para.map((l) => l.trim()).join(" ")).replace(/[ \t]{2,}/g, " ").trim();
      if (text) blocks.push({ kind: "paragraph", text });
    }
    para = [];
  };
  const heading = (level: number, raw: string) => {
    const text = stripInlineMarkdown(raw).replace(/[ \t]{2,}/g, " ").trim();
    if (!text) return;
    if (level === 1 && state.firstH1 === undefined) state.firstH1 = text;
    blocks.push({ kind: "heading", level, text });
  };
  /** Does this line start a new block (so it cannot be a lazy paragraph continuation)? */
  const startsBlock = (line: string) =>
    ATX.test(line) || FENCE.test(line) || HR.test(line) || QUOTE.test(line) || LIST_ITEM.test(line) || HTML_COMMENT_START.test(line);

  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "") {
      flushPara();
      i++;
      continue;
    }
    // Setext heading underline (only directly after paragraph text).
    if (para.length && SETEXT.test(line)) {
      const level = line.trim().startsWith("=") ? 1 : 2;
      const raw = para.map((l) => l.trim()).join(" ");
      para = [];
      heading(level, raw);
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence && !(fence[2]!.startsWith("`") && fence[3]!.includes("`"))) {
      flushPara();
      const marker = fence[2]!;
      const indent = fence[1]!.length;
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const l = lines[i]!;
        const close = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}[ \\t]*$`);
        if (close.test(l)) {
          i++;
          break;
        }
        body.push(indent ? l.replace(new RegExp(`^ {0,${indent}}`), "") : l);
        i++;
      }
      const text = body.join("\n").replace(/^\n+|\s+$/g, "");
      if (text.trim()) blocks.push({ kind: "code", text });
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      flushPara();
      heading(atx[1]!.length, atx[2] ?? "");
      i++;
      continue;
    }
    if (HR.test(line)) {
      flushPara();
      i++;
      continue;
    }
    if (HTML_COMMENT_START.test(line)) {
      flushPara();
      while (i < lines.length && !lines[i]!.includes("-->")) i++;
      i++;
      continue;
    }
    if (LINK_DEF.test(line) && para.length === 0) {
      i++;
      continue;
    }
    // GFM table: a row with pipes followed by a delimiter row.
    if (isTableRow(line) && i + 1 < lines.length && TABLE_DELIM.test(lines[i + 1]!) && lines[i + 1]!.includes("-") && lines[i + 1]!.includes("|")) {
      flushPara();
      const rows = [cleanTableLine(line), cleanTableLine(lines[i + 1]!)];
      i += 2;
      while (i < lines.length && lines[i]!.trim() !== "" && isTableRow(lines[i]!)) {
        rows.push(cleanTableLine(lines[i]!));
        i++;
      }
      blocks.push({ kind: "table", text: rows.join("\n") });
      continue;
    }
    const quote = QUOTE.exec(line);
    if (quote) {
      flushPara();
      const inner: string[] = [];
      while (i < lines.length) {
        const q = QUOTE.exec(lines[i]!);
        if (q) inner.push(q[1]!);
        else if (lines[i]!.trim() !== "" && inner.length && inner[inner.length - 1]!.trim() !== "" && !startsBlock(lines[i]!)) inner.push(lines[i]!); // lazy continuation
        else break;
        i++;
      }
      blocks.push(...parseBlocks(inner, state));
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item && (para.length === 0 || (item[3] ?? "").trim() !== "")) {
      flushPara();
      const items: string[] = [];
      const baseIndent = item[1]!.length;
      let current: { indent: number; marker: string; parts: string[] } | undefined;
      const pushItem = () => {
        if (!current) return;
        const text = stripInlineMarkdown(current.parts.join(" ").trim()).replace(/[ \t]{2,}/g, " ").trim();
        const depth = Math.max(0, Math.floor((current.indent - baseIndent) / 2));
        if (text) items.push(`${"  ".repeat(depth)}${current.marker} ${text}`);
        current = undefined;
      };
      const ordered = (marker: string) => /^\d/.test(marker);
      const listOrdered = ordered(item[2]!);
      let blankRun = 0;
      while (i < lines.length) {
        const l = lines[i]!;
        if (l.trim() === "") {
          blankRun++;
          i++;
          continue;
        }
        const li = LIST_ITEM.exec(l);
        if (li && !HR.test(l)) {
          // A top-level item of the other type (bullet vs ordered) starts a new list.
          if (li[1]!.length <= baseIndent && ordered(li[2]!) !== listOrdered) break;
          pushItem();
          const marker = /^\d/.test(li[2]!) ? li[2]!.replace(")", ".") : "-";
          current = { indent: li[1]!.length, marker, parts: [li[3] ?? ""] };
          blankRun = 0;
          i++;
          continue;
        }
        const indented = /^ {2,}|^\t/.test(l);
        if (blankRun > 0 && !indented) break; // list ended
        if (!indented && startsBlock(l)) break;
        if (FENCE.test(l.trim())) {
          // fenced code inside a list item: keep its lines as item text
          const fenceChar = l.trim()[0]!;
          current?.parts.push(l.trim());
          i++;
          while (i < lines.length && !lines[i]!.trim().startsWith(fenceChar.repeat(3))) {
            current?.parts.push(lines[i]!.trim());
            i++;
          }
          i++;
          continue;
        }
        current?.parts.push(l.trim());
        blankRun = 0;
        i++;
      }
      pushItem();
      if (items.length) blocks.push({ kind: "list", text: items.join("\n") });
      continue;
    }
    // Indented code block (not inside a paragraph).
    if (para.length === 0 && /^(?: {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^(?: {4}|\t)/.test(lines[i]!) || lines[i]!.trim() === "")) {
        body.push(lines[i]!.replace(/^(?: {4}|\t)/, ""));
        i++;
      }
      const text = body.join("\n").replace(/\s+$/, "");
      if (text.trim()) blocks.push({ kind: "code", text });
      continue;
    }
    para.push(line);
    i++;
  }
  flushPara();
  return blocks;
}

export function extractMarkdownText(text: string, source: string, mime = "text/markdown"): ExtractedDocument {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const fm = parseFrontMatter(lines);
  const state: ParseState = {};
  const blocks = parseBlocks(lines.slice(fm.end), state);
  const title = fm.title ?? state.firstH1 ?? titleFromFileName(source);
  return { mime, title, pages: blocks.length ? [{ page: 1, blocks }] : [], warnings: [] };
}

export const markdownExtractor: Extractor = {
  kinds: ["markdown"],
  async extract(file: SourceFile, type: DetectedType): Promise<ExtractedDocument> {
    const { text } = decodeText(file.bytes);
    return extractMarkdownText(text, file.source, type.mime || "text/markdown");
  },
};
