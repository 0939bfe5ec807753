/**
 * Text in pictures inside Office documents: screenshots in a manual, a scanned page pasted into
 * a Word file, a slide that is one big image. The DOCX and PPTX extractors hand each picture
 * here; it is OCR'd with the shared engine (Korean + English, same pool and limits as page
 * images) and its text kept when there is some to keep.
 *
 * Pictures that cannot hold readable text are skipped before OCR: smaller than 32 px on a side or
 * 8,000 px in all, or a format tesseract cannot read (EMF/WMF vector drawings, SVG). A reading
 * with confidence under 50 or without two letters or digits is dropped (photos, logos, icons).
 * At most `maxImages` pictures per document are read (default 50; a warning says how many were
 * not). A picture that fails (corrupt, too large, timeout) is skipped with a warning; it never
 * fails the document.
 *
 * With an image-description model (KB_IMAGE_MODEL, ingest/image-description.ts), a picture whose
 * OCR kept little or no text (a photo, a diagram, a chart) and that is large enough also gets a
 * description, as its first paragraph; at most `maxDescribed` pictures per document, in order.
 */
import { extractionSettings } from "../extraction-settings.ts";
import { descriptionText, getImageDescriber, wantsDescription, type ImageDescriber } from "../image-description.ts";
import { IngestError } from "../types.ts";
import { getOcrEngine, type OcrEngine } from "./engine.ts";
import { inspectImage } from "./preprocess.ts";

export interface EmbeddedImageOptions {
  /** OCR engine; default the process-wide one. */
  engine?: () => OcrEngine;
  /** Most pictures read per document. Default 50. */
  maxImages?: number;
  /** Picture describer; default the process-wide one (none unless KB_IMAGE_MODEL is set). */
  describer?: () => ImageDescriber | null;
  /** Most pictures described per document; default the extraction settings' (KB_IMAGE_MAX_PER_FILE). */
  maxDescribed?: number;
  signal?: AbortSignal;
}

const MIN_SIDE = 32;
const MIN_PIXELS = 8_000;
const MIN_CONFIDENCE = 50;
const READABLE = new Set(["png", "jpeg", "jpg", "tiff", "webp", "gif", "bmp"]);

export interface EmbeddedImageResult {
  /** Paragraphs read from each picture, in the order given (empty: nothing worth keeping). */
  texts: string[][];
  warnings: string[];
}

/** OCRs the pictures (in parallel, bounded by the engine's pool). */
export async function readEmbeddedImages(images: readonly Uint8Array[], options: EmbeddedImageOptions = {}): Promise<EmbeddedImageResult> {
  const maxImages = options.maxImages ?? 50;
  const warnings: string[] = [];
  if (images.length === 0) return { texts: [], warnings };
  const engine = (options.engine ?? (() => getOcrEngine()))();
  // Which pictures to read is decided from their headers first, in document order, so the same
  // document always yields the same text.
  const infos = await Promise.all(
    images.map(async (bytes, i) => {
      try {
        const info = await inspectImage(bytes, engine.limits, `picture ${i + 1}`);
        return READABLE.has(info.format) && Math.min(info.width, info.height) >= MIN_SIDE && info.width * info.height >= MIN_PIXELS ? info : null;
      } catch {
        return null; // not an image sharp can read (EMF, WMF, SVG …): no text to get
      }
    }),
  );
  const eligible = infos.flatMap((info, i) => (info ? [i] : []));
  const chosen = new Set(eligible.slice(0, maxImages));
  const read = eligible.length;
  const texts = await Promise.all(
    images.map(async (bytes, i): Promise<string[]> => {
      const info = infos[i];
      if (!info || !chosen.has(i)) return [];
      try {
        const r = await engine.recognizeImage(bytes, { info, ...(options.signal ? { signal: options.signal } : {}) });
        const letters = r.text.match(/[\p{L}\p{Nd}]/gu)?.length ?? 0;
        return r.confidence >= MIN_CONFIDENCE && letters >= 2 ? r.paragraphs : [];
      } catch (err) {
        if (err instanceof IngestError && err.code === "aborted") throw err;
        warnings.push(`picture ${i + 1} could not be read by OCR (${(err as IngestError)?.code ?? "error"})`);
        return [];
      }
    }),
  );
  if (read > maxImages) warnings.push(`only ${maxImages} of ${read} pictures were read by OCR`);
  const withText = texts.filter((t) => t.length > 0).length;
  if (withText) warnings.push(`text of ${withText} picture(s) read by OCR`);

  // Descriptions, one picture at a time (the model runs one at a time anyway), in document order.
  const describer = (options.describer ?? getImageDescriber)();
  if (describer) {
    const maxDescribed = options.maxDescribed ?? extractionSettings().describeMaxPerFile;
    const wanted = images.flatMap((_, i) => {
      const info = infos[i];
      return info && chosen.has(i) && wantsDescription(info.width, info.height, texts[i]!.join(" ")) ? [i] : [];
    });
    let described = 0;
    let failed = 0;
    for (const i of wanted.slice(0, maxDescribed)) {
      const text = await describer.describe(images[i]!, options.signal ? { signal: options.signal } : {});
      if (text) {
        texts[i] = [descriptionText(text), ...texts[i]!];
        described++;
      } else failed++;
    }
    if (described) warnings.push(`${described} picture(s) described by the image model`);
    if (failed) warnings.push(`${failed} picture(s) could not be described by the image model`);
    if (wanted.length > maxDescribed) warnings.push(`only ${maxDescribed} of ${wanted.length} pictures without text were described (KB_IMAGE_MAX_PER_FILE)`);
  }
  return { texts, warnings };
}
