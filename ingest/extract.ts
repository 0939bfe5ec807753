/**
 * detect → extract (the format table's extractor) → normalize, for one file.
 * Only IngestError ever leaves this function: anything unexpected thrown by a stage or an extractor
 * becomes IngestError("extract_failed", reason), so one bad file never breaks a batch.
 */
import { detectType } from "./detect.ts";
import { extractorFor } from "./formats.ts";
import { labelImageDescriptions } from "./image-description.ts";
import { normalizeDocument } from "./normalize.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractOptions, type SourceFile } from "./types.ts";

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
    const extractor = await extractorFor(type.kind);
    if (!extractor) {
      throw new IngestError("unsupported_type", `${file.source}: ${type.kind} files (${type.mime}) are not supported yet`);
    }
    // Containers (e-mail attachments) extract their files through this function, handed down
    // rather than imported: the extractors are below this module.
    const raw = await extractor.extract(file, type, { ...options, password: file.password ?? options.password, extractEmbedded: extractFile });
    // Picture descriptions (KB_IMAGE_MODEL) get their label from the document's language.
    const document = normalizeDocument(labelImageDescriptions(raw));
    if (!document.pages.some((p) => p.blocks.length > 0)) {
      throw new IngestError("no_content", `${file.source} contains no text`);
    }
    return { type: { mime: type.mime, kind: type.kind }, document };
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw new IngestError("extract_failed", `${file.source}: extraction failed (${reason(err)})`);
  }
}
