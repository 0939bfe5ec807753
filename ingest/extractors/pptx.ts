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
import { chartBlocks, descendants, kid, paragraphText, relId, tableBlock } from "./drawingml.ts";
import { coreTitle, openZip, rels, zipLimitsFor, type SafeZip, type ZipLimits } from "./ooxml-package.ts";
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
