/**
 * PDF extractor (text layer, via pdf-parse v2 / pdfjs-dist).
 *
 * - pdfjs needs the predefined CMaps and standard font data of *its own* pdfjs-dist copy, passed as
 *   file-system paths ending in a separator (pdfjs' Node factories read `baseUrl + name` with
 *   fs.readFile). Without them, Korean text set in non-embedded CID fonts (UniKS-UCS2-H, Adobe-Korea1)
 *   comes back empty with no error.
 * - Per-page text comes with a quality verdict (readPdfTextLayer / assessPageText). Pages that fail it
 *   are handed to an optional OCR fallback (createPdfExtractor({ ocrFallback })); without one, empty or
 *   unreadable pages are dropped with a warning and a PDF with no usable text at all is rejected with
 *   IngestError("no_text_layer").
 * - Errors: encrypted_pdf (password needed), wrong_password, corrupt_pdf, too_many_pages, aborted.
 * - Every PDFParse instance is destroyed (frees pdfjs memory) on every path.
 */
// Must be evaluated before pdf-parse: it captures the engine's Array.prototype.push (see the module).
import { restoreNativeBuiltins } from "./pdfjs-builtins.ts";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { PDFParse } from "pdf-parse";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { sensibleTitle, titleFromFileName } from "../text-utils.ts";
import { extractionSettings } from "../extraction-settings.ts";

restoreNativeBuiltins();

export const DEFAULT_MAX_PDF_PAGES = 5000;

/** Options the PDF extractor understands on top of ExtractOptions. */
export interface PdfExtractOptions extends ExtractOptions {
  /** Reject PDFs with more pages than this (default 5000). */
  maxPages?: number;
}

// ---------------------------------------------------------------------------------------------
// pdfjs assets

export interface PdfjsAssets {
  cMapUrl: string;
  standardFontDataUrl: string;
  wasmUrl?: string;
}

let assetsCache: PdfjsAssets | undefined;

/**
 * Folders of the pdfjs-dist copy that pdf-parse actually loads (pdf-parse pins its own version, which
 * may be nested under node_modules/pdf-parse/node_modules), as paths ending in a separator.
 */
export function pdfjsAssets(): PdfjsAssets {
  if (assetsCache) return assetsCache;
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = createRequire(require.resolve("pdf-parse")).resolve("pdfjs-dist/package.json");
  } catch {
    pkg = require.resolve("pdfjs-dist/package.json");
  }
  const dir = path.dirname(pkg);
  const withSep = (p: string) => (p.endsWith(path.sep) ? p : p + path.sep);
  const wasm = path.join(dir, "wasm");
  assetsCache = {
    cMapUrl: withSep(path.join(dir, "cmaps")),
    standardFontDataUrl: withSep(path.join(dir, "standard_fonts")),
    ...(existsSync(wasm) ? { wasmUrl: withSep(wasm) } : {}),
  };
  return assetsCache;
}

// ---------------------------------------------------------------------------------------------
// page quality

export type PageQualityReason =
  | "empty"
  | "too_few_chars"
  | "replacement_chars"
  | "private_use_chars"
  | "broken_hangul"
  | "error";

export interface PageQuality {
  /** False when the page should be re-read by OCR. */
  ok: boolean;
  reason?: PageQualityReason;
  /** Non-whitespace characters. */
  chars: number;
  replacementChars: number;
  privateUseChars: number;
  /** Jamo not composed into syllables (U+1100–11FF, U+3131–318E) after NFC. */
  loneJamo: number;
  hangulSyllables: number;
}

export interface PageQualityOptions {
  /** Fewer non-whitespace characters than this → "too_few_chars" (default 20). */
  minChars?: number;
}

/** Judge whether a page's text layer is usable or needs OCR. */
export function assessPageText(text: string, options: PageQualityOptions = {}): PageQuality {
  const minChars = options.minChars ?? 20;
  const t = text.normalize("NFC");
  let chars = 0;
  let replacementChars = 0;
  let privateUseChars = 0;
  let loneJamo = 0;
  let hangulSyllables = 0;
  for (const ch of t) {
    if (/\s/.test(ch)) continue;
    chars++;
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfffd) replacementChars++;
    else if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000) privateUseChars++;
    else if ((cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0x3131 && cp <= 0x318e) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff)) loneJamo++;
    else if (cp >= 0xac00 && cp <= 0xd7a3) hangulSyllables++;
  }
  const base = { chars, replacementChars, privateUseChars, loneJamo, hangulSyllables };
  if (chars === 0) return { ok: false, reason: "empty", ...base };
  if (replacementChars / chars > 0.05 && replacementChars >= 3) return { ok: false, reason: "replacement_chars", ...base };
  if (privateUseChars / chars > 0.1 && privateUseChars >= 3) return { ok: false, reason: "private_use_chars", ...base };
  if (loneJamo >= 5 && loneJamo / (loneJamo + hangulSyllables) > 0.3) return { ok: false, reason: "broken_hangul", ...base };
  if (chars < minChars) return { ok: false, reason: "too_few_chars", ...base };
  return { ok: true, ...base };
}

/** Reasons for which the text layer is garbage (as opposed to merely short). */
export function isGarbled(q: PageQuality): boolean {
  return q.reason === "replacement_chars" || q.reason === "private_use_chars" || q.reason === "broken_hangul";
}

// ---------------------------------------------------------------------------------------------
// reading the text layer

export interface PdfPageText {
  /** 1-based page number. */
  page: number;
  /** Raw page text as pdf-parse returns it (lines separated by \n, wide gaps by \t), NFC. */
  text: string;
  quality: PageQuality;
  /** Message when reading this page failed. */
  error?: string;
}

export interface PdfTextLayer {
  numPages: number;
  /** The document info dictionary (Title, Author, Producer …). */
  info: Record<string, unknown>;
  /** Title from the info dictionary when it looks like a real title. */
  title?: string;
  pages: PdfPageText[];
  /** No %%EOF marker near the end of the file. */
  truncated: boolean;
}

export interface PdfReadOptions extends PageQualityOptions {
  password?: string;
  maxPages?: number;
  signal?: AbortSignal;
  /** Display name used in error messages. */
  source?: string;
  /** Read only these pages (1-based, inclusive; `pages` of the result holds only them). */
  range?: { first: number; last: number };
}

/**
 * Reads pages of the PDF being read somewhere else at the same time: an extraction process asks
 * its parent, which hands the range to another extraction process (src/services/jobs). One long
 * PDF (a 600-page manual) is then read by two processes instead of holding one while the other
 * idles; the rest of the document's pipeline (chunking, analysis) stays in one process.
 */
export interface PdfPageHelper {
  /**
   * Ask for pages `first`..`last` of this PDF (its bytes travel with the request: it may be a
   * file's attachment, not the file itself).
   */
  read(pdf: { bytes: Uint8Array; password?: string }, first: number, last: number): {
    /** The pages, as readPdfTextLayer would return them; rejects when the help failed. */
    pages: Promise<PdfPageText[]>;
    /** Take the range back if nobody has started it: resolves true (read it yourself) or false (it is being read: await `pages`). */
    reclaim(): Promise<boolean>;
  };
}

/** A PDF with at least this many pages is read in two halves when a helper is set (measured in docs/benchmarks.md, "Ingestion throughput"). */
export const SPLIT_READ_MIN_PAGES = 64;

let pageHelper: PdfPageHelper | null = null;

/** Set (or clear) the helper of this process: only extraction processes with a sibling have one. */
export function setPdfPageHelper(helper: PdfPageHelper | null): void {
  pageHelper = helper;
}

function errorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === "number") return e.code;
  if (typeof e?.cause?.code === "number") return e.cause.code;
  return undefined;
}

/** Map pdf-parse / pdfjs load errors to IngestError. */
export function pdfLoadError(err: unknown, source: string, passwordGiven: boolean): IngestError {
  if (err instanceof IngestError) return err;
  const e = err as Error;
  const name = e?.name ?? "";
  const message = e?.message ?? String(err);
  if (name === "PasswordException" || /password/i.test(message)) {
    const code = errorCode(err);
    if (code === 2 || (passwordGiven && code !== 1) || /incorrect/i.test(message)) {
      return new IngestError("wrong_password", `${source}: the password for this encrypted PDF is wrong`);
    }
    return new IngestError("encrypted_pdf", `${source} is an encrypted PDF; a password is needed to read it`);
  }
  if (name === "AbortException") return new IngestError("aborted", `${source}: extraction aborted`);
  return new IngestError("corrupt_pdf", `${source} is not a readable PDF (${name || "Error"}: ${message})`);
}

/** Info-dictionary titles that are really file names or placeholders are not titles. */
export function sensiblePdfTitle(raw: unknown): string | undefined {
  return sensibleTitle(raw);
}

function hasEofMarker(bytes: Uint8Array): boolean {
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(Math.max(0, bytes.byteLength - 4096));
  return tail.includes("%%EOF", 0, "latin1");
}

function checkAbort(signal: AbortSignal | undefined, source: string) {
  if (signal?.aborted) throw new IngestError("aborted", `${source}: extraction aborted`);
}

/**
 * Read the text layer of every page with a quality verdict per page. This is the seam for OCR:
 * pages whose quality is not ok can be re-read by OCR and swapped in by page number.
 * Throws IngestError: encrypted_pdf, wrong_password, corrupt_pdf, too_many_pages, aborted.
 */
/**
 * A pdf-parse instance with the pdfjs assets Korean text needs (CMaps, standard fonts) and no
 * script evaluation. Callers must `destroy()` it.
 */
export function openPdfParser(bytes: Uint8Array, password?: string): PDFParse {
  return new PDFParse({
    // pdfjs may take ownership of (detach) the array it is given: always pass a copy.
    data: new Uint8Array(bytes),
    ...(password !== undefined ? { password } : {}),
    ...pdfjsAssets(),
    isEvalSupported: false,
    useSystemFonts: false,
    verbosity: 0,
  });
}

export async function readPdfTextLayer(bytes: Uint8Array, options: PdfReadOptions = {}): Promise<PdfTextLayer> {
  const source = options.source ?? "PDF";
  const maxPages = options.maxPages ?? DEFAULT_MAX_PDF_PAGES;
  checkAbort(options.signal, source);
  const parser = openPdfParser(bytes, options.password);
  try {
    let info: Awaited<ReturnType<PDFParse["getInfo"]>>;
    try {
      info = await parser.getInfo();
    } catch (err) {
      throw pdfLoadError(err, source, options.password !== undefined);
    } finally {
      restoreNativeBuiltins(); // pdfjs loads its worker module with the first document
    }
    const numPages = info.total;
    if (numPages > maxPages) {
      throw new IngestError("too_many_pages", `${source} has ${numPages} pages; the limit is ${maxPages}`);
    }
    const readPages = async (first: number, last: number): Promise<PdfPageText[]> => {
      const out: PdfPageText[] = [];
      for (let p = first; p <= last; p++) {
        checkAbort(options.signal, source);
        try {
          const result = await parser.getText({ first: p, last: p, pageJoiner: "" });
          const text = (result.pages[0]?.text ?? "").normalize("NFC");
          out.push({ page: p, text, quality: assessPageText(text, options) });
        } catch (err) {
          const message = (err as Error)?.message ?? String(err);
          out.push({
            page: p,
            text: "",
            error: message,
            quality: { ...assessPageText(""), reason: "error" },
          });
        }
      }
      return out;
    };
    let pages: PdfPageText[];
    if (options.range) {
      pages = await readPages(Math.max(1, options.range.first), Math.min(numPages, options.range.last));
    } else if (pageHelper && numPages >= SPLIT_READ_MIN_PAGES) {
      // The back half is read by a sibling process while this one reads the front half; if no
      // sibling has started on it by then, this process takes it back and reads it too.
      const half = Math.ceil(numPages / 2);
      const help = pageHelper.read({ bytes, ...(options.password !== undefined ? { password: options.password } : {}) }, half + 1, numPages);
      help.pages.catch(() => undefined); // awaited below, or dropped when taken back
      const front = await readPages(1, half);
      let back: PdfPageText[] | null = null;
      if (!(await help.reclaim().catch(() => true))) back = await help.pages.catch(() => null);
      // Judged here, with this reader's settings (the sibling returns the same text).
      back = back?.map((p) => (p.error ? p : { ...p, quality: assessPageText(p.text, options) })) ?? null;
      checkAbort(options.signal, source);
      pages = [...front, ...(back ?? (await readPages(half + 1, numPages)))];
    } else {
      pages = await readPages(1, numPages);
    }
    const rawInfo = (info.info ?? {}) as Record<string, unknown>;
    return { numPages, info: rawInfo, title: sensiblePdfTitle(rawInfo.Title), pages, truncated: !hasEofMarker(bytes) };
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// page text → blocks

/**
 * Split one page's raw text into blocks. Blank lines separate blocks; lines are kept (normalize.ts
 * reflows PDF paragraphs: joins lines broken mid-sentence, splits at paragraph/list starts).
 */
export function pdfPageToBlocks(text: string): Block[] {
  return text
    .replace(/\r\n?/g, "\n")
    .split(/\n[ \t\u00a0\u3000]*\n/)
    .map((t) => t.split("\n").map((l) => l.replace(/\s+$/, "")).filter((l) => l.trim()).join("\n"))
    .filter((t) => t.length > 0)
    .map((t) => ({ kind: "paragraph" as const, text: t }));
}

// ---------------------------------------------------------------------------------------------
// the extractor

/** What an OCR fallback returns for one page. */
export interface OcrPageResult {
  page: number;
  text: string;
  /** 0..100 */
  confidence?: number;
  /** The page was described by the image model (a scanned photo or diagram): counts against the file's description budget. */
  described?: boolean;
}

/**
 * Reads the pictures on pages whose text came from the text layer (a chart or a photo on a text
 * page): their OCR text and, for pictures without text, a description by the image model.
 * `maxDescribed` is what is left of the file's description budget after the OCR fallback.
 * Returns the paragraphs to add to each page.
 */
export type PdfPictureReader = (input: {
  file: SourceFile;
  pages: number[];
  password?: string;
  maxDescribed: number;
  signal?: AbortSignal;
}) => Promise<{ paragraphs: Map<number, string[]>; warnings: string[] }>;

/**
 * OCR fallback for pages whose text layer failed the quality check. Receives the file and the
 * failing pages (with their verdicts); returns text for the pages it could read.
 */
export type PdfOcrFallback = (input: {
  file: SourceFile;
  pages: PdfPageText[];
  password?: string;
  signal?: AbortSignal;
}) => Promise<OcrPageResult[]>;

export interface PdfExtractorConfig {
  ocrFallback?: PdfOcrFallback;
  /** Pictures on text pages (only with an image-description model: ingest/formats.ts). */
  pictures?: PdfPictureReader;
  maxPages?: number;
  minChars?: number;
}

/** Build a PDF extractor; register the result with an OCR fallback to replace the default one. */
export function createPdfExtractor(config: PdfExtractorConfig = {}): Extractor {
  return {
    kinds: ["pdf"],
    async extract(file: SourceFile, type: DetectedType, options: PdfExtractOptions = {}): Promise<ExtractedDocument> {
      const password = file.password ?? options.password;
      const layer = await readPdfTextLayer(file.bytes, {
        password,
        maxPages: options.maxPages ?? config.maxPages,
        minChars: config.minChars,
        signal: options.signal,
        source: file.source,
      });
      const warnings: string[] = [];
      if (layer.truncated) warnings.push("file appears truncated (no %%EOF marker); text may be incomplete");

      const ocr = new Map<number, OcrPageResult>();
      const needOcr = layer.pages.filter((p) => !p.quality.ok);
      if (config.ocrFallback && needOcr.length) {
        try {
          for (const r of await config.ocrFallback({ file, pages: needOcr, password, signal: options.signal })) ocr.set(r.page, r);
        } catch (err) {
          if (err instanceof IngestError && err.code === "aborted") throw err;
          warnings.push(`OCR fallback failed: ${(err as Error)?.message ?? String(err)}`);
        }
      }

      const pages: ExtractedPage[] = [];
      const missing: number[] = [];
      const garbled: number[] = [];
      const failed: number[] = [];
      for (const p of layer.pages) {
        const o = ocr.get(p.page);
        const layerChars = p.quality.chars;
        const ocrChars = o ? o.text.replace(/\s/g, "").length : 0;
        const useOcr = o !== undefined && ocrChars > 0 && (isGarbled(p.quality) || p.quality.reason === "error" || ocrChars > layerChars);
        if (useOcr) {
          const blocks = pdfPageToBlocks(o.text.normalize("NFC"));
          if (blocks.length) {
            pages.push({ page: p.page, blocks, ...(o.confidence !== undefined ? { ocrConfidence: o.confidence } : {}) });
            warnings.push(`page ${p.page} read by OCR${o.confidence !== undefined ? ` (confidence ${Math.round(o.confidence)})` : ""}`);
            continue;
          }
        }
        if (p.quality.reason === "error") {
          failed.push(p.page);
          continue;
        }
        if (isGarbled(p.quality)) {
          garbled.push(p.page);
          continue;
        }
        const blocks = pdfPageToBlocks(p.text);
        if (blocks.length === 0) {
          missing.push(p.page);
          continue;
        }
        pages.push({ page: p.page, blocks });
      }
      if (config.pictures) {
        // Pages the OCR fallback read were rendered whole (and described, when they had no text).
        const described = [...ocr.values()].filter((o) => o.described).length;
        const maxDescribed = Math.max(0, extractionSettings().describeMaxPerFile - described);
        const candidates = layer.pages.filter((p) => p.quality.reason !== "error" && !ocr.has(p.page)).map((p) => p.page);
        try {
          const read = await config.pictures({ file, pages: candidates, password, maxDescribed, signal: options.signal });
          warnings.push(...read.warnings);
          for (const [page, paragraphs] of read.paragraphs) {
            const blocks = paragraphs.map((text) => ({ kind: "paragraph" as const, text }));
            if (blocks.length === 0) continue;
            const at = pages.find((p) => p.page === page);
            if (at) at.blocks.push(...blocks);
            else {
              // A page without a usable text layer whose pictures say something (OCR of PDF pages is off).
              pages.push({ page, blocks });
              for (const list of [missing, garbled]) if (list.includes(page)) list.splice(list.indexOf(page), 1);
            }
          }
          pages.sort((a, b) => a.page - b.page);
        } catch (err) {
          if (err instanceof IngestError && err.code === "aborted") throw err;
          warnings.push(`pictures could not be read: ${(err as Error)?.message ?? String(err)}`);
        }
      }
      if (failed.length) warnings.push(`pages ${failed.join(", ")} could not be read and were skipped`);
      if (garbled.length) warnings.push(`pages ${garbled.join(", ")} have an unreadable text layer (broken font encoding) and were skipped; they need OCR`);
      if (missing.length && pages.length) warnings.push(`pages ${missing.join(", ")} have no text layer; they need OCR`);

      if (pages.length === 0) {
        if (layer.numPages === 0 || failed.length === layer.numPages || (layer.truncated && garbled.length === 0)) {
          throw new IngestError("corrupt_pdf", `${file.source}: no page of this PDF could be read${layer.truncated ? " (the file appears truncated)" : ""}`);
        }
        const why = garbled.length ? "its text layer is unreadable (broken font encoding)" : "it has no text layer (scanned or image-only)";
        throw new IngestError("no_text_layer", `${file.source}: ${why}; it needs OCR`);
      }
      return {
        mime: type.mime || "application/pdf",
        title: layer.title ?? titleFromFileName(file.source),
        pages,
        warnings,
      };
    },
  };
}

/** The default PDF extractor: text layer only, no OCR. */
export const pdfExtractor: Extractor = createPdfExtractor();
