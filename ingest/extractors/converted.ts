/**
 * Formats read by converting them with LibreOffice (ingest/convert/libreoffice.ts) and handing the
 * result to one of our extractors. The target is chosen per format (ingest/formats.ts) by what a
 * reader needs from the result:
 *   - .doc .rtf .odt → PDF: word-processor files have no pages of their own; LibreOffice's layout
 *     gives the page numbers a citation points to (page 3 of the printed document). Headings and
 *     tables become PDF text (the PDF extractor's reading order and table detection apply).
 *   - .xls .ods → XLSX: a workbook's structure is its sheets and tables; a PDF of a spreadsheet
 *     cuts tables across print pages and loses the sheet names. As XLSX, each sheet is a page
 *     headed by its name with its tables as Markdown tables, like any Excel file.
 *   - .ppt .odp → PPTX: a slide is a page either way, and PPTX keeps what a PDF loses: slide
 *     titles, bullet lists, tables, speaker notes and the pictures (OCR'd in place).
 * The document keeps its own MIME type; a warning says it was converted.
 */
import { convertWithLibreOffice, type LibreOfficeOptions } from "../convert/libreoffice.ts";
import type { DetectedType, ExtractedDocument, ExtractOptions, Extractor, SourceFile } from "../types.ts";

export interface ConvertedFormat {
  /** The detected kind, e.g. "doc"; also the extension the converter gets. */
  kind: string;
  /** LibreOffice's --convert-to target: "pdf", "xlsx" or "pptx". */
  target: string;
  /** The detected type of the converted file, for its extractor. */
  targetType: DetectedType;
  /** The extractor of the converted file (the format table's, with this process's settings). */
  extractor: Extractor;
  libreOffice?: Omit<LibreOfficeOptions, "signal">;
}

export function createConvertedExtractor(format: ConvertedFormat): Extractor {
  return {
    kinds: [format.kind],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const converted = await convertWithLibreOffice(file.bytes, format.kind, format.target, file.source, {
        ...format.libreOffice,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const doc = await format.extractor.extract({ source: file.source, bytes: converted }, format.targetType, options);
      return { ...doc, mime: type.mime, warnings: [`converted to ${format.target.toUpperCase()} by LibreOffice`, ...doc.warnings] };
    },
  };
}
