/**
 * Files attached to a message (EML, Outlook .msg) or held in an archive (.zip), extracted through the whole pipeline
 * (`ExtractOptions.extractEmbedded`: detect → the format table's extractor → normalize). Each
 * readable attachment adds its pages after the message's, its first page headed
 * "Attachment: <name>"; unsupported or failing attachments are listed in the warnings with their
 * reason. Limits: `maxAttachments`, `maxAttachmentBytes`, nesting `maxDepth` (a message attached to
 * a message attached to …).
 */
import { IngestError, type ExtractedPage, type ExtractOptions, type SourceFile } from "../types.ts";

export interface AttachmentLimits {
  /** Most attachments extracted per message. Default 50. */
  maxAttachments?: number;
  /** Larger attachments are skipped. Default 50 MiB. */
  maxAttachmentBytes?: number;
  /** Message-in-message nesting limit. Default 3. */
  maxDepth?: number;
  /** What an embedded file's first page is headed with, before its name. Default "Attachment". */
  label?: string;
}

export interface Attachment {
  name: string;
  bytes: Uint8Array;
}

/** Nesting depth of SourceFiles created for attachments (shared by every message format). */
const depthOf = new WeakMap<SourceFile, number>();

/** Extracts `attachments` of `file` and appends their pages to `pages` (numbered on). */
export async function appendAttachments(
  file: SourceFile,
  attachments: readonly Attachment[],
  pages: ExtractedPage[],
  warnings: string[],
  options: ExtractOptions,
  limits: AttachmentLimits = {},
): Promise<void> {
  const maxAttachments = limits.maxAttachments ?? 50;
  const maxBytes = limits.maxAttachmentBytes ?? 50 * 1024 * 1024;
  const maxDepth = limits.maxDepth ?? 3;
  const label = limits.label ?? "Attachment";
  if (attachments.length === 0) return;
  const depth = depthOf.get(file) ?? 0;
  const extractFile = options.extractEmbedded;
  if (!extractFile) {
    warnings.push(`${attachments.length} attachment(s) not read: extracted without the pipeline (ExtractOptions.extractEmbedded)`);
    return;
  }
  if (depth >= maxDepth) {
    warnings.push(`${attachments.length} attachment(s) not read: nesting deeper than ${maxDepth} containers`);
    return;
  }
  if (attachments.length > maxAttachments) warnings.push(`only the first ${maxAttachments} of ${attachments.length} attachments were read`);
  let next = pages.length + 1;
  for (const { name, bytes } of attachments.slice(0, maxAttachments)) {
    if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
    if (bytes.length === 0) continue;
    if (bytes.length > maxBytes) {
      warnings.push(`attachment ${name} skipped: ${bytes.length} bytes is over the limit of ${maxBytes}`);
      continue;
    }
    const child: SourceFile = { source: `${file.source}/${name}`, bytes };
    depthOf.set(child, depth + 1);
    try {
      const res = await extractFile(child, { ...(options.signal ? { signal: options.signal } : {}) });
      let first = true;
      for (const p of res.document.pages) {
        const pb = first ? [{ kind: "heading" as const, level: 2, text: `${label}: ${name}` }, ...p.blocks] : p.blocks;
        first = false;
        pages.push({ page: next++, blocks: pb, ...(p.ocrConfidence !== undefined ? { ocrConfidence: p.ocrConfidence } : {}) });
      }
      for (const w of res.document.warnings) warnings.push(`attachment ${name}: ${w}`);
    } catch (err) {
      if (err instanceof IngestError && err.code === "aborted") throw err;
      const code = err instanceof IngestError ? err.code : "extract_failed";
      warnings.push(`attachment ${name} skipped (${code}): ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
