/**
 * PPTX extractor (jszip + slide XML): each slide is a page, in presentation order
 * (ppt/presentation.xml sldIdLst → relationships; file-name order as fallback).
 *
 * Per slide, shapes are read in z-order (the spTree order, group shapes recursively):
 *   - title / ctrTitle placeholders → heading (level 1)
 *   - body placeholders and text boxes → paragraphs; bulleted paragraphs (buChar/buAutoNum, or a body
 *     placeholder without buNone) → one list block with "- " items indented by level
 *   - tables (a:tbl in a graphicFrame) → Markdown tables (merged continuation cells left empty)
 *   - charts (c:chart in a graphicFrame) → the chart title as a caption and the chart's cached data
 *     (categories × series) as a Markdown table
 *   - pictures (p:pic) → the text OCR'd from them (ingest/ocr/embedded-images.ts), in their place
 *   - slide number / date / footer placeholders are skipped
 * Speaker notes (the notes slide's body placeholder) follow the slide's content as paragraphs, the
 * first one prefixed "Speaker notes: ".
 */
import { attr, isEl, kids, local, parseXml } from "./xml-dom.ts";
import type { Element } from "domhandler";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { markdownTable } from "./csv.ts";
import { coreTitle, openZip, zipLimitsFor, type SafeZip, type ZipLimits } from "./docx.ts";
import { readEmbeddedImages, type EmbeddedImageOptions } from "../ocr/embedded-images.ts";

export interface PptxExtractorConfig {
  /** Most slides read (default 2,000). */
  maxSlides?: number;
  /** Include speaker notes (default true). */
  notes?: boolean;
  zipLimits?: ZipLimits;
  /** OCR the pictures and put their text where they stand on the slide. Default on. */
  pictures?: false | Omit<EmbeddedImageOptions, "signal">;
}

/** Stands in a slide's blocks for a picture (its relationship id) until the pictures are OCR'd. */
const PICTURE_MARK = "\u0000picture:";

function kid(el: Element | undefined, name: string): Element | undefined {
  return el ? kids(el, name)[0] : undefined;
}
function descendants(el: Element, name: string, out: Element[] = []): Element[] {
  for (const c of el.children) {
    if (!isEl(c)) continue;
    if (local(c.name) === name) out.push(c);
    else descendants(c, name, out);
  }
  return out;
}
/** The relationship id of an element (r:id, whatever the prefix), not its plain `id`. */
function relId(el: Element): string | undefined {
  for (const [k, v] of Object.entries(el.attribs)) if (k.includes(":") && local(k) === "id") return v;
  return undefined;
}

/** Text of one a:p (runs, fields, line breaks, tabs). */
function paragraphText(p: Element): string {
  let out = "";
  const walk = (el: Element) => {
    for (const c of el.children) {
      if (!isEl(c)) continue;
      const n = local(c.name);
      if (n === "t") out += c.children.map((t) => (t.type === "text" ? t.data : "")).join("");
      else if (n === "br") out += "\n";
      else if (n === "tab") out += "\t";
      else if (n === "r" || n === "fld" || n === "smartTag" || n === "hlinkClick") walk(c);
    }
  };
  walk(p);
  return out.replace(/[ \t\u00a0]+/g, " ").replace(/ ?\n ?/g, "\n").trim();
}

interface Para {
  text: string;
  bullet: boolean;
  level: number;
}

function bodyParagraphs(txBody: Element, bodyPlaceholder: boolean): Para[] {
  const out: Para[] = [];
  for (const p of kids(txBody, "p")) {
    const text = paragraphText(p);
    if (!text) continue;
    const pPr = kid(p, "pPr");
    const level = Number(attr(pPr, "lvl") ?? "0") || 0;
    const explicit = pPr ? kids(pPr).some((c) => local(c.name) === "buChar" || local(c.name) === "buAutoNum") : false;
    const none = pPr ? kids(pPr).some((c) => local(c.name) === "buNone") : false;
    out.push({ text, bullet: explicit || (bodyPlaceholder && !none), level });
  }
  return out;
}

function parasToBlocks(paras: Para[]): Block[] {
  const blocks: Block[] = [];
  let list: string[] = [];
  const flush = () => {
    if (list.length) blocks.push({ kind: "list", text: list.join("\n") });
    list = [];
  };
  // A body placeholder with a single paragraph is prose, not a one-item list.
  const bullets = paras.filter((p) => p.bullet).length;
  for (const p of paras) {
    if (p.bullet && bullets > 1) {
      list.push(`${"  ".repeat(Math.min(p.level, 8))}- ${p.text.replace(/\n/g, " ")}`);
    } else {
      flush();
      blocks.push({ kind: "paragraph", text: p.text });
    }
  }
  flush();
  return blocks;
}

function tableBlock(tbl: Element): Block | undefined {
  const rows: string[][] = [];
  for (const tr of kids(tbl, "tr")) {
    const row: string[] = [];
    for (const tc of kids(tr, "tc")) {
      if (attr(tc, "hMerge") === "1" || attr(tc, "vMerge") === "1") {
        row.push("");
        continue;
      }
      const txBody = kid(tc, "txBody");
      row.push(txBody ? kids(txBody, "p").map(paragraphText).filter(Boolean).join(" ") : "");
    }
    rows.push(row);
  }
  const md = markdownTable(rows);
  return md ? { kind: "table", text: md } : undefined;
}

/** Text of the <c:v> values of a cache (strCache / numCache / strLit / numLit), by point index. */
function cachePoints(el: Element | undefined): string[] {
  const out: string[] = [];
  if (!el) return out;
  for (const pt of descendants(el, "pt")) {
    const idx = Number(attr(pt, "idx") ?? out.length);
    const v = kid(pt, "v");
    let text = v ? v.children.map((t) => (t.type === "text" ? t.data : "")).join("") : "";
    // Cached numbers carry binary noise ("4.4000000000000004").
    if (/^-?\d+\.\d{9,}$/.test(text)) text = String(Number(Number(text).toPrecision(12)));
    if (Number.isInteger(idx) && idx >= 0 && idx < 100_000) out[idx] = text;
  }
  return out;
}

/** A chart part (ppt/charts/chartN.xml) → its title as a caption and its cached data as a Markdown table. */
export function chartBlocks(xml: string): Block[] {
  const root = parseXml(xml);
  const chart = root ? kid(root, "chart") : undefined;
  if (!chart) return [];
  const blocks: Block[] = [];
  const title = kid(chart, "title");
  if (title) {
    const t = descendants(title, "p").map(paragraphText).filter(Boolean).join(" ");
    if (t) blocks.push({ kind: "caption", text: t });
  }
  const plot = kid(chart, "plotArea");
  const series = plot ? descendants(plot, "ser") : [];
  if (series.length === 0) return blocks;
  const names: string[] = [];
  let categories: string[] = [];
  const columns: string[][] = [];
  for (const [i, ser] of series.entries()) {
    names.push(cachePoints(kid(ser, "tx")).join(" ") || `Series ${i + 1}`);
    const cat = cachePoints(kid(ser, "cat") ?? kid(ser, "xVal"));
    if (cat.length > categories.length) categories = cat;
    columns.push(cachePoints(kid(ser, "val") ?? kid(ser, "yVal")));
  }
  const n = Math.max(categories.length, ...columns.map((c) => c.length));
  const rows: string[][] = [["", ...names]];
  for (let r = 0; r < Math.min(n, 10_000); r++) rows.push([categories[r] ?? String(r + 1), ...columns.map((c) => c[r] ?? "")]);
  const md = markdownTable(rows);
  if (md) blocks.push({ kind: "table", text: md });
  return blocks;
}

const SKIP_PLACEHOLDERS = new Set(["sldNum", "dt", "ftr", "hdr", "sldImg"]);

function shapeBlocks(tree: Element, out: Block[], charts: Map<string, Block[]>): void {
  for (const el of kids(tree)) {
    const n = local(el.name);
    if (n === "grpSp") {
      shapeBlocks(el, out, charts);
      continue;
    }
    if (n === "graphicFrame") {
      for (const tbl of descendants(el, "tbl")) {
        const b = tableBlock(tbl);
        if (b) out.push(b);
      }
      for (const c of descendants(el, "chart")) out.push(...(charts.get(relId(c) ?? "") ?? []));
      continue;
    }
    if (n === "AlternateContent") {
      const choice = kid(el, "Choice") ?? kid(el, "Fallback");
      if (choice) shapeBlocks(choice, out, charts);
      continue;
    }
    if (n === "pic") {
      const blip = descendants(el, "blip")[0];
      const id = blip ? (attr(blip, "r:embed") ?? attr(blip, "embed")) : undefined;
      if (id) out.push({ kind: "paragraph", text: PICTURE_MARK + id });
      continue;
    }
    if (n !== "sp") continue;
    const ph = kid(kid(kid(el, "nvSpPr"), "nvPr"), "ph");
    const phType = ph ? (attr(ph, "type") ?? "body") : undefined;
    if (phType && SKIP_PLACEHOLDERS.has(phType)) continue;
    const txBody = kid(el, "txBody");
    if (!txBody) continue;
    if (phType === "title" || phType === "ctrTitle") {
      const text = kids(txBody, "p").map(paragraphText).filter(Boolean).join(" ");
      if (text) out.push({ kind: "heading", level: 1, text });
      continue;
    }
    const bodyPlaceholder = phType === "body" || phType === "obj" || (ph !== undefined && attr(ph, "type") === undefined);
    out.push(...parasToBlocks(bodyParagraphs(txBody, bodyPlaceholder && phType !== "subTitle")));
  }
}

function resolveTarget(baseDir: string, target: string): string {
  if (target.startsWith("/")) return target.slice(1);
  const parts = `${baseDir}/${target}`.split("/");
  const out: string[] = [];
  for (const p of parts) {
    if (p === "..") out.pop();
    else if (p !== "." && p !== "") out.push(p);
  }
  return out.join("/");
}

/** Relationships of a part (internal targets resolved to archive paths). */
export async function rels(zip: SafeZip, part: string): Promise<Map<string, { target: string; type: string }>> {
  const dir = part.slice(0, part.lastIndexOf("/"));
  const file = `${dir}/_rels/${part.slice(part.lastIndexOf("/") + 1)}.rels`;
  const map = new Map<string, { target: string; type: string }>();
  if (!zip.has(file)) return map;
  const root = parseXml(await zip.text(file));
  if (!root) return map;
  for (const r of kids(root, "Relationship")) {
    const id = attr(r, "Id");
    const target = attr(r, "Target");
    if (id && target && attr(r, "TargetMode") !== "External") {
      map.set(id, { target: resolveTarget(dir, target), type: attr(r, "Type") ?? "" });
    }
  }
  return map;
}

async function slideOrder(zip: SafeZip): Promise<string[]> {
  const byNumber = zip.names
    .filter((n) => /^ppt\/slides\/slide\d+\.xml$/.test(n))
    .sort((a, b) => Number(/(\d+)\.xml$/.exec(a)![1]) - Number(/(\d+)\.xml$/.exec(b)![1]));
  if (!zip.has("ppt/presentation.xml")) return byNumber;
  try {
    const root = parseXml(await zip.text("ppt/presentation.xml"));
    const r = await rels(zip, "ppt/presentation.xml");
    const list = root ? kid(root, "sldIdLst") : undefined;
    const ordered = (list ? kids(list, "sldId") : [])
      .map((s) => r.get(relId(s) ?? "")?.target)
      .filter((t): t is string => !!t && zip.has(t));
    return ordered.length ? ordered : byNumber;
  } catch {
    return byNumber;
  }
}

export function createPptxExtractor(config: PptxExtractorConfig = {}): Extractor {
  const maxSlides = config.maxSlides ?? 2000;
  return {
    kinds: ["pptx"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const zip = await openZip(file.bytes, file.source, "PPTX", zipLimitsFor(options, config.zipLimits));
      const slides = await slideOrder(zip);
      if (slides.length === 0) {
        if (!zip.has("ppt/presentation.xml")) {
          throw new IngestError("corrupt_document", `${file.source}: not a PowerPoint presentation (ppt/presentation.xml is missing)`);
        }
      }
      const warnings: string[] = [];
      if (slides.length > maxSlides) warnings.push(`only the first ${maxSlides} of ${slides.length} slides were read`);
      const pages: ExtractedPage[] = [];
      const pictures: Uint8Array[] = [];
      const pictureOf = new Map<string, number>(); // archive path → index in `pictures`
      let failed = 0;
      for (const [i, part] of slides.slice(0, maxSlides).entries()) {
        if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
        const blocks: Block[] = [];
        try {
          const root = parseXml(await zip.text(part));
          const tree = root ? kid(kid(root, "cSld"), "spTree") : undefined;
          const slideRels = await rels(zip, part);
          const charts = new Map<string, Block[]>();
          for (const [id, r] of slideRels) {
            if (!r.type.endsWith("/chart") || !zip.has(r.target)) continue;
            try {
              charts.set(id, chartBlocks(await zip.text(r.target)));
            } catch (err) {
              if (err instanceof IngestError) throw err;
            }
          }
          if (tree) shapeBlocks(tree, blocks, charts);
          for (const b of blocks) {
            if (!b.text.startsWith(PICTURE_MARK)) continue;
            const target = slideRels.get(b.text.slice(PICTURE_MARK.length))?.target;
            if (config.pictures === false || !target || !zip.has(target)) {
              b.text = "";
              continue;
            }
            if (!pictureOf.has(target)) {
              pictureOf.set(target, pictures.length);
              pictures.push(await zip.bytes(target));
            }
            b.text = PICTURE_MARK + pictureOf.get(target);
          }
          if (config.notes !== false) {
            const notesPart = [...slideRels.values()].find((r) => r.type.endsWith("/notesSlide"))?.target;
            if (notesPart && zip.has(notesPart)) {
              const nroot = parseXml(await zip.text(notesPart));
              const ntree = nroot ? kid(kid(nroot, "cSld"), "spTree") : undefined;
              const notes: string[] = [];
              for (const sp of ntree ? descendants(ntree, "sp") : []) {
                const ph = kid(kid(kid(sp, "nvSpPr"), "nvPr"), "ph");
                if (!ph || attr(ph, "type") !== "body") continue;
                const txBody = kid(sp, "txBody");
                if (txBody) notes.push(...kids(txBody, "p").map(paragraphText).filter(Boolean));
              }
              notes.forEach((t, k) => blocks.push({ kind: "paragraph", text: k === 0 ? `Speaker notes: ${t}` : t }));
            }
          }
        } catch (err) {
          if (err instanceof IngestError && err.code === "zip_bomb") throw err;
          failed++;
          warnings.push(`slide ${i + 1} could not be read (${(err as Error)?.message ?? err})`);
          continue;
        }
        if (blocks.length) pages.push({ page: i + 1, blocks });
      }
      // Pictures: OCR'd together (the engine's pool reads several at once), then put in place.
      const read = await readEmbeddedImages(pictures, { ...(config.pictures || {}), ...(options.signal ? { signal: options.signal } : {}) });
      warnings.push(...read.warnings);
      const placed = pages
        .map((page) => ({
          ...page,
          blocks: page.blocks.flatMap((b) =>
            b.text.startsWith(PICTURE_MARK) ? (read.texts[Number(b.text.slice(PICTURE_MARK.length))] ?? []).map((text) => ({ kind: "paragraph" as const, text })) : b.text ? [b] : [],
          ),
        }))
        .filter((page) => page.blocks.length > 0);
      if (slides.length && failed === Math.min(slides.length, maxSlides)) {
        throw new IngestError("corrupt_document", `${file.source}: no slide of this presentation could be read`);
      }
      const title = (await coreTitle(zip)) ?? placed[0]?.blocks.find((b) => b.kind === "heading")?.text ?? titleFromFileName(file.source);
      return { mime: type.mime, ...(title ? { title } : {}), pages: placed, warnings };
    },
  };
}

export const pptxExtractor: Extractor = createPptxExtractor();
