/**
 * Descriptions of pictures (KB_IMAGE_MODEL, an optional image-to-text model): a photo, a diagram
 * or a chart without text is invisible to search; with a model placed, it gets one short
 * description, indexed with the page and shown as "[image] …" (or "[그림] …" in a Korean document).
 *
 * Like the OCR engine, the describer is process-wide and handed in from above: the composition
 * root installs the one backed by the model slot (`setImageDescriber`), an extraction child
 * process one that asks its parent. With none installed (no model: the default), nothing here
 * runs and extraction is exactly as before.
 *
 * When a picture is described (the same rules for standalone images and pictures inside
 * DOCX/PPTX/XLSX/HWP/HWPX):
 * - after OCR, and only when OCR kept fewer than DESCRIBE_LIMITS.maxTextLetters letters and digits
 *   from it: a scanned page or a screenshot of text is its text; a photo, a diagram or a chart
 *   (a few labels at most) needs words;
 * - at least DESCRIBE_LIMITS.minSide px on its shorter side and DESCRIBE_LIMITS.minPixels pixels
 *   in all (icons, bullets, rules and small logos are not worth a description);
 * - at most `describeMaxPerFile` pictures per file (KB_IMAGE_MAX_PER_FILE), the first ones in
 *   document order: a file with 500 pictures does not hold ingestion for 500 model runs;
 * - each run is bounded by the describer's timeout (KB_IMAGE_TIMEOUT_S); a picture whose
 *   description fails or times out keeps its OCR text (if any) and a warning, never failing
 *   the document.
 *
 * Extractors put DESCRIPTION_MARK before a description; `labelImageDescriptions` (run by
 * extractFile on every extracted document) replaces it with "[그림] " when most of the document's
 * own letters are Hangul, "[image] " otherwise.
 */
import type { ExtractedDocument } from "./types.ts";

export interface ImageDescriber {
  /**
   * A short description of the picture, or null when there is none (the model failed, timed out
   * or produced nothing). Rejects only with IngestError("aborted") when `signal` aborts.
   */
  describe(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<string | null>;
}

export const DESCRIBE_LIMITS = Object.freeze({
  /** Shorter side, px. */
  minSide: 64,
  /** Width × height. */
  minPixels: 16_384,
  /** Pictures whose OCR kept this many letters/digits or more are not described. */
  maxTextLetters: 40,
  /** Characters kept of one description. */
  maxChars: 300,
});

let shared: ImageDescriber | null = null;

/** Installs (or, with null, removes) the process-wide describer. */
export function setImageDescriber(describer: ImageDescriber | null): void {
  shared = describer;
}

/** The process-wide describer; null when no image model is configured (descriptions are off). */
export function getImageDescriber(): ImageDescriber | null {
  return shared;
}

/** Whether a picture of this size whose OCR kept `ocrText` gets a description. */
export function wantsDescription(width: number, height: number, ocrText: string): boolean {
  if (Math.min(width, height) < DESCRIBE_LIMITS.minSide || width * height < DESCRIBE_LIMITS.minPixels) return false;
  return (ocrText.match(/[\p{L}\p{Nd}]/gu)?.length ?? 0) < DESCRIBE_LIMITS.maxTextLetters;
}

/** Marks a description in extracted text until the document's language decides its label. */
/** Private-use characters: they survive the HTML pass of DOCX extraction, where NUL would not. */
export const DESCRIPTION_MARK = "\uE000image-description\uE001";
export const DESCRIPTION_LABELS = { ko: "[그림]", en: "[image]" } as const;
/** The label an image attached to a question has its OCR text under, in the question (src/services/ask.ts). */
export const IMAGE_TEXT_LABEL = "[image text]";

const IMAGE_LABELS = new RegExp([IMAGE_TEXT_LABEL, ...Object.values(DESCRIPTION_LABELS)].map((l) => l.replace(/[[\]]/g, "\\$&")).join("|"), "g");

/** The text without the labels of an attached image's text and description: words the asker did not ask. */
export function withoutImageLabels(text: string): string {
  return text.replace(IMAGE_LABELS, " ");
}

/** A description as extractors put it in a block: the mark, then the folded, capped text. */
export function descriptionText(description: string): string {
  let s = description.replace(/\s+/g, " ").trim();
  if (s.length > DESCRIBE_LIMITS.maxChars) s = `${s.slice(0, DESCRIBE_LIMITS.maxChars - 1).trimEnd()}…`;
  return `${DESCRIPTION_MARK}${s}`;
}

const HANGUL = /[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]/gu;
const LATIN = /[A-Za-z]/g;

/** "[그림]" when Hangul letters outnumber Latin ones in `text`, else "[image]". */
export function descriptionLabel(text: string): string {
  const hangul = text.match(HANGUL)?.length ?? 0;
  const latin = text.match(LATIN)?.length ?? 0;
  return hangul > latin ? DESCRIPTION_LABELS.ko : DESCRIPTION_LABELS.en;
}

/** Replaces every DESCRIPTION_MARK in the document by its label (in place; returns the document). */
export function labelImageDescriptions(doc: ExtractedDocument): ExtractedDocument {
  const has = doc.pages.some((p) => p.blocks.some((b) => b.text.includes(DESCRIPTION_MARK)));
  if (!has) return doc;
  // The document's own words decide, not the descriptions (the model may write another language).
  const own = doc.pages
    .flatMap((p) => p.blocks.map((b) => b.text.split(DESCRIPTION_MARK).map((part, i) => (i === 0 ? part : part.replace(/^[^\n]*/, ""))).join(" ")))
    .join(" ");
  const label = `${descriptionLabel(`${doc.title ?? ""} ${own}`)} `;
  for (const p of doc.pages) for (const b of p.blocks) if (b.text.includes(DESCRIPTION_MARK)) b.text = b.text.split(DESCRIPTION_MARK).join(label);
  return doc;
}
