/**
 * The file formats: one row per kind that detectType (detect.ts) can return. Adding a format is
 * adding a row here (plus its extractor module, and a detection rule in detect.ts when file-type
 * does not report a MIME type for it); see docs/architecture.md, "How to add a file format".
 *
 * Extractors are loaded on first use (`load`), so commands that never extract start fast: the
 * format libraries (tesseract.js, sharp, exceljs, mammoth, pdf.js) are large.
 */
import { extractionSettings, type ExtractionSettings } from "./extraction-settings.ts";
import type { Extractor } from "./types.ts";

export interface Format {
  /** The kind detectType returns for it, e.g. "docx". */
  kind: string;
  /**
   * How detectType recognizes it: `mimes` are the MIME types file-type reports for it (detect.ts
   * maps them to this kind); `rule` names the content rule of detect.ts that finds it otherwise
   * (text sniffing, OLE streams, zip parts, signatures).
   */
  detect: { mimes?: readonly string[]; rule?: string };
  /** Its extractor, built with this process's settings. No `load`: detected, but not supported. */
  load?: (settings: Readonly<ExtractionSettings>) => Promise<Extractor>;
}

/** Text-like formats indexed by the plain-text extractor, with a warning that says so. */
async function asPlainText(kind: string): Promise<Extractor> {
  const { textExtractor } = await import("./extractors/text.ts");
  return {
    kinds: [kind],
    async extract(file, type, options) {
      const raw = await textExtractor.extract(file, type, options);
      return { ...raw, warnings: [...raw.warnings, `no ${kind} extractor is registered; indexed as plain text`] };
    },
  };
}

/**
 * A format LibreOffice converts (ingest/convert/libreoffice.ts) to `target`, whose extractor in this
 * table reads the result; ingest/extractors/converted.ts says why each format gets its target.
 */
async function convertedBy(kind: string, target: "pdf" | "xlsx" | "pptx", s: Readonly<ExtractionSettings>): Promise<Extractor> {
  const [{ createConvertedExtractor }, extractor] = await Promise.all([import("./extractors/converted.ts"), extractorFor(target)]);
  if (!extractor) throw new Error(`${kind}: no extractor for its conversion target ${target}`);
  return createConvertedExtractor({
    kind,
    target,
    targetType: { kind: target, mime: TARGET_MIME[target] },
    extractor,
    libreOffice: { sofficePath: s.sofficePath, timeoutMs: s.sofficeTimeoutMs, memoryMb: s.sofficeMemoryMb },
  });
}

const TARGET_MIME = {
  pdf: "application/pdf",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
} as const;

const OOXML = "zip parts (detect.ts: detectZip)";
const OLE = "OLE streams (detect.ts: detectCfb)";
const TEXT = "text sniffing (detect.ts: detectText)";

export const FORMATS: readonly Format[] = [
  { kind: "text", detect: { rule: TEXT }, load: async () => (await import("./extractors/text.ts")).textExtractor },
  { kind: "markdown", detect: { rule: TEXT }, load: async () => (await import("./extractors/markdown.ts")).markdownExtractor },
  { kind: "html", detect: { rule: TEXT }, load: async () => (await import("./extractors/html.ts")).htmlExtractor },
  {
    kind: "pdf",
    detect: { mimes: ["application/pdf"] },
    // Pages whose text layer is missing or garbled go to OCR (unless KB_OCR_PDF is off). With an
    // image-description model (KB_IMAGE_MODEL), pages OCR finds no text on are described, and the
    // pictures on text pages are read and described (unless KB_OCR_PICTURES is off); without one,
    // a PDF's pictures are not decoded at all (bulk ingestion stays as fast as the text layer).
    load: async (s) => {
      const pictures = s.describeImages && s.ocrPictures;
      if (!s.ocrPdf && !pictures) return (await import("./extractors/pdf.ts")).pdfExtractor;
      const [{ createPdfExtractor }, { pdfOcrFallback, pdfPictureReader }] = await Promise.all([import("./extractors/pdf.ts"), import("./ocr/pdf-ocr.ts")]);
      return createPdfExtractor({ ...(s.ocrPdf ? { ocrFallback: pdfOcrFallback } : {}), ...(pictures ? { pictures: pdfPictureReader } : {}) });
    },
  },
  { kind: "csv", detect: { rule: TEXT }, load: async () => (await import("./extractors/csv.ts")).csvExtractor },
  { kind: "eml", detect: { mimes: ["message/rfc822"], rule: TEXT }, load: async () => (await import("./extractors/eml.ts")).emlExtractor },
  { kind: "xml", detect: { rule: TEXT }, load: () => asPlainText("xml") },
  {
    kind: "docx",
    detect: { mimes: ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.ms-word.document.macroenabled.12"], rule: OOXML },
    load: async (s) => (await import("./extractors/docx.ts")).createDocxExtractor(s.ocrPictures ? {} : { pictures: false }),
  },
  {
    kind: "xlsx",
    detect: { mimes: ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-excel.sheet.macroenabled.12"], rule: OOXML },
    load: async (s) => (await import("./extractors/xlsx.ts")).createXlsxExtractor(s.ocrPictures ? {} : { pictures: false }),
  },
  {
    kind: "pptx",
    detect: { mimes: ["application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/vnd.ms-powerpoint.presentation.macroenabled.12"], rule: OOXML },
    load: async (s) => (await import("./extractors/pptx.ts")).createPptxExtractor(s.ocrPictures ? {} : { pictures: false }),
  },
  // Converted by LibreOffice: word-processor files to PDF (page numbers for citations), workbooks
  // to XLSX (sheets and tables), presentations to PPTX (slides with titles, tables, notes, pictures).
  { kind: "doc", detect: { mimes: ["application/msword"], rule: OLE }, load: (s) => convertedBy("doc", "pdf", s) },
  { kind: "xls", detect: { mimes: ["application/vnd.ms-excel"], rule: OLE }, load: (s) => convertedBy("xls", "xlsx", s) },
  { kind: "ppt", detect: { mimes: ["application/vnd.ms-powerpoint"], rule: OLE }, load: (s) => convertedBy("ppt", "pptx", s) },
  { kind: "msg", detect: { mimes: ["application/vnd.ms-outlook"], rule: OLE }, load: async () => (await import("./extractors/msg.ts")).msgExtractor },
  { kind: "odt", detect: { mimes: ["application/vnd.oasis.opendocument.text"] }, load: (s) => convertedBy("odt", "pdf", s) },
  { kind: "ods", detect: { mimes: ["application/vnd.oasis.opendocument.spreadsheet"] }, load: (s) => convertedBy("ods", "xlsx", s) },
  { kind: "odp", detect: { mimes: ["application/vnd.oasis.opendocument.presentation"] }, load: (s) => convertedBy("odp", "pptx", s) },
  { kind: "rtf", detect: { mimes: ["application/rtf"] }, load: (s) => convertedBy("rtf", "pdf", s) },
  { kind: "epub", detect: { mimes: ["application/epub+zip"] }, load: async () => (await import("./extractors/epub.ts")).epubExtractor },
  {
    kind: "hwp",
    detect: { rule: `HWP 5 ${OLE}, or the HWP 3 signature` },
    load: async (s) => (await import("./extractors/hwp.ts")).createHwpExtractor(s.ocrPictures ? {} : { pictures: false }),
  },
  { kind: "hwpx", detect: { rule: `mimetype entry or Contents/ parts, ${OOXML}` }, load: async (s) => (await import("./extractors/hwpx.ts")).createHwpxExtractor(s.ocrPictures ? {} : { pictures: false }) },
  {
    kind: "image",
    detect: {
      mimes: ["image/png", "image/jpeg", "image/tiff", "image/bmp", "image/gif", "image/webp", "image/heic", "image/heif", "image/jp2", "image/jpx"],
    },
    load: async () => (await import("./extractors/image.ts")).imageExtractor,
  },
  // An archive is one document of its files' pages (extractors/archive.ts says why).
  { kind: "zip", detect: { rule: `any other zip (${OOXML})` }, load: async () => (await import("./extractors/archive.ts")).archiveExtractor },
];

const byKind = new Map(FORMATS.map((f) => [f.kind, f]));

export function formatOf(kind: string): Format | undefined {
  return byKind.get(kind);
}

/** Kinds that have an extractor, sorted. */
export function supportedKinds(): string[] {
  return FORMATS.filter((f) => f.load).map((f) => f.kind).sort();
}

/** Loaded extractors, with the settings they were built with. */
const loaded = new Map<string, { settings: Readonly<ExtractionSettings>; extractor: Promise<Extractor> }>();
/** Tests and benches: an extractor used instead of the table's (null: as if the kind had none). */
const overrides = new Map<string, Extractor | null>();

/** The extractor for a kind (undefined: the kind is not supported). */
export async function extractorFor(kind: string): Promise<Extractor | undefined> {
  const override = overrides.get(kind);
  if (override !== undefined) return override ?? undefined;
  const format = byKind.get(kind);
  if (!format?.load) return undefined;
  const settings = extractionSettings();
  let entry = loaded.get(kind);
  if (!entry || entry.settings !== settings) {
    entry = { settings, extractor: format.load(settings) };
    loaded.set(kind, entry);
    // A failed import is not cached: the next file tries again.
    entry.extractor.catch(() => loaded.get(kind) === entry && loaded.delete(kind));
  }
  return entry.extractor;
}

/** Loads every supported format's extractor (extraction processes do it before their first file). */
export async function loadAllExtractors(): Promise<void> {
  await Promise.all(supportedKinds().map((k) => extractorFor(k)));
}

/** Whether any extractor was loaded in this process (so the OCR engine may be running). */
export function extractorsLoaded(): boolean {
  return loaded.size > 0;
}

/**
 * Tests and benches: use `extractor` for `kinds` (default: the kinds it declares) instead of the
 * table's; `null` makes the kinds unsupported. Returns the function that restores the table.
 */
export function overrideExtractor(extractor: Extractor | null, kinds: readonly string[] = extractor?.kinds ?? []): () => void {
  if (!kinds.length) throw new Error("overrideExtractor: no kinds");
  const before = kinds.map((k) => [k, overrides.get(k)] as const);
  for (const k of kinds) overrides.set(k, extractor);
  return () => {
    for (const [k, e] of before) {
      if (e === undefined) overrides.delete(k);
      else overrides.set(k, e);
    }
  };
}
