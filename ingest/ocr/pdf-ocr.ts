/**
 * OCR for PDF pages: render the requested pages with pdf-parse (`getScreenshot`, pdf.js + canvas)
 * and read them with the OCR engine. This is the fallback the PDF extractor uses for pages whose
 * text layer is missing or garbled:
 *
 *     createPdfExtractor({ ocrFallback: pdfOcrFallback })   // the pdf row of ingest/formats.ts
 *
 * Rendering resolution: a scanned page (one page-sized image) is rendered at the scan's own
 * resolution (the engine then upscales it to ~400 dpi with lanczos); other pages (vector text with a
 * broken font encoding) at 400 dpi. `dpi` forces one resolution. Capped by `maxPagePixels`. Pages are
 * rendered one at a time on the calling thread while up to `engine.poolSize` pages are being OCR'd,
 * so memory stays bounded by the pool size.
 */
import type { PDFParse } from "pdf-parse";
import { openPdfParser, pdfLoadError, type OcrPageResult, type PdfOcrFallback, type PdfPictureReader } from "../extractors/pdf.ts";
import { restoreNativeBuiltins } from "../extractors/pdfjs-builtins.ts";
import { extractionSettings } from "../extraction-settings.ts";
import { DESCRIBE_LIMITS, descriptionText, getImageDescriber, wantsDescription } from "../image-description.ts";
import { IngestError } from "../types.ts";
import { readEmbeddedImages } from "./embedded-images.ts";
import { getOcrEngine, pageScript, type OcrEngine, type RecognizeOptions } from "./engine.ts";
import { inspectImage } from "./preprocess.ts";

export interface PdfOcrOptions {
  engine?: OcrEngine;
  /** Force a render resolution in dpi. Default: the scan's own resolution for scanned pages, else 400. */
  dpi?: number;
  /** Largest rendered page in pixels (lower dpi is used for huge pages). Default 36 million. */
  maxPagePixels?: number;
  password?: string;
  signal?: AbortSignal;
  /** Display name for error messages. */
  source?: string;
  /** Called as each page finishes (progress reporting). */
  onPage?: (page: PdfOcrPage) => void;
}

export interface PdfOcrPage {
  /** 1-based page number. */
  page: number;
  text: string;
  paragraphs: string[];
  /** 0..100 */
  confidence: number;
  /** Clockwise rotation applied to read the page (orientation correction). */
  rotation: number;
  /** Render resolution actually used. */
  dpi: number;
  ms: number;
  /** Set when this page could not be read (the other pages are still returned). */
  error?: { code: string; message: string };
  /**
   * The image model's description of the rendered page, when OCR found (almost) no text on it:
   * a scanned photo, diagram or chart (with KB_IMAGE_MODEL only).
   */
  description?: string;
}

/** A reading under this confidence counts as no text when deciding to describe a page (as for pictures). */
const MIN_TEXT_CONFIDENCE = 50;

const PT_PER_INCH = 72;

/**
 * Render and OCR the given 1-based pages of a PDF. Results come back in the order of `pages`.
 * A page that fails to render or read gets `error` set and empty text; an unreadable or encrypted
 * PDF throws IngestError (encrypted_pdf, wrong_password, corrupt_pdf), an abort throws "aborted".
 */
export async function ocrPdfPages(bytes: Uint8Array, pages: readonly number[], options: PdfOcrOptions = {}): Promise<PdfOcrPage[]> {
  const source = options.source ?? "PDF";
  const engine = options.engine ?? getOcrEngine();
  const dpi = options.dpi ?? 400;
  const maxPixels = options.maxPagePixels ?? 36_000_000;
  const signal = options.signal;
  if (signal?.aborted) throw new IngestError("aborted", `${source}: OCR aborted`);
  if (pages.length === 0) return [];

  const parser = openPdfParser(bytes, options.password);
  try {
    let info: Awaited<ReturnType<PDFParse["getInfo"]>>;
    try {
      info = await parser.getInfo({ parsePageInfo: true });
    } catch (err) {
      throw pdfLoadError(err, source, options.password !== undefined);
    } finally {
      restoreNativeBuiltins();
    }
    const sizes = new Map<number, { width: number; height: number }>();
    for (const p of (info as unknown as { pages?: Array<{ pageNumber: number; width: number; height: number }> }).pages ?? []) {
      sizes.set(p.pageNumber, { width: p.width, height: p.height });
    }

    const results = new Map<number, PdfOcrPage>();
    // Pages OCR finds (almost) no text on are described, with an image model (KB_IMAGE_MODEL) only.
    const describer = getImageDescriber();
    let describeBudget = extractionSettings().describeMaxPerFile;
    const inFlight = new Set<Promise<void>>();
    const limit = Math.max(1, engine.poolSize);
    // What the last page read was: once a page reads as English, the next pages started are read
    // kor+eng first (RecognizeOptions.scriptHint), without the kor pass an English page cannot use.
    let scriptHint: RecognizeOptions["scriptHint"];
    for (const page of pages) {
      if (signal?.aborted) throw new IngestError("aborted", `${source}: OCR aborted`);
      if (!Number.isInteger(page) || page < 1 || page > info.total) {
        results.set(page, failed(page, dpi, "page_out_of_range", `page ${page} does not exist (the PDF has ${info.total})`));
        continue;
      }
      while (inFlight.size >= limit) await Promise.race(inFlight);
      const started = Date.now();
      const size = sizes.get(page);
      let pageDpi = options.dpi === undefined ? await scanDpi(parser, page, size) ?? dpi : dpi;
      if (size && size.width > 0 && size.height > 0) {
        const px = ((size.width * dpi) / PT_PER_INCH) * ((size.height * dpi) / PT_PER_INCH);
        if (px > maxPixels) pageDpi = Math.floor(dpi * Math.sqrt(maxPixels / px));
      }
      let png: Uint8Array;
      try {
        const shot = await parser.getScreenshot({ partial: [page], scale: pageDpi / PT_PER_INCH, imageDataUrl: false, imageBuffer: true });
        const data = shot.pages[0]?.data;
        if (!data || data.length === 0) throw new Error("renderer returned no image");
        png = data;
      } catch (err) {
        results.set(page, failed(page, pageDpi, "render_failed", `page ${page} could not be rendered: ${(err as Error)?.message ?? String(err)}`));
        continue;
      }
      const task = (async () => {
        try {
          const imgInfo = await inspectImage(png, { ...engine.limits, maxInputPixels: Math.max(maxPixels * 1.1, engine.limits?.maxInputPixels ?? 0) });
          const r = await engine.recognizeImage(png, { info: imgInfo, density: pageDpi, ...(scriptHint ? { scriptHint } : {}), ...(signal ? { signal } : {}) });
          scriptHint = pageScript(r);
          let description: string | null = null;
          if (describer && describeBudget > 0 && wantsDescription(imgInfo.width, imgInfo.height, r.confidence >= MIN_TEXT_CONFIDENCE ? r.text : "")) {
            describeBudget--;
            description = await describer.describe(png, signal ? { signal } : {});
          }
          const res: PdfOcrPage = {
            page,
            text: r.text,
            paragraphs: r.paragraphs,
            confidence: r.confidence,
            rotation: r.rotation,
            dpi: pageDpi,
            ms: Date.now() - started,
            ...(description ? { description } : {}),
          };
          results.set(page, res);
          options.onPage?.(res);
        } catch (err) {
          if (err instanceof IngestError && err.code === "aborted") throw err;
          const code = err instanceof IngestError ? err.code : "ocr_failed";
          results.set(page, failed(page, pageDpi, code, (err as Error)?.message ?? String(err)));
        }
      })();
      const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    return pages.map((p) => results.get(p) ?? failed(p, dpi, "ocr_failed", "no result"));
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}

/**
 * A scanned page is one big image with the page's aspect ratio: render it at the image's own
 * resolution (the engine then upscales it with lanczos, which reads better than pdf.js's resampling:
 * 0.90 vs 0.81 word recall on a 200 dpi Korean scan rendered at 200 vs 400 dpi).
 */
async function scanDpi(parser: PDFParse, page: number, size?: { width: number; height: number }): Promise<number | undefined> {
  if (!size || size.width <= 0 || size.height <= 0) return undefined;
  try {
    const res = await parser.getImage({ partial: [page], imageBuffer: false, imageDataUrl: false, imageThreshold: 200 });
    let best: { width: number; height: number } | undefined;
    for (const img of res.pages[0]?.images ?? []) {
      if (!best || img.width * img.height > best.width * best.height) best = img;
    }
    if (!best) return undefined;
    const portraitMatch = Math.abs(best.width / best.height - size.width / size.height) / (size.width / size.height);
    const landscapeMatch = Math.abs(best.height / best.width - size.width / size.height) / (size.width / size.height);
    if (Math.min(portraitMatch, landscapeMatch) > 0.15) return undefined;
    const native = Math.max(best.width, best.height) / (Math.max(size.width, size.height) / PT_PER_INCH);
    if (native < 100) return 150;
    return Math.min(400, Math.round(native));
  } catch {
    return undefined;
  }
}

function failed(page: number, dpi: number, code: string, message: string): PdfOcrPage {
  return { page, text: "", paragraphs: [], confidence: 0, rotation: 0, dpi, ms: 0, error: { code, message } };
}

/**
 * The PDF extractor's OCR seam (`createPdfExtractor({ ocrFallback: pdfOcrFallback })`): OCR the
 * pages whose text layer failed the quality check. Pages that could not be read are left out.
 */
export const pdfOcrFallback: PdfOcrFallback = async ({ file, pages, password, signal }) => {
  const res = await ocrPdfPages(
    file.bytes,
    pages.map((p) => p.page),
    { source: file.source, ...(password !== undefined ? { password } : {}), ...(signal ? { signal } : {}) },
  );
  const out: OcrPageResult[] = [];
  for (const r of res) {
    if (r.error) continue;
    // A description stands first on its page, as for a standalone image.
    const text = r.description ? `${descriptionText(r.description)}\n\n${r.text}` : r.text;
    if (text.trim()) out.push({ page: r.page, text, confidence: r.confidence, ...(r.description ? { described: true } : {}) });
  }
  return out;
};

/** Most pictures taken from one PDF's text pages (the first ones, in page order). */
const MAX_PDF_PICTURES = 50;

/**
 * The PDF extractor's picture seam (`createPdfExtractor({ pictures: pdfPictureReader })`, only
 * with an image-description model: ingest/formats.ts): the pictures pdf.js finds on the given
 * pages, at least DESCRIBE_LIMITS.minSide on both sides, go through the same reading as pictures
 * in Office files (ingest/ocr/embedded-images.ts: OCR, then a description when OCR kept little
 * text). Their paragraphs are added after the page's text: a PDF's text layer does not say where
 * a picture stands among its lines.
 */
export const pdfPictureReader: PdfPictureReader = async ({ file, pages, password, maxDescribed, signal }) => {
  const paragraphs = new Map<number, string[]>();
  const warnings: string[] = [];
  if (pages.length === 0) return { paragraphs, warnings };
  const parser = openPdfParser(file.bytes, password);
  try {
    const images: Uint8Array[] = [];
    const pageOf: number[] = [];
    let found = 0;
    for (const page of pages) {
      if (signal?.aborted) throw new IngestError("aborted", `${file.source}: aborted`);
      let res: Awaited<ReturnType<PDFParse["getImage"]>>;
      try {
        res = await parser.getImage({ partial: [page], imageBuffer: true, imageDataUrl: false, imageThreshold: DESCRIBE_LIMITS.minSide });
      } catch (err) {
        warnings.push(`the pictures of page ${page} could not be read (${(err as Error)?.message ?? String(err)})`);
        continue;
      } finally {
        restoreNativeBuiltins();
      }
      for (const img of res.pages[0]?.images ?? []) {
        if (!img.data?.length) continue;
        found++;
        if (images.length >= MAX_PDF_PICTURES) continue;
        images.push(img.data);
        pageOf.push(page);
      }
    }
    if (found > images.length) warnings.push(`only the first ${images.length} of ${found} pictures were read`);
    const read = await readEmbeddedImages(images, { maxDescribed, ...(signal ? { signal } : {}) });
    warnings.push(...read.warnings);
    read.texts.forEach((texts, i) => {
      if (texts.length === 0) return;
      const page = pageOf[i]!;
      paragraphs.set(page, [...(paragraphs.get(page) ?? []), ...texts]);
    });
    return { paragraphs, warnings };
  } finally {
    await parser.destroy().catch(() => undefined);
  }
};
