/**
 * EPUB extractor (EPUB 2 and 3: a zip of XHTML chapters), with the zip-bomb checks of openZip.
 *
 * META-INF/container.xml names the package document (OPF); its spine gives the reading order of the
 * manifest's XHTML items. Each chapter goes through the HTML extractor's block walk (headings,
 * lists, tables as Markdown tables) and becomes one page: an EPUB has no fixed pages (the reader's
 * screen decides), so a citation's "page N" is the N-th chapter with text, in reading order.
 * Title: the OPF's <dc:title>. A chapter listed in META-INF/encryption.xml (DRM) →
 * `encrypted_document` (fonts obfuscated by the publisher are allowed: they are not read anyway).
 * Pictures are not read.
 */
import type { Element } from "domhandler";
import path from "node:path/posix";
import { decodeText } from "../decode-text.ts";
import { sensibleTitle, titleFromFileName } from "../text-utils.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { extractHtmlText, sniffHtmlCharset } from "./html.ts";
import { openZip, zipLimitsFor, type ZipLimits } from "./ooxml-package.ts";
import { attr, isEl, local, parseXml } from "./xml-dom.ts";

export interface EpubExtractorConfig {
  zipLimits?: ZipLimits;
  /** Most chapters read (default 5,000). */
  maxChapters?: number;
}

const XHTML = /^(application\/xhtml\+xml|text\/html|application\/x-dtbook\+xml)$/i;

function descendants(el: Element, name: string, out: Element[] = []): Element[] {
  for (const c of el.children) {
    if (!isEl(c)) continue;
    if (local(c.name) === name) out.push(c);
    descendants(c, name, out);
  }
  return out;
}

function textOf(el: Element): string {
  return el.children.map((c) => (c.type === "text" ? c.data : isEl(c) ? textOf(c) : "")).join("");
}

/** A manifest href (relative to the OPF, URL-encoded, maybe with a fragment) → the archive path. */
function resolveHref(opfDir: string, href: string): string {
  let h = href.split("#")[0] ?? "";
  try {
    h = decodeURIComponent(h);
  } catch {
    /* keep it as written */
  }
  return path.normalize(path.join(opfDir, h)).replace(/^\.\//, "");
}

export function createEpubExtractor(config: EpubExtractorConfig = {}): Extractor {
  const maxChapters = config.maxChapters ?? 5000;
  return {
    kinds: ["epub"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const zip = await openZip(file.bytes, file.source, "EPUB", zipLimitsFor(options, config.zipLimits));
      let opfPath = "";
      if (zip.has("META-INF/container.xml")) {
        const root = parseXml(await zip.text("META-INF/container.xml"));
        const rootfile = root ? descendants(root, "rootfile").find((r) => /oebps-package/i.test(attr(r, "media-type") ?? "oebps-package")) : undefined;
        opfPath = attr(rootfile, "full-path") ?? "";
      }
      if (!opfPath || !zip.has(opfPath)) opfPath = zip.names.find((n) => n.toLowerCase().endsWith(".opf")) ?? "";
      if (!opfPath) throw new IngestError("corrupt_document", `${file.source}: not an EPUB book (no package document: META-INF/container.xml names none)`);
      const opf = parseXml(await zip.text(opfPath));
      if (!opf) throw new IngestError("corrupt_document", `${file.source}: the EPUB package document ${opfPath} could not be read`);
      const opfDir = path.dirname(opfPath) === "." ? "" : path.dirname(opfPath);
      const manifest = new Map<string, { href: string; mediaType: string }>();
      for (const item of descendants(opf, "item")) {
        const id = attr(item, "id");
        const href = attr(item, "href");
        if (id && href) manifest.set(id, { href: resolveHref(opfDir, href), mediaType: attr(item, "media-type") ?? "" });
      }
      const spine = descendants(opf, "itemref")
        .map((r) => manifest.get(attr(r, "idref") ?? ""))
        .filter((m): m is { href: string; mediaType: string } => !!m && XHTML.test(m.mediaType) && zip.has(m.href));
      if (spine.length === 0) throw new IngestError("corrupt_document", `${file.source}: the EPUB spine lists no readable chapter`);

      if (zip.has("META-INF/encryption.xml")) {
        const enc = parseXml(await zip.text("META-INF/encryption.xml"));
        const encrypted = new Set((enc ? descendants(enc, "CipherReference") : []).map((c) => resolveHref("", attr(c, "URI") ?? "")));
        if (spine.some((s) => encrypted.has(s.href))) {
          throw new IngestError("encrypted_document", `${file.source} is a DRM-protected EPUB (its chapters are encrypted)`);
        }
      }

      const warnings: string[] = [];
      if (spine.length > maxChapters) warnings.push(`only the first ${maxChapters} of ${spine.length} chapters were read`);
      const pages: ExtractedPage[] = [];
      const seen = new Set<string>();
      for (const chapter of spine.slice(0, maxChapters)) {
        if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
        if (seen.has(chapter.href)) continue;
        seen.add(chapter.href);
        const bytes = await zip.bytes(chapter.href);
        const { text } = decodeText(bytes, { declaredEncoding: sniffHtmlCharset(bytes) });
        const blocks = extractHtmlText(text, `${file.source}/${chapter.href}`, "application/xhtml+xml").pages.flatMap((p) => p.blocks);
        if (blocks.length) pages.push({ page: pages.length + 1, blocks });
      }
      const dcTitle = descendants(opf, "title")[0];
      const title = sensibleTitle(dcTitle ? textOf(dcTitle).trim() : undefined) ?? titleFromFileName(file.source);
      return { mime: type.mime || "application/epub+zip", ...(title ? { title } : {}), pages, warnings };
    },
  };
}

export const epubExtractor: Extractor = createEpubExtractor();

