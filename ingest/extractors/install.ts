/**
 * Registers every format extractor with the registry, and replaces the plain PDF extractor with
 * one that OCRs pages whose text layer is missing or garbled. Imported once by the pipeline.
 */
import { pdfOcrFallback } from "../ocr/pdf-ocr.ts";
import { formatExtractors } from "./all-formats.ts";
import { createPdfExtractor } from "./pdf.ts";
import { registerExtractor } from "./registry.ts";

for (const extractor of formatExtractors) registerExtractor(extractor);
registerExtractor(createPdfExtractor({ ocrFallback: pdfOcrFallback }));
