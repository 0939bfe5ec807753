/**
 * DOCX extractor: mammoth → HTML → the HTML extractor's block walk (headings, lists, tables as
 * Markdown tables, captions); charts' cached data (word/charts) follows as Markdown tables.
 * Pictures are OCR'd (ingest/ocr/embedded-images.ts) and their text stands where they stand. Title: docProps/core.xml <dc:title> when it is a real title, else the
 * HTML walk's (first h1), else the file name.
 * The zip guard and core properties are in ooxml-package.ts, charts in drawingml.ts.
 */
import mammoth from "mammoth";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { readEmbeddedImages, type EmbeddedImageOptions } from "../ocr/embedded-images.ts";
import { chartBlocks } from "./drawingml.ts";
import { extractHtmlText } from "./html.ts";
import { coreTitle, openZip, zipLimitsFor, type ZipLimits } from "./ooxml-package.ts";

// ---------------------------------------------------------------------------------------------
// DOCX

export interface DocxExtractorConfig {
  zipLimits?: ZipLimits;
  /** OCR the pictures (ingest/ocr/embedded-images.ts) and put their text where they stand. Default on. */
  pictures?: false | Omit<EmbeddedImageOptions, "signal">;
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const STYLE_MAP = [
  "p[style-name='Title'] => h1:fresh",
  "p[style-name='Subtitle'] => h2:fresh",
  "p[style-name='제목'] => h1:fresh",
  "p[style-name='부제'] => h2:fresh",
];

export function createDocxExtractor(config: DocxExtractorConfig = {}): Extractor {
  return {
    kinds: ["docx"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const zip = await openZip(file.bytes, file.source, "DOCX", zipLimitsFor(options, config.zipLimits));
      if (!zip.has("word/document.xml")) {
        throw new IngestError("corrupt_document", `${file.source}: not a Word document (word/document.xml is missing)`);
      }
      await zip.verifyAll();
      if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
      let html: string;
      const warnings: string[] = [];
      // Pictures are collected in document order and marked in the HTML; their OCR'd text replaces the marks.
      const pictures: Uint8Array[] = [];
      const convertImage = mammoth.images.imgElement(async (image) => {
        if (config.pictures === false) return { src: "" };
        pictures.push(await image.read());
        return { src: `kb-picture:${pictures.length - 1}` };
      });
      try {
        const res = await mammoth.convertToHtml(
          { buffer: Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength) },
          { styleMap: STYLE_MAP, includeDefaultStyleMap: true, convertImage },
        );
        html = res.value;
        const errors = res.messages.filter((m) => m.type === "error");
        if (errors.length) warnings.push(`DOCX conversion: ${errors.length} error(s), e.g. ${errors[0]!.message}`);
      } catch (err) {
        throw new IngestError("corrupt_document", `${file.source}: Word document could not be read (${(err as Error)?.message ?? err})`);
      }
      if (pictures.length) {
        const read = await readEmbeddedImages(pictures, { ...(config.pictures || {}), ...(options.signal ? { signal: options.signal } : {}) });
        warnings.push(...read.warnings);
        html = html.replace(/<img [^>]*src="kb-picture:(\d+)"[^>]*>/g, (_m, i: string) => (read.texts[Number(i)] ?? []).map((para) => escapeHtml(para).replace(/\n/g, "<br />")).join("</p><p>"));
      }
      const doc = extractHtmlText(`<html><body>${html}</body></html>`, file.source, type.mime);
      // Charts (word/charts/chartN.xml): mammoth skips them; their cached data follows the body.
      const charts = zip.names
        .filter((n) => /^word\/charts\/chart\d+\.xml$/.test(n))
        .sort((a, b) => Number(/(\d+)\.xml$/.exec(a)![1]) - Number(/(\d+)\.xml$/.exec(b)![1]));
      if (charts.length) {
        const extra = [];
        for (const c of charts) extra.push(...chartBlocks(await zip.text(c)));
        if (extra.length) {
          if (doc.pages.length) doc.pages[0]!.blocks.push(...extra);
          else doc.pages.push({ page: 1, blocks: extra });
        }
      }
      const title = (await coreTitle(zip)) ?? doc.title ?? titleFromFileName(file.source);
      return { ...doc, mime: type.mime, ...(title ? { title } : {}), warnings: [...warnings, ...doc.warnings] };
    },
  };
}

export const docxExtractor: Extractor = createDocxExtractor();
