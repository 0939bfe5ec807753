/**
 * Registers every format extractor with the registry, and replaces the plain PDF extractor with
 * one that OCRs pages whose text layer is missing or garbled. Imported once by the pipeline.
 */
import { pdfOcrFallback } from "../ocr/pdf-ocr.ts";
import { formatExtractors } from "./all-formats.ts";
import { createDocxExtractor } from "./docx.ts";
import { createPdfExtractor } from "./pdf.ts";
import { createPptxExtractor } from "./pptx.ts";
import { registerExtractor } from "./registry.ts";

/**
 * Registers the extractors. `KB_OCR_PICTURES=off`: pictures inside DOCX/PPTX files are not OCR'd
 * (faster bulk ingestion). Read from the environment, like KB_OCR_WORKERS, because extractors are
 * process-wide.
 */
export function installExtractors(env: Record<string, string | undefined> = process.env): void {
  for (const extractor of formatExtractors) registerExtractor(extractor);
  registerExtractor(createPdfExtractor({ ocrFallback: pdfOcrFallback }));
  if (/^(off|0|false|no)$/i.test(env.KB_OCR_PICTURES ?? "")) {
    registerExtractor(createDocxExtractor({ pictures: false }));
    registerExtractor(createPptxExtractor({ pictures: false }));
  }
}

installExtractors();
