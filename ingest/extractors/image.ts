/**
 * Image extractor: PNG, JPEG, TIFF (multi-page: one page each), WebP, GIF (first frame), BMP → OCR
 * (ingest/ocr/engine.ts, Korean + English) → one paragraph block per paragraph of tesseract's
 * layout analysis, page confidence in `ocrConfidence`.
 *
 * Hostile input: the declared pixel count is checked before decoding (IngestError
 * "image_too_large"), truncated/corrupt files → "corrupt_image", HEIC/JPEG 2000 that this build of
 * sharp cannot decode → "unsupported_image", more pages than `maxPages` → only the first are read
 * (warning). A page that fails (e.g. "ocr_timeout") is skipped with a warning; if every page fails,
 * the first page's error is thrown.
 */
import { descriptionText, getImageDescriber, wantsDescription, type ImageDescriber } from "../image-description.ts";
import { getOcrEngine, pageScript, type OcrEngine, type RecognizeOptions } from "../ocr/engine.ts";
import { inspectImage, type ImageInfo, type ImageLimits } from "../ocr/preprocess.ts";
import { extractionSettings } from "../extraction-settings.ts";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";

export interface ImageExtractorConfig {
  /** OCR engine to use; default the process-wide one (getOcrEngine()). */
  engine?: () => OcrEngine;
  /** Pixel/page limits; default the engine's, else DEFAULT_IMAGE_LIMITS. */
  limits?: ImageLimits;
  /** Most pages read from a multi-page TIFF. Default 500. */
  maxPages?: number;
  /** Picture describer; default the process-wide one (none unless KB_IMAGE_MODEL is set). */
  describer?: () => ImageDescriber | null;
  /** Most pages described per file; default the extraction settings' (KB_IMAGE_MAX_PER_FILE). */
  maxDescribed?: number;
}

const MULTIPAGE_FORMATS = new Set(["tiff"]);
/** The confidence below which a page's OCR text does not count as text when deciding to describe it (as for embedded pictures). */
const MIN_TEXT_CONFIDENCE = 50;
const DECODABLE = new Set(["png", "jpeg", "jpg", "tiff", "webp", "gif", "bmp"]);

export function createImageExtractor(config: ImageExtractorConfig = {}): Extractor {
  return {
    kinds: ["image"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const engine = (config.engine ?? (() => getOcrEngine()))();
      const limits = config.limits ?? engine.limits;
      const info = await inspectImage(file.bytes, limits, file.source);
      if (!DECODABLE.has(info.format)) {
        throw new IngestError("unsupported_image", `${file.source}: ${info.format.toUpperCase()} images are not supported for OCR; convert it to PNG or JPEG`);
      }
      const maxPages = config.maxPages ?? limits?.maxPages ?? 500;
      const total = MULTIPAGE_FORMATS.has(info.format) ? info.pages : 1;
      const count = Math.min(total, maxPages);
      const warnings: string[] = [];
      if (total > count) warnings.push(`only the first ${count} of ${total} pages were read`);

      // Pages start as the engine's workers free up (as ocrPdfPages does), so a page started after
      // one that read as English is read kor+eng first (scriptHint), like the pages of a scanned PDF.
      let scriptHint: RecognizeOptions["scriptHint"];
      const readPage = async (i: number) => {
        try {
          const pageInfo: ImageInfo = i === 0 ? info : { ...(await inspectImage(file.bytes, limits, file.source, i)), format: info.format };
          const r = await engine.recognizeImage(file.bytes, { page: i, info: pageInfo, ...(scriptHint ? { scriptHint } : {}), ...(options.signal ? { signal: options.signal } : {}) });
          scriptHint = pageScript(r);
          return { ok: true as const, r, info: pageInfo };
        } catch (err) {
          if (err instanceof IngestError && err.code === "aborted") throw err;
          return { ok: false as const, err };
        }
      };
      const results: Awaited<ReturnType<typeof readPage>>[] = new Array(count);
      let nextPage = 0;
      await Promise.all(
        Array.from({ length: Math.min(count, Math.max(1, engine.poolSize)) }, async () => {
          while (nextPage < count) {
            const i = nextPage++;
            results[i] = await readPage(i);
          }
        }),
      );
      // A description (KB_IMAGE_MODEL) when OCR found little or no text on the picture (a reading
      // under MIN_TEXT_CONFIDENCE counts as none: what OCR "reads" on a photo is noise). The model
      // reads the file's first frame, so a multi-page TIFF (mostly scans) is described from page 1 only.
      const describer = (config.describer ?? getImageDescriber)();
      let description: string | null = null;
      const first = results[0];
      if (describer && first?.ok && (config.maxDescribed ?? extractionSettings().describeMaxPerFile) > 0 && wantsDescription(first.info.width, first.info.height, first.r.confidence >= MIN_TEXT_CONFIDENCE ? first.r.text : "")) {
        description = await describer.describe(file.bytes, options.signal ? { signal: options.signal } : {});
        warnings.push(description ? "page 1 described by the image model" : "page 1 could not be described by the image model");
      }
      const pages: ExtractedPage[] = [];
      let firstError: unknown;
      results.forEach((res, i) => {
        if (!res.ok) {
          firstError ??= res.err;
          const e = res.err as IngestError;
          warnings.push(`page ${i + 1} could not be read by OCR (${e?.code ?? "error"}: ${e?.message ?? String(res.err)})`);
          return;
        }
        const r = res.r;
        const blocks = r.paragraphs.map((text) => ({ kind: "paragraph" as const, text }));
        if (i === 0 && description) blocks.unshift({ kind: "paragraph" as const, text: descriptionText(description) });
        if (r.rotation) warnings.push(`page ${i + 1} was rotated ${r.rotation}° to read it`);
        if (blocks.length) pages.push({ page: i + 1, blocks, ocrConfidence: r.confidence });
        warnings.push(`page ${i + 1} read by OCR (confidence ${Math.round(r.confidence)})`);
      });
      if (pages.length === 0 && firstError !== undefined && results.every((r) => !r.ok)) {
        if (firstError instanceof IngestError) throw firstError;
        throw new IngestError("ocr_failed", `${file.source}: OCR failed (${(firstError as Error)?.message ?? String(firstError)})`);
      }
      const title = titleFromFileName(file.source);
      return { mime: type.mime, ...(title ? { title } : {}), pages, warnings };
    },
  };
}

export const imageExtractor: Extractor = createImageExtractor();
