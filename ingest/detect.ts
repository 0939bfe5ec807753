/**
 * Stage 1: detect what a file is, from its bytes (magic numbers via file-type, then text sniffing).
 * The file name is only a hint for text formats that cannot be told apart by content
 * (Markdown vs plain text, CSV vs plain text).
 *
 * Kinds returned (the rows of the format table, ingest/formats.ts):
 *   text, markdown, html, pdf, csv, eml, xml                      — text-like / PDF
 *   docx, xlsx, pptx, doc, xls, ppt, msg, odt, ods, odp, rtf, epub — office & mail containers
 *   hwp (HWP 5 OLE or HWP 3), hwpx (OWPML zip), image, zip
 * Anything else throws IngestError("unsupported_type", "... detected as <mime>").
 */
import CFB from "cfb";
import { fileTypeFromBuffer } from "file-type";
import { decodeText, detectBom, looksBinary } from "./decode-text.ts";
import { FORMATS } from "./formats.ts";
import { IngestError, type DetectedType, type SourceFile } from "./types.ts";

/** A detected type; text kinds also carry the encoding the sniffer found. */
export interface DetectedTextType extends DetectedType {
  encoding?: string;
}

/** Every kind detectType can return (the format table's rows). */
export const KNOWN_KINDS: readonly string[] = FORMATS.map((f) => f.kind);

/** MIME types reported by file-type → kind, from the format table. */
const MIME_TO_KIND: Record<string, { kind: string; mime?: string }> = Object.fromEntries(
  FORMATS.flatMap((f) => (f.detect.mimes ?? []).map((mime) => [mime, { kind: f.kind }])),
);

/** file-type results that are too weak to trust over a text sniff (e.g. UTF-16 text looks like MPEG audio). */
const WEAK_MIMES = new Set(["audio/mpeg", "application/xml", "text/xml", "image/svg+xml", "text/calendar", "text/vcard", "application/x-ms-regedit"]);

function extensionOf(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

function asciiIncludes(bytes: Uint8Array, needle: string, limit = bytes.length): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, limit)).includes(needle, 0, "latin1");
}

/** OLE compound files: tell HWP 5, Word, Excel, PowerPoint, Outlook and encrypted OOXML apart. */
function detectCfb(file: SourceFile): DetectedType {
  let paths: string[] = [];
  try {
    const container = CFB.read(Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength), { type: "buffer" });
    paths = container.FullPaths.map((p) => p.replace(/^Root Entry\//, "").replace(/\/$/, ""));
  } catch (err) {
    throw new IngestError("unsupported_type", `${file.source}: damaged OLE compound file (${(err as Error).message})`);
  }
  const has = (name: string) => paths.some((p) => p === name);
  if (has("FileHeader") && (has("DocInfo") || paths.some((p) => p.startsWith("BodyText")))) {
    return { mime: "application/x-hwp", kind: "hwp" };
  }
  if (has("EncryptionInfo") && has("EncryptedPackage")) {
    throw new IngestError("encrypted_document", `${file.source} is a password-protected Office document; remove the password and upload it again`);
  }
  if (has("WordDocument")) return { mime: "application/msword", kind: "doc" };
  if (has("Workbook") || has("Book")) return { mime: "application/vnd.ms-excel", kind: "xls" };
  if (has("PowerPoint Document")) return { mime: "application/vnd.ms-powerpoint", kind: "ppt" };
  if (paths.some((p) => p.startsWith("__substg1.0_") || p === "__properties_version1.0")) {
    return { mime: "application/vnd.ms-outlook", kind: "msg" };
  }
  throw new IngestError("unsupported_type", `${file.source}: unsupported file type (detected as application/x-cfb)`);
}

/** A zip that file-type did not recognise more precisely: HWPX (OWPML) or a plain archive. */
function detectZip(bytes: Uint8Array): DetectedType {
  // First local header: name length at 26, extra length at 28, name at 30.
  const nameLen = (bytes[26] ?? 0) | ((bytes[27] ?? 0) << 8);
  const extraLen = (bytes[28] ?? 0) | ((bytes[29] ?? 0) << 8);
  const name = Buffer.from(bytes.subarray(30, 30 + nameLen)).toString("latin1");
  if (name === "mimetype") {
    const start = 30 + nameLen + extraLen;
    const mimetype = Buffer.from(bytes.subarray(start, start + 64)).toString("latin1");
    if (mimetype.startsWith("application/hwp+zip")) return { mime: "application/hwp+zip", kind: "hwpx" };
  }
  if (asciiIncludes(bytes, "Contents/section0.xml") || asciiIncludes(bytes, "application/hwp+zip")) {
    return { mime: "application/hwp+zip", kind: "hwpx" };
  }
  // OOXML whose [Content_Types].xml file-type could not read: look at the part names.
  if (asciiIncludes(bytes, "[Content_Types].xml")) {
    if (asciiIncludes(bytes, "word/document.xml")) return { mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", kind: "docx" };
    if (asciiIncludes(bytes, "xl/workbook.xml")) return { mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", kind: "xlsx" };
    if (asciiIncludes(bytes, "ppt/presentation.xml")) return { mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation", kind: "pptx" };
  }
  return { mime: "application/zip", kind: "zip" };
}

const HTML_STRONG = /^(?:\s|<!--[\s\S]*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html[\s>])/i;
const HTML_TAGS = /<(?:head|body|div|p|span|table|tr|td|ul|ol|li|h[1-6]|meta|title|br|a\s|img|section|article|main|nav|header|footer|script|style|link)\b/gi;

/** HTML sniff on decoded text. `extHint` is true for .html/.htm/.xhtml names. */
export function looksLikeHtml(text: string, extHint = false): boolean {
  const head = text.slice(0, 4096);
  if (HTML_STRONG.test(head)) return true;
  const tags = head.match(HTML_TAGS)?.length ?? 0;
  if (extHint && tags >= 1) return true;
  const firstNonSpace = head.trimStart()[0];
  return firstNonSpace === "<" && tags >= 2;
}

const MAIL_HEADERS = /^(from|to|cc|bcc|subject|date|message-id|mime-version|received|return-path|reply-to|content-type|delivered-to|x-[a-z0-9-]+|in-reply-to|references|sender|dkim-signature|authentication-results|thread-topic|thread-index)$/i;
const STRONG_MAIL_HEADERS = new Set(["from", "message-id", "mime-version", "received", "return-path", "subject", "date", "to"]);

/** RFC 822 message sniff: the text starts with a header block of known mail headers. */
export function looksLikeEmail(text: string): boolean {
  const lines = text.slice(0, 16384).replace(/^\s+/, "").split(/\r?\n/);
  if (lines[0]?.startsWith("From ")) lines.shift(); // mbox separator line
  const seen = new Set<string>();
  let headerLines = 0;
  for (const line of lines) {
    if (line.trim() === "") break;
    if (/^[ \t]/.test(line)) continue; // folded header continuation
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):/.exec(line);
    if (!m) return false;
    headerLines++;
    const name = m[1]!.toLowerCase();
    if (MAIL_HEADERS.test(name)) seen.add(name);
  }
  const strong = [...seen].filter((h) => STRONG_MAIL_HEADERS.has(h)).length;
  return headerLines >= 2 && strong >= 2 && (seen.has("from") || seen.has("received") || seen.has("message-id") || seen.has("mime-version"));
}

function detectText(file: SourceFile, ext: string, weakMime?: string): DetectedTextType {
  if (looksBinary(file.bytes)) {
    throw new IngestError(
      "binary_content",
      `${file.source} contains binary data, not text${weakMime ? ` (looks like ${weakMime})` : ""}; unsupported file type`,
    );
  }
  const sample = file.bytes.length > 262144 ? file.bytes.subarray(0, 262144) : file.bytes;
  const { text, encoding } = decodeText(sample);
  const htmlExt = ext === "html" || ext === "htm" || ext === "xhtml";
  const mdExt = ext === "md" || ext === "markdown" || ext === "mdown" || ext === "mkd";
  // Markdown may contain inline HTML; only a real HTML document start overrides a .md name.
  if (mdExt) {
    return HTML_STRONG.test(text.slice(0, 4096)) ? { mime: "text/html", kind: "html", encoding } : { mime: "text/markdown", kind: "markdown", encoding };
  }
  if (looksLikeHtml(text, htmlExt)) return { mime: "text/html", kind: "html", encoding };
  if (ext === "eml" || looksLikeEmail(text)) return { mime: "message/rfc822", kind: "eml", encoding };
  if (ext === "csv") return { mime: "text/csv", kind: "csv", encoding };
  if (ext === "tsv" || ext === "tab") return { mime: "text/tab-separated-values", kind: "csv", encoding };
  if (/^\s*<\?xml[\s?]/.test(text.slice(0, 512))) return { mime: "application/xml", kind: "xml", encoding };
  return { mime: "text/plain", kind: "text", encoding };
}

/** Detect the type of a file by content. Throws IngestError for empty, binary or unsupported input. */
export async function detectType(file: SourceFile): Promise<DetectedType> {
  const { bytes } = file;
  if (bytes.length === 0) throw new IngestError("empty_file", `${file.source} is empty (0 bytes)`);
  const ext = extensionOf(file.source);

  // A BOM means text; file-type would call UTF-16 text "audio/mpeg". (BOM-less UTF-16 is only
  // considered after file-type: 16-bit audio samples look like it too.)
  if (detectBom(bytes)) return detectText(file, ext);

  // HWP 3.x: plain signature, no OLE container.
  if (asciiIncludes(bytes, "HWP Document File V3", 32)) return { mime: "application/x-hwp", kind: "hwp" };

  let ft: { ext: string; mime: string } | undefined;
  try {
    ft = await fileTypeFromBuffer(bytes);
  } catch {
    ft = undefined;
  }
  if (!ft || WEAK_MIMES.has(ft.mime)) return detectText(file, ext, ft?.mime);
  if (ft.mime === "application/x-cfb") return detectCfb(file);
  if (ft.mime === "application/zip") return detectZip(bytes);
  const mapped = MIME_TO_KIND[ft.mime];
  if (mapped) return { mime: mapped.mime ?? ft.mime, kind: mapped.kind };
  throw new IngestError("unsupported_type", `${file.source}: unsupported file type (detected as ${ft.mime})`);
}
