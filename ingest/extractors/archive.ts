/**
 * Zip archives: every file in the archive goes through the whole pipeline (detect → the format
 * table's extractor → normalize), as a message's attachments do (attachments.ts), and the archive
 * becomes ONE document whose pages are its files' pages in archive order, each file's first page
 * headed "File: <path in the archive>". One document, not one per file, because a file in the
 * knowledge base is what access rules, versions, erasure and citations are attached to: the
 * archive is what the user uploaded or what the sync root holds.
 *
 * Limits: the zip-bomb checks of openZip (entry count, declared and actually inflated sizes;
 * KB_MAX_DOCUMENT_UNCOMPRESSED_MB), at most `maxFiles` files read, an archive inside an archive
 * (or a message) at most 3 deep. Entry names without the zip's UTF-8 flag are CP949 when they are
 * not valid UTF-8 (archives made by Korean Windows). Folders, macOS resource forks (`__MACOSX/`,
 * `._*`) and desktop litter (`.DS_Store`, `Thumbs.db`) are skipped; an encrypted archive fails
 * with `encrypted_document`; files that cannot be read are listed in the warnings with their reason.
 */
import iconv from "iconv-lite";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { appendAttachments } from "./attachments.ts";
import { openZip, zipLimitsFor, type ZipLimits } from "./ooxml-package.ts";

export interface ArchiveExtractorConfig {
  zipLimits?: ZipLimits;
  /** Most files read from one archive (default 1,000). */
  maxFiles?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A name stored without the UTF-8 flag: UTF-8 when it decodes as such, else CP949. */
export function decodeEntryName(raw: Uint8Array): string {
  try {
    return utf8.decode(raw);
  } catch {
    return iconv.decode(Buffer.from(raw), "cp949");
  }
}

/** Entries that are not the user's files. */
export function isArchiveLitter(name: string): boolean {
  const parts = name.split("/");
  const base = parts[parts.length - 1] ?? "";
  return parts.includes("__MACOSX") || base.startsWith("._") || base === ".DS_Store" || /^thumbs\.db$/i.test(base) || /^desktop\.ini$/i.test(base);
}

export function createArchiveExtractor(config: ArchiveExtractorConfig = {}): Extractor {
  const maxFiles = config.maxFiles ?? 1000;
  return {
    kinds: ["zip"],
    async extract(file: SourceFile, _type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const limits = zipLimitsFor(options, config.zipLimits);
      let zip;
      try {
        zip = await openZip(file.bytes, file.source, "zip archive", limits, decodeEntryName);
      } catch (err) {
        // JSZip refuses encrypted entries while reading the directory.
        if (err instanceof IngestError && /encrypted/i.test(err.message)) {
          throw new IngestError("encrypted_document", `${file.source} is a password-protected archive; extract it or remove the password and upload it again`);
        }
        throw err;
      }
      const names = zip.names.filter((n) => !isArchiveLitter(n));
      const warnings: string[] = [];
      const pages: ExtractedPage[] = [];
      if (names.length > maxFiles) warnings.push(`only the first ${maxFiles} of ${names.length} files in the archive were read`);
      const files = [];
      for (const name of names.slice(0, maxFiles)) files.push({ name, bytes: await zip.bytes(name) });
      await appendAttachments(file, files, pages, warnings, options, { label: "File", maxAttachments: maxFiles, maxAttachmentBytes: limits.maxEntryBytes });
      if (pages.length === 0) {
        const why = names.length === 0 ? "it holds no files" : `none of its ${names.length} file(s) could be read${warnings.length ? ` (${warnings.slice(0, 3).join("; ")})` : ""}`;
        throw new IngestError("no_content", `${file.source}: ${why}`);
      }
      return { mime: "application/zip", title: titleFromFileName(file.source), pages, warnings };
    },
  };
}

export const archiveExtractor = createArchiveExtractor();
