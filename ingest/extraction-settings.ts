/**
 * The settings extraction takes from configuration (src/config.ts reads them from the environment,
 * once). Extractors and the OCR engine are process-wide, so the composition root hands the settings
 * over once at start (`configureExtraction`, from openKb) and an extraction child process receives
 * the parent's in its fork arguments (src/services/ingest/extract-processes.ts); nothing under
 * ingest/ reads the environment.
 */
export interface ExtractionSettings {
  /** OCR the pictures inside DOCX/PPTX/XLSX/HWP/HWPX files (KB_OCR_PICTURES; off: faster bulk ingestion). */
  ocrPictures: boolean;
  /** Tesseract workers of the process's OCR engine (KB_OCR_WORKERS; 0: one per core). */
  ocrWorkers: number;
  /**
   * OCR the PDF pages whose text layer is missing or garbled (KB_OCR_PDF; off: text layer only,
   * such pages are skipped with a warning and a PDF without any text fails with `no_text_layer`).
   */
  ocrPdf: boolean;
  /**
   * An image-description model is configured (KB_IMAGE_MODEL): extraction child processes ask
   * their parent to describe pictures (ingest/image-description.ts). False: no descriptions.
   */
  describeImages: boolean;
  /** Most pictures described per file (KB_IMAGE_MAX_PER_FILE). */
  describeMaxPerFile: number;
  /** LibreOffice's soffice for .doc/.xls/.ppt/.rtf/.odt/.ods/.odp (KB_SOFFICE_PATH); empty: found on PATH. */
  sofficePath: string;
  /** Time one LibreOffice conversion may take, ms (KB_SOFFICE_TIMEOUT_S). */
  sofficeTimeoutMs: number;
  /** Address-space limit of one LibreOffice conversion, MiB (KB_SOFFICE_MEMORY_MB). */
  sofficeMemoryMb: number;
}

export const DEFAULT_EXTRACTION_SETTINGS: Readonly<ExtractionSettings> = Object.freeze({
  ocrPictures: true,
  ocrWorkers: 0,
  ocrPdf: true,
  describeImages: false,
  describeMaxPerFile: 20,
  sofficePath: "",
  sofficeTimeoutMs: 120_000,
  sofficeMemoryMb: 2048,
});

let current: Readonly<ExtractionSettings> = DEFAULT_EXTRACTION_SETTINGS;

/** Sets this process's extraction settings; extractors loaded with other settings are loaded again. */
export function configureExtraction(settings: Partial<ExtractionSettings>): void {
  current = Object.freeze({ ...current, ...settings });
}

export function extractionSettings(): Readonly<ExtractionSettings> {
  return current;
}
