/**
 * The extractors of issue 4 (OCR and Office/HWP formats), for the registry:
 *
 *     for (const e of formatExtractors) registerExtractor(e);
 *
 * Kinds: image, docx, pptx, xlsx, csv, hwp, hwpx, eml. The PDF OCR fallback is separate
 * (ingest/ocr/pdf-ocr.ts: `registerExtractor(createPdfExtractor({ ocrFallback: pdfOcrFallback }))`).
 * Each module also exports a `create…Extractor(config)` factory for non-default limits.
 */
import type { Extractor } from "../types.ts";
import { csvExtractor } from "./csv.ts";
import { docxExtractor } from "./docx.ts";
import { emlExtractor } from "./eml.ts";
import { hwpExtractor } from "./hwp.ts";
import { hwpxExtractor } from "./hwpx.ts";
import { imageExtractor } from "./image.ts";
import { pptxExtractor } from "./pptx.ts";
import { xlsxExtractor } from "./xlsx.ts";

export const formatExtractors: Extractor[] = [
  imageExtractor,
  docxExtractor,
  pptxExtractor,
  xlsxExtractor,
  csvExtractor,
  hwpExtractor,
  hwpxExtractor,
  emlExtractor,
];
