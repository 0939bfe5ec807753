/**
 * HTML extractor (cheerio). Boilerplate is dropped (script, style, noscript, template, nav, aside,
 * form controls, page-level header/footer, ARIA navigation/banner/contentinfo); when the page has
 * <main> / role=main / <article>, only that content is kept. Blocks: h1–h6 headings, paragraphs,
 * lists (one block per top-level list, nested items indented), data tables as Markdown table text
 * (layout tables are walked as ordinary content), <pre> as code, figcaption/caption as captions.
 * Title: <title>, else og:title, else the first h1, else the file name.
 * Encoding: BOM, then <meta charset> / http-equiv Content-Type (if it decodes cleanly), then detection.
 */
import { load } from "cheerio";
import type { AnyNode, Element } from "domhandler";
import { decodeText } from "../decode-text.ts";
import { collapseWhitespace, sensibleTitle, titleFromFileName } from "../text-utils.ts";
import type { Block, DetectedType, ExtractedDocument, Extractor, SourceFile } from "../types.ts";

const DROP_SELECTOR = [
  "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "map",
  "form", "button", "select", "input", "textarea", "label", "nav", "aside", "dialog", "menu",
  "[hidden]", "[aria-hidden='true']", "[role='navigation']", "[role='banner']", "[role='contentinfo']",
  "[role='search']", "[role='complementary']", "[role='dialog']", "[role='menu']",
].join(", ");

const BLOCK_TAGS = new Set([
  "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt",
  "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
  "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot",
  "th", "thead", "tr", "ul", "caption", "listing", "xmp", "plaintext", "search",
]);

const BR = "\u2028"; // placeholder for <br> inside inline text, survives whitespace collapsing

/** Charset declared in the first bytes of an HTML document (meta charset or http-equiv). */
export function sniffHtmlCharset(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 4096)).toString("latin1");
  const m =
    /<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)/i.exec(head) ??
    /<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_:.+-]+)/i.exec(head);
  return m?.[1];
}

function isElement(node: AnyNode): node is Element {
  return node.type === "tag" || node.type === "script" || node.type === "style";
}

function collapseInline(s: string): string {
  return s
    .replace(/[ \t\n\r\f\v\u00a0]+/g, " ")
    .split(BR)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join("\n")
    .trim();
}

/** Text of an element as inline content (br → newline), excluding nested lists when asked. */
function inlineText(node: AnyNode, skip?: (el: Element) => boolean): string {
  const parts: string[] = [];
  const walk = (n: AnyNode) => {
    if (n.type === "text") {
      parts.push((n as unknown as { data: string }).data);
      return;
    }
    if (!isElement(n)) return;
    if (skip?.(n)) return;
    if (n.name === "br") {
      parts.push(BR);
      return;
    }
    const block = BLOCK_TAGS.has(n.name);
    if (block) parts.push(BR);
    for (const c of n.children) walk(c);
    if (block) parts.push(BR);
    if (n.name === "td" || n.name === "th") parts.push(" ");
  };
  walk(node);
  return collapseInline(parts.join(""));
}

function escapeCell(s: string): string {
  return s.replace(/\n+/g, " ").replace(/\|/g, "\\|").trim();
}

/** Rows of a table (direct rows, or rows of thead/tbody/tfoot), not rows of nested tables. */
function tableRows(table: Element): Element[] {
  const rows: Element[] = [];
  for (const child of table.children) {
    if (!isElement(child)) continue;
    if (child.name === "tr") rows.push(child);
    else if (child.name === "thead" || child.name === "tbody" || child.name === "tfoot") {
      for (const r of child.children) if (isElement(r) && r.name === "tr") rows.push(r);
    }
  }
  return rows;
}

function containsTag(node: Element, names: Set<string>): boolean {
  for (const c of node.children) {
    if (!isElement(c)) continue;
    if (names.has(c.name)) return true;
    if (containsTag(c, names)) return true;
  }
  return false;
}

const LAYOUT_MARKERS = new Set(["table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre"]);

class BlockBuilder {
  readonly blocks: Block[] = [];
  private inline: string[] = [];

  text(s: string) {
    this.inline.push(s);
  }

  br() {
    this.inline.push(BR);
  }

  flush(kind: "paragraph" | "caption" = "paragraph") {
    if (this.inline.length === 0) return;
    const raw = this.inline.join("");
    this.inline = [];
    // <br><br> separates paragraphs in much hand-written HTML.
    for (const part of raw.split(/\u2028[ \t\n\r\f\u00a0]*\u2028[\s\u2028]*/)) {
      const text = collapseInline(part);
      if (text) this.blocks.push({ kind, text });
    }
  }

  push(block: Block) {
    this.flush();
    if (block.text.trim()) this.blocks.push(block);
  }

  visit(node: AnyNode): void {
    if (node.type === "text") {
      this.text((node as unknown as { data: string }).data);
      return;
    }
    if (!isElement(node)) return;
    const name = node.name;
    if (name === "br") return this.br();
    if (/^h[1-6]$/.test(name)) {
      const text = collapseWhitespace(inlineText(node));
      return this.push({ kind: "heading", level: Number(name[1]), text });
    }
    if (name === "ul" || name === "ol" || name === "menu") {
      this.flush();
      const lines: string[] = [];
      this.collectList(node, 0, lines);
      if (lines.length) this.push({ kind: "list", text: lines.join("\n") });
      return;
    }
    if (name === "dl") {
      this.flush();
      const lines: string[] = [];
      for (const c of node.children) {
        if (!isElement(c)) continue;
        const t = collapseWhitespace(inlineText(c));
        if (!t) continue;
        if (c.name === "dt") lines.push(`- ${t}`);
        else if (c.name === "dd") lines.push(`  ${t}`);
      }
      if (lines.length) this.push({ kind: "list", text: lines.join("\n") });
      return;
    }
    if (name === "table") return this.table(node);
    if (name === "pre" || name === "listing" || name === "xmp" || name === "plaintext") {
      const raw = this.rawText(node).replace(/^\n/, "").replace(/\s+$/, "");
      return this.push({ kind: "code", text: raw });
    }
    if (name === "figcaption" || name === "caption") {
      const text = inlineText(node);
      return this.push({ kind: "caption", text });
    }
    if (name === "hr") return this.flush();
    if (name === "img") {
      return; // alt texts are mostly noise ("logo", "spacer")
    }
    const block = BLOCK_TAGS.has(name);
    if (block) this.flush();
    for (const c of node.children) this.visit(c);
    if (block) this.flush();
  }

  private rawText(node: AnyNode): string {
    if (node.type === "text") return (node as unknown as { data: string }).data;
    if (!isElement(node)) return "";
    if (node.name === "br") return "\n";
    return node.children.map((c) => this.rawText(c)).join("");
  }

  private collectList(list: Element, depth: number, out: string[]) {
    let n = 0;
    const ordered = list.name === "ol";
    const items = list.children.filter(isElement);
    for (const li of items) {
      if (li.name === "ul" || li.name === "ol") {
        // invalid but common: a nested list directly inside a list
        this.collectList(li, depth + 1, out);
        continue;
      }
      const text = inlineText(li, (el) => el.name === "ul" || el.name === "ol").replace(/\n+/g, " ").trim();
      n++;
      if (text) out.push(`${"  ".repeat(depth)}${ordered ? `${n}.` : "-"} ${text}`);
      const nested = (el: Element) => {
        for (const c of el.children) {
          if (!isElement(c)) continue;
          if (c.name === "ul" || c.name === "ol") this.collectList(c, depth + 1, out);
          else nested(c);
        }
      };
      nested(li);
    }
  }

  private table(table: Element) {
    this.flush();
    const rows = tableRows(table);
    const cellsOf = (tr: Element) => tr.children.filter((c): c is Element => isElement(c) && (c.name === "td" || c.name === "th"));
    // Layout tables (nested tables, headings or long prose in cells) are walked as ordinary content.
    const layout =
      containsTag(table, LAYOUT_MARKERS) ||
      rows.some((r) => cellsOf(r).some((c) => inlineText(c).length > 600));
    if (layout) {
      for (const r of rows) for (const c of cellsOf(r)) {
        for (const child of c.children) this.visit(child);
        this.flush();
      }
      return;
    }
    const captionEl = table.children.find((c): c is Element => isElement(c) && c.name === "caption");
    if (captionEl) this.push({ kind: "caption", text: inlineText(captionEl) });
    const grid: string[][] = [];
    for (const r of rows) {
      const row: string[] = [];
      for (const c of cellsOf(r)) {
        const text = escapeCell(inlineText(c));
        const span = Math.min(Math.max(Number.parseInt(c.attribs.colspan ?? "1", 10) || 1, 1), 50);
        row.push(text);
        for (let k = 1; k < span; k++) row.push("");
      }
      if (row.some((c) => c.length > 0)) grid.push(row);
    }
    if (grid.length === 0) return;
    // Drop columns that are empty in every row (spacer cells are common in generated HTML).
    const width = Math.max(...grid.map((r) => r.length));
    const keep: number[] = [];
    for (let col = 0; col < width; col++) if (grid.some((r) => (r[col] ?? "").length > 0)) keep.push(col);
    const rowsText = grid.map((r) => keep.map((col) => r[col] ?? ""));
    if (keep.length === 1 || rowsText.length === 1) {
      // Not really a table: one column or one row reads better as text.
      const text = rowsText.map((r) => r.filter(Boolean).join(" ")).join("\n");
      this.push({ kind: "paragraph", text });
      return;
    }
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    const out = [line(rowsText[0]!), line(keep.map(() => "---")), ...rowsText.slice(1).map(line)];
    this.push({ kind: "table", text: out.join("\n") });
  }
}

export function extractHtmlText(html: string, source: string, mime = "text/html"): ExtractedDocument {
  const $ = load(html);
  const title =
    sensibleTitle($("head > title").first().text()) ??
    sensibleTitle($("title").first().text()) ??
    sensibleTitle($('meta[property="og:title"]').attr("content"));

  $(DROP_SELECTOR).remove();
  // Page-level header/footer are boilerplate; a header inside an article usually holds its title.
  $("footer").remove();
  $("header").each((_i, el) => {
    if ($(el).parents("article, main, [role='main']").length === 0) $(el).remove();
  });

  const body = $("body").get(0) ?? $.root().get(0);
  let roots: AnyNode[] = [];
  const main = $("main, [role='main']").first();
  if (main.length) roots = [main.get(0)!];
  else {
    const articles = $("article").filter((_i, el) => $(el).parents("article").length === 0);
    if (articles.length) roots = articles.get();
  }
  // Guard against a token <main>/<article> that holds a small part of the page.
  if (roots.length && body) {
    const bodyLen = $(body).text().replace(/\s+/g, "").length;
    const rootLen = roots.reduce((n, r) => n + $(r).text().replace(/\s+/g, "").length, 0);
    if (bodyLen > 0 && rootLen / bodyLen < 0.25) roots = [];
  }
  if (roots.length === 0 && body) roots = [body];

  const builder = new BlockBuilder();
  for (const r of roots) {
    builder.visit(r);
    builder.flush();
  }
  const blocks = builder.blocks;
  const firstH1 = blocks.find((b) => b.kind === "heading" && b.level === 1)?.text;
  return {
    mime,
    title: title ?? firstH1 ?? titleFromFileName(source),
    pages: blocks.length ? [{ page: 1, blocks }] : [],
    warnings: [],
  };
}

export const htmlExtractor: Extractor = {
  kinds: ["html"],
  async extract(file: SourceFile, type: DetectedType): Promise<ExtractedDocument> {
    const { text } = decodeText(file.bytes, { declaredEncoding: sniffHtmlCharset(file.bytes) });
    return extractHtmlText(text, file.source, type.mime || "text/html");
  },
};
