/**
 * Plain-text extractor. Blank lines separate blocks; runs of list-item lines become "list" blocks;
 * form feeds (\f, as written by pdftotext and some exporters) separate pages.
 * Hard-wrapped paragraphs keep their newlines here; normalize.ts reflows them.
 * Title: the file name, unless it is generic ("untitled.txt", "새 텍스트 문서.txt"); then the first
 * line when it is short and stands alone.
 */
import { decodeText } from "../decode-text.ts";
import { isGenericFileName, startsWithListMarker, stemOf, titleFromFileName } from "../text-utils.ts";
import type { Block, DetectedType, ExtractedDocument, ExtractedPage, Extractor, SourceFile } from "../types.ts";

/** Split one page of plain text into paragraph / list blocks. */
export function textToBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const groups = text.split(/\n[ \t\u00a0\u3000]*\n/);
  for (const group of groups) {
    const lines = group.split("\n").filter((l) => l.trim().length > 0);
    if (lines.length === 0) continue;
    // Split the group into runs: list items (with their indented continuation lines) vs other lines.
    let run: string[] = [];
    let runIsList = false;
    const flush = () => {
      if (run.length) blocks.push({ kind: runIsList ? "list" : "paragraph", text: run.join("\n") });
      run = [];
    };
    for (const line of lines) {
      const isItem = startsWithListMarker(line);
      const isContinuation = runIsList && !isItem && /^\s{2,}\S/.test(line);
      if (isItem || isContinuation) {
        if (!runIsList) flush();
        runIsList = true;
        run.push(line.replace(/\s+$/, ""));
      } else {
        if (runIsList) flush();
        runIsList = false;
        run.push(line);
      }
    }
    flush();
  }
  return blocks;
}

/** First line as a title: short, standalone, not a sentence, not a list item. */
function firstLineTitle(pages: ExtractedPage[]): string | undefined {
  const first = pages[0]?.blocks[0];
  if (!first || first.kind !== "paragraph" || first.text.includes("\n")) return undefined;
  const line = first.text.trim();
  if (line.length === 0 || line.length > 100) return undefined;
  if (/[.!?。,;:]$/.test(line)) return undefined;
  const rest = pages.reduce((n, p) => n + p.blocks.length, 0);
  return rest > 1 ? line : undefined;
}

export function extractPlainText(text: string, source: string, mime = "text/plain"): ExtractedDocument {
  const normalized = text.replace(/\r\n?/g, "\n");
  const rawPages = normalized.split("\f");
  const pages: ExtractedPage[] = [];
  rawPages.forEach((pageText, i) => {
    const blocks = textToBlocks(pageText);
    if (blocks.length) pages.push({ page: i + 1, blocks });
  });
  const stem = stemOf(source);
  const title = isGenericFileName(stem) ? (firstLineTitle(pages) ?? titleFromFileName(source)) : titleFromFileName(source);
  return { mime, title, pages, warnings: [] };
}

export const textExtractor: Extractor = {
  kinds: ["text"],
  async extract(file: SourceFile, type: DetectedType): Promise<ExtractedDocument> {
    const { text } = decodeText(file.bytes);
    return extractPlainText(text, file.source, type.mime || "text/plain");
  },
};
