/**
 * HWPX extractor (OWPML: a zip with Contents/section*.xml), with the zip-bomb checks of openZip.
 *
 * Sections in spine order (Contents/content.hpf), else numeric file order. Per section, each top-level
 * <hp:p> is a paragraph whose text is the <hp:t> content of its runs (<hp:tab/> → tab,
 * <hp:lineBreak/> → newline, non-breaking / fixed-width spaces → space); styles named "개요 N" /
 * "Outline N" in Contents/header.xml make short paragraphs headings. Objects inside runs follow the
 * paragraph: <hp:tbl> → a Markdown table (cells placed by <hp:cellAddr>), sub-lists of footnotes,
 * endnotes and text boxes → paragraphs; page headers/footers are skipped. Pictures (<hp:pic>, whose
 * <hc:img binaryItemIDRef> names a BinData item of content.hpf's manifest) are OCR'd and their text
 * stands where they stand (pictures.ts).
 */
import { attr, isEl, kids, local, parseXml } from "./xml-dom.ts";
import type { Element } from "domhandler";
import { sensibleTitle, titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { openZip, zipLimitsFor, type SafeZip, type ZipLimits } from "./ooxml-package.ts";
import { pictureMark, placePictures, type PictureOptions } from "./pictures.ts";
import { markdownTable } from "./tables.ts";

export interface HwpxExtractorConfig {
  zipLimits?: ZipLimits;
  /** OCR the pictures and put their text where they stand. Default on. */
  pictures?: PictureOptions;
}


function tText(t: Element): string {
  let s = "";
  for (const c of t.children) {
    if (c.type === "text") s += c.data;
    else if (isEl(c)) {
      const n = local(c.name);
      if (n === "tab") s += "\t";
      else if (n === "lineBreak") s += "\n";
      else if (n === "nbSpace" || n === "fwSpace") s += " ";
      else if (n === "hyphen") s += "-";
      else s += tText(c);
    }
  }
  return s;
}

function clean(s: string): string {
  return s
    .replace(/[ \t\u00a0]+/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .join("\n")
    .trim();
}

const SKIP = new Set(["header", "footer", "masterPage", "secPr", "colPr", "linesegarray", "pageNum", "pageHiding", "fieldBegin", "fieldEnd", "bookmark"]);

class Walker {
  /** binaryItemIDRef of each picture met, in document order (the marks' indexes). */
  readonly pictures: string[] = [];
  constructor(
    private readonly headingStyles: Map<string, number>,
    private readonly readPictures: boolean,
  ) {}

  paragraphs(container: Element, out: Block[]): void {
    for (const p of kids(container, "p")) this.paragraph(p, out);
  }

  private paragraph(p: Element, out: Block[]): void {
    let text = "";
    for (const run of kids(p, "run")) for (const t of kids(run, "t")) text += tText(t);
    text = clean(text);
    if (text) {
      const level = this.headingStyles.get(attr(p, "styleIDRef") ?? "");
      if (level && text.length <= 80 && !text.includes("\n")) out.push({ kind: "heading", level, text });
      else out.push({ kind: "paragraph", text });
    }
    for (const run of kids(p, "run")) this.objects(run, out);
  }

  private objects(el: Element, out: Block[]): void {
    for (const c of kids(el)) {
      const n = local(c.name);
      if (n === "t" || SKIP.has(n)) continue;
      if (n === "tbl") this.table(c, out);
      else if (n === "pic") {
        const ref = this.readPictures ? attr(findDescendant(c, "img"), "binaryItemIDRef") : undefined;
        if (ref) {
          out.push({ kind: "paragraph", text: pictureMark(this.pictures.length) });
          this.pictures.push(ref);
        }
        this.objects(c, out); // a caption
      } else if (n === "subList") this.paragraphs(c, out);
      else if (n === "p") this.paragraph(c, out);
      else this.objects(c, out);
    }
  }

  private table(tbl: Element, out: Block[]): void {
    const cells: Array<{ row: number; col: number; text: string }> = [];
    let r = 0;
    for (const tr of kids(tbl, "tr")) {
      let c = 0;
      for (const tc of kids(tr, "tc")) {
        const addr = kids(tc, "cellAddr")[0];
        const row = Number(attr(addr, "rowAddr") ?? r);
        const col = Number(attr(addr, "colAddr") ?? c);
        const blocks: Block[] = [];
        for (const sub of kids(tc, "subList")) this.paragraphs(sub, blocks);
        cells.push({ row: Number.isFinite(row) ? row : r, col: Number.isFinite(col) ? col : c, text: blocks.map((b) => b.text.replace(/\n/g, " ")).join(" ") });
        c++;
      }
      r++;
    }
    if (cells.length === 0) return;
    const rows = Math.max(...cells.map((x) => x.row + 1));
    const cols = Math.max(...cells.map((x) => x.col + 1));
    if (rows * cols > 1_000_000) return;
    const grid = Array.from({ length: rows }, () => Array<string>(cols).fill(""));
    for (const x of cells) grid[x.row]![x.col] = x.text;
    const nonEmpty = grid.filter((row) => row.some((v) => v.trim()));
    const usedCols = Array.from({ length: cols }, (_, k) => k).filter((k) => nonEmpty.some((row) => row[k]!.trim()));
    if (nonEmpty.length <= 1 || usedCols.length <= 1) {
      for (const row of nonEmpty) for (const v of row) if (v.trim()) out.push({ kind: "paragraph", text: v });
      return;
    }
    const md = markdownTable(grid);
    if (md) out.push({ kind: "table", text: md });
  }
}

function findDescendant(el: Element, name: string): Element | undefined {
  for (const c of kids(el)) {
    if (local(c.name) === name) return c;
    const d = findDescendant(c, name);
    if (d) return d;
  }
  return undefined;
}

/** content.hpf's manifest: item id → archive path (BinData/image1.png). */
async function manifestItems(zip: SafeZip): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  const hpf = zip.names.find((n) => /^Contents\/content\.hpf$/i.test(n));
  if (!hpf) return items;
  try {
    const root = parseXml(await zip.text(hpf));
    const walk = (el: Element) => {
      for (const c of kids(el)) {
        if (local(c.name) === "item" && attr(c, "id") && attr(c, "href")) items.set(attr(c, "id")!, attr(c, "href")!);
        walk(c);
      }
    };
    if (root) walk(root);
  } catch (err) {
    if (err instanceof IngestError) throw err;
  }
  return items;
}

async function sectionOrder(zip: SafeZip): Promise<string[]> {
  const byNumber = zip.names
    .filter((n) => /^Contents\/section\d+\.xml$/i.test(n))
    .sort((a, b) => Number(/(\d+)\.xml$/i.exec(a)![1]) - Number(/(\d+)\.xml$/i.exec(b)![1]));
  const hpf = zip.names.find((n) => /^Contents\/content\.hpf$/i.test(n));
  if (!hpf) return byNumber;
  try {
    const root = parseXml(await zip.text(hpf));
    if (!root) return byNumber;
    const items = new Map<string, string>();
    const spine: string[] = [];
    const walk = (el: Element) => {
      for (const c of kids(el)) {
        const n = local(c.name);
        if (n === "item" && attr(c, "id") && attr(c, "href")) items.set(attr(c, "id")!, attr(c, "href")!);
        if (n === "itemref" && attr(c, "idref")) spine.push(attr(c, "idref")!);
        walk(c);
      }
    };
    walk(root);
    const ordered = spine
      .map((id) => items.get(id))
      .filter((h): h is string => !!h)
      .map((h) => (zip.has(h) ? h : `Contents/${h}`))
      .filter((h) => zip.has(h) && /section\d+\.xml$/i.test(h));
    return ordered.length ? ordered : byNumber;
  } catch {
    return byNumber;
  }
}

async function headingStyles(zip: SafeZip): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  const header = zip.names.find((n) => /^Contents\/header\.xml$/i.test(n));
  if (!header) return map;
  try {
    const root = parseXml(await zip.text(header));
    const walk = (el: Element) => {
      for (const c of kids(el)) {
        if (local(c.name) === "style") {
          const m = /^(?:개요|Outline)\s*(\d+)$/i.exec((attr(c, "name") ?? "").trim()) ?? /^Outline\s*(\d+)$/i.exec((attr(c, "engName") ?? "").trim());
          const id = attr(c, "id");
          if (m && id !== undefined) map.set(id, Math.min(6, Math.max(1, Number(m[1]))));
        } else walk(c);
      }
    };
    if (root) walk(root);
  } catch {
    /* no heading styles */
  }
  return map;
}

async function hwpxTitle(zip: SafeZip): Promise<string | undefined> {
  const hpf = zip.names.find((n) => /^Contents\/content\.hpf$/i.test(n));
  if (!hpf) return undefined;
  try {
    const m = /<(?:opf:)?title[^>]*>([^<]*)<\/(?:opf:)?title>/.exec(await zip.text(hpf));
    return m ? sensibleTitle(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function createHwpxExtractor(config: HwpxExtractorConfig = {}): Extractor {
  return {
    kinds: ["hwpx"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const zip = await openZip(file.bytes, file.source, "HWPX", zipLimitsFor(options, config.zipLimits));
      const sections = await sectionOrder(zip);
      if (sections.length === 0) throw new IngestError("corrupt_document", `${file.source}: not an HWPX document (no Contents/section*.xml)`);
      const walker = new Walker(await headingStyles(zip), config.pictures !== false);
      const blocks: Block[] = [];
      const warnings: string[] = [];
      let readable = 0;
      for (const s of sections) {
        if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
        try {
          const root = parseXml(await zip.text(s));
          if (!root) throw new Error("empty XML");
          walker.paragraphs(root, blocks);
          readable++;
        } catch (err) {
          if (err instanceof IngestError && err.code === "zip_bomb") throw err;
          warnings.push(`${s} could not be read (${(err as Error)?.message ?? err})`);
        }
      }
      if (readable === 0) throw new IngestError("corrupt_document", `${file.source}: no section of this HWPX document could be read`);
      const pictures: Uint8Array[] = [];
      if (walker.pictures.length) {
        const items = await manifestItems(zip);
        for (const ref of walker.pictures) {
          const href = items.get(ref);
          const part = [href, href && `Contents/${href}`].find((h): h is string => !!h && zip.has(h)) ?? zip.names.find((n) => n.startsWith(`BinData/${ref}.`));
          pictures.push(part ? await zip.bytes(part) : new Uint8Array());
        }
      }
      const pages = await placePictures(blocks.length ? [{ page: 1, blocks }] : [], pictures, config.pictures, options.signal, warnings);
      const title = (await hwpxTitle(zip)) ?? titleFromFileName(file.source);
      return { mime: type.mime || "application/hwp+zip", ...(title ? { title } : {}), pages, warnings };
    },
  };
}

export const hwpxExtractor: Extractor = createHwpxExtractor();
