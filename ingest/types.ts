/**
 * Typed records passed between ingestion stages:
 *   detect → extract (pages → blocks) → normalize → chunk → analyze → embed → write.
 * Every stage is a plain function over these records so it can be tested alone.
 */

/** What we know about an input before extraction. */
export interface SourceFile {
  /** Display path or upload name; never used to open files once the bytes are read. */
  source: string;
  bytes: Uint8Array;
  /** Optional password for encrypted PDFs / Office files. */
  password?: string;
}

export type BlockKind = "heading" | "paragraph" | "list" | "table" | "caption" | "code";

export interface Block {
  kind: BlockKind;
  text: string;
  /** Heading level 1..6, only for kind === "heading". */
  level?: number;
}

export interface ExtractedPage {
  /** 1-based page (or slide / sheet) number as shown to users in citations. */
  page: number;
  blocks: Block[];
  /** OCR confidence 0..100 when the page was read by OCR. */
  ocrConfidence?: number;
}

export interface ExtractedDocument {
  mime: string;
  title?: string;
  pages: ExtractedPage[];
  /** Non-fatal notes (e.g. "page 3 read by OCR"). */
  warnings: string[];
}

/** A detected file type. `kind` picks the extractor. */
export interface DetectedType {
  mime: string;
  kind: string;
}

/** Caps on what a container may inflate to (KB_MAX_XML_PART_MB, KB_MAX_DOCUMENT_UNCOMPRESSED_MB). */
export interface ContainerLimits {
  /** Largest XML part (.xml, .rels) of a zip container once inflated, in bytes. */
  maxXmlPartBytes?: number;
  /** Largest total a document inflates to (all zip entries; each HWP stream), in bytes. */
  maxDocumentBytes?: number;
}

export interface ExtractOptions {
  password?: string;
  /** Abort long extractions (OCR, huge PDFs). */
  signal?: AbortSignal;
  /** Decompression caps; an extractor's own configuration wins over these, these over the defaults. */
  limits?: ContainerLimits;
  /**
   * Extracts a file found inside this one (an e-mail attachment) through the whole detect → extract
   * → normalize path; ingest/extract.ts passes itself. Without it, containers skip their files.
   */
  extractEmbedded?: (file: SourceFile, options: ExtractOptions) => Promise<{ document: ExtractedDocument }>;
}

/** An extractor turns bytes of one detected kind into pages of blocks. */
export interface Extractor {
  /** Detected kinds this extractor handles, e.g. ["pdf"]. */
  kinds: string[];
  extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument>;
}

/** A chunk before analysis/embedding. Page numbers are 1-based. */
export interface ChunkDraft {
  ordinal: number;
  text: string;
  pageStart: number;
  pageEnd: number;
  /** Heading path, e.g. ["휴가 규정", "연차"]. */
  headings: string[];
}

/** Errors that describe why one file could not be ingested; the message is shown to users. */
export class IngestError extends Error {
  constructor(
    /** Stable machine-readable reason, e.g. "empty_file", "encrypted_pdf", "unsupported_type". */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "IngestError";
  }
}
