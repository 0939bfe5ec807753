/**
 * detect → extract (registry) → normalize, for one file.
 * Only IngestError ever leaves this function: anything unexpected thrown by a stage or an extractor
 * becomes IngestError("extract_failed", reason), so one bad file never breaks a batch.
 */
import { detectType } from "./detect.ts";
import { getExtractor } from "./extractors/registry.ts";
import { normalizeDocument } from "./normalize.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractOptions, type SourceFile } from "./types.ts";

/** Text-like kinds that fall back to the plain-text extractor until a dedicated one is registered. */
export const TEXT_FALLBACK_KINDS: ReadonlySet<string> = new Set(["csv", "eml", "xml"]);

export interface ExtractFileOptions extends ExtractOptions {
  /** PDF page-count guard (default 5000). */
  maxPages?: number;
}

export interface ExtractFileResult {
  type: DetectedType;
  document: ExtractedDocument;
}

function reason(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

export async function extractFile(file: SourceFile, options: ExtractFileOptions = {}): Promise<ExtractFileResult> {
  try {
    if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
    const type = await detectType(file);
    let extractor = getExtractor(type.kind);
    let fallbackWarning: string | undefined;
    if (!extractor && TEXT_FALLBACK_KINDS.has(type.kind)) {
      // Text-like formats without a dedicated extractor yet are still worth indexing as plain text.
      extractor = getExtractor("text");
      fallbackWarning = `no ${type.kind} extractor is registered; indexed as plain text`;
    }
    if (!extractor) {
      throw new IngestError("unsupported_type", `${file.source}: ${type.kind} files (${type.mime}) are not supported yet`);
    }
    const raw = await extractor.extract(file, type, { ...options, password: file.password ?? options.password });
    if (fallbackWarning) raw.warnings = [...raw.warnings, fallbackWarning];
    const document = normalizeDocument(raw);
    if (!document.pages.some((p) => p.blocks.length > 0)) {
      throw new IngestError("no_content", `${file.source} contains no text`);
    }
    return { type: { mime: type.mime, kind: type.kind }, document };
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw new IngestError("extract_failed", `${file.source}: extraction failed (${reason(err)})`);
  }
}
