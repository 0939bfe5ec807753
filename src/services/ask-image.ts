/**
 * An image attached to a question: a `data:` URL (the ask API's `image.dataUrl`, the
 * OpenAI-compatible `image_url`) decoded in memory, its type sniffed from the bytes (PNG, JPEG,
 * WebP; the declared type is not trusted), its size checked (ASK_IMAGE_LIMITS), and read by the
 * process-wide OCR pool that ingestion uses (ingest/ocr/engine.ts). The bytes never touch the
 * disk and are dropped once read; only the text goes on, as part of the question.
 *
 * With an image-description model (KB_IMAGE_MODEL), an image whose OCR found little or no text
 * (a photo, a diagram: ingest/image-description.ts's rule) also gets a short description, which
 * joins the OCR text in the question.
 *
 * Refusals: 400 `image_url_not_allowed` (anything but a base64 `data:` URL; a remote URL is never
 * fetched), 413 `image_too_large` (bytes or pixels), 415 `unsupported_image` (not PNG/JPEG/WebP,
 * or not decodable), 422 `image_unreadable` (OCR failed on it).
 */
import { getOcrEngine, type OcrEngine } from "../../ingest/ocr/engine.ts";
import { inspectImage } from "../../ingest/ocr/preprocess.ts";
import { DESCRIBE_LIMITS, wantsDescription, type ImageDescriber } from "../../ingest/image-description.ts";
import { IngestError } from "../../ingest/types.ts";
import { ASK_IMAGE_LIMITS } from "../domain/limits.ts";
import { ServiceError } from "./errors.ts";

export { ASK_IMAGE_LIMITS };

/** An image sent with a question, as a `data:` URL (`data:image/png;base64,…`). */
export interface AskImage {
  dataUrl: string;
}

export interface ImageText {
  /** The OCR text, whitespace folded, cut to ASK_IMAGE_LIMITS.text (or less). */
  text: string;
  /** Decoded bytes of the image. */
  bytes: number;
  /** Words in the OCR text (before cutting). */
  words: number;
  /** Sniffed type: png, jpeg or webp. */
  format: string;
  /** The image model's description (whitespace folded, at most DESCRIBE_LIMITS.maxChars), when there is one. */
  description?: string;
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;=]+=[^,;]*)*);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** PNG, JPEG or WebP from the first bytes; null for anything else. */
export function sniffImage(b: Uint8Array): "png" | "jpeg" | "webp" | null {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 12 && Buffer.from(b.subarray(0, 4)).toString("latin1") === "RIFF" && Buffer.from(b.subarray(8, 12)).toString("latin1") === "WEBP") return "webp";
  return null;
}

/** The bytes of a base64 `data:` URL, size-checked before decoding. */
export function decodeImageDataUrl(url: string): Uint8Array {
  const m = DATA_URL.exec(url);
  if (!m) {
    const shown = url.startsWith("data:") ? "a data: URL without base64 data" : "a URL that is not a data: URL";
    throw new ServiceError(400, "image_url_not_allowed", `an attached image must be a base64 data: URL (data:image/png;base64,…); got ${shown}, which is not fetched`);
  }
  const payload = url.slice(m[0].length).replace(/\s+/g, "");
  // Decoded size from the length alone: an oversized payload is refused without decoding it.
  const bytes = Math.floor((payload.length * 3) / 4) - (payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0);
  if (bytes > ASK_IMAGE_LIMITS.bytes) {
    throw new ServiceError(413, "image_too_large", `the attached image is ${bytes} bytes, over the limit of ${ASK_IMAGE_LIMITS.bytes}`);
  }
  if (!BASE64.test(payload)) throw new ServiceError(400, "image_url_not_allowed", "the attached image's data: URL is not valid base64");
  return Buffer.from(payload, "base64");
}

/** Cuts `text` to at most `max` characters at a word boundary when there is one. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let s = text.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  const space = s.lastIndexOf(" ");
  if (space > max * 0.8) s = s.slice(0, space);
  return `${s.trimEnd()}…`;
}

/**
 * Reads an attached image: decode, sniff, check pixels (from the header, before decoding
 * pixels), OCR with the shared pool. `maxText` bounds the text returned.
 */
export async function readAskImage(image: AskImage, options: { engine?: () => OcrEngine; describer?: ImageDescriber | null; maxText?: number; signal?: AbortSignal } = {}): Promise<ImageText> {
  const bytes = decodeImageDataUrl(image.dataUrl);
  const format = sniffImage(bytes);
  if (!format) throw new ServiceError(415, "unsupported_image", "the attached image is not a PNG, JPEG or WebP image");
  const engine = (options.engine ?? (() => getOcrEngine()))();
  let page;
  let info;
  try {
    info = await inspectImage(bytes, { maxInputPixels: ASK_IMAGE_LIMITS.pixels }, "the attached image");
    if (info.format !== format) throw new IngestError("unsupported_image", `the attached image claims to be ${format.toUpperCase()} but is not`);
    page = await engine.recognizeImage(bytes, { info, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    if (!(err instanceof IngestError)) throw err;
    if (err.code === "aborted") throw err;
    if (err.code === "image_too_large") throw new ServiceError(413, "image_too_large", `${err.message.replace(/ \(possible decompression bomb\)/, "")}`);
    if (err.code === "unsupported_image" || err.code === "corrupt_image" || err.code === "truncated_file") {
      throw new ServiceError(415, "unsupported_image", `the attached image could not be decoded (${err.message})`);
    }
    throw new ServiceError(422, "image_unreadable", `the attached image could not be read by OCR (${err.code})`);
  }
  const text = page.paragraphs.join(" ").replace(/\s+/g, " ").trim();
  const words = text ? text.split(" ").length : 0;
  let description: string | undefined;
  if (options.describer && wantsDescription(info.width, info.height, text)) {
    const d = await options.describer.describe(bytes, options.signal ? { signal: options.signal } : {});
    if (d) description = cut(d.replace(/\s+/g, " ").trim(), DESCRIBE_LIMITS.maxChars);
  }
  return { text: cut(text, Math.min(options.maxText ?? ASK_IMAGE_LIMITS.text, ASK_IMAGE_LIMITS.text)), bytes: bytes.length, words, format, ...(description ? { description } : {}) };
}

/** The label the image's text stands under in the question (and so in the conversation). */
export { IMAGE_TEXT_LABEL } from "../../ingest/image-description.ts";
