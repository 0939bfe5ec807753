/**
 * EML (RFC 822 / MIME) extractor, parsing with postal-mime (charsets, encoded words, quoted-printable,
 * base64, nested multiparts).
 *
 * Page 1: the subject as a heading, a "From / To / Cc / Date" paragraph, then the body: the HTML
 * part through the HTML extractor's block walk when there is one (tables stay tables), else the
 * text part through the plain-text block splitter.
 * Attachments (including attached messages) are extracted recursively through the normal pipeline
 * (attachments.ts: each readable attachment adds its pages after the body, its first page headed
 * "Attachment: <name>"; failing ones are listed in the warnings). Inline images referenced by the
 * HTML (cid:) are skipped.
 */
import PostalMime, { type Address, type Email } from "postal-mime";
import { decodeText, detectBom, sniffUtf16WithoutBom } from "../decode-text.ts";
import { collapseWhitespace, titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { appendAttachments, type AttachmentLimits } from "./attachments.ts";
import { extractHtmlText } from "./html.ts";
import { textToBlocks } from "./text.ts";

export interface EmlExtractorConfig extends AttachmentLimits {
  /** Extract attachments at all. Default true. */
  attachments?: boolean;
}

function addressText(a: Address | Address[] | undefined): string {
  if (!a) return "";
  const list = Array.isArray(a) ? a : [a];
  return list
    .map((x) => {
      if (x.group) return `${x.name}: ${x.group.map((m) => (m.name ? `${m.name} <${m.address}>` : m.address)).join(", ")}`;
      return x.name ? `${x.name} <${x.address}>` : (x.address ?? "");
    })
    .filter(Boolean)
    .join(", ");
}

function contentBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === "string") return Buffer.from(content, "utf8");
  if (content instanceof Uint8Array) return content;
  return new Uint8Array(content);
}

export function createEmlExtractor(config: EmlExtractorConfig = {}): Extractor {
  return {
    kinds: ["eml"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      let email: Email;
      try {
        // A message saved as UTF-16 (rare, but exists) is parsed as text; 8-bit messages as bytes.
        const wide = detectBom(file.bytes) !== undefined || sniffUtf16WithoutBom(file.bytes) !== undefined;
        email = await PostalMime.parse(wide ? decodeText(file.bytes).text : file.bytes, { attachmentEncoding: "arraybuffer", maxNestingDepth: 50 });
      } catch (err) {
        throw new IngestError("corrupt_document", `${file.source}: e-mail message could not be parsed (${(err as Error)?.message ?? err})`);
      }
      const warnings: string[] = [];
      const blocks: Block[] = [];
      const subject = email.subject ? collapseWhitespace(email.subject) : "";
      if (subject) blocks.push({ kind: "heading", level: 1, text: subject });
      const meta = [
        ["From", addressText(email.from)],
        ["To", addressText(email.to)],
        ["Cc", addressText(email.cc)],
        ["Date", email.date ?? ""],
      ]
        .filter(([, v]) => v)
        .map(([k, v]) => `${k}: ${v}`);
      if (meta.length) blocks.push({ kind: "paragraph", text: meta.join("\n") });

      let bodyBlocks: Block[] = [];
      if (email.html && email.html.trim()) {
        const doc = extractHtmlText(email.html, file.source, "text/html");
        bodyBlocks = doc.pages.flatMap((p) => p.blocks);
      }
      if (bodyBlocks.length === 0 && email.text && email.text.trim()) {
        bodyBlocks = textToBlocks(email.text.replace(/\r\n?/g, "\n"));
      }
      if (bodyBlocks.length === 0 && !email.html && !email.text && email.headers.length === 0) {
        // Not MIME at all: treat as text.
        bodyBlocks = textToBlocks(decodeText(file.bytes).text.replace(/\r\n?/g, "\n"));
      }
      blocks.push(...bodyBlocks);

      const pages: ExtractedPage[] = [];
      if (blocks.length) pages.push({ page: 1, blocks });

      const atts = email.attachments.filter((a) => !(a.related && /^image\//.test(a.mimeType)));
      if (config.attachments !== false) {
        const files = atts.map((a, i) => ({
          name: a.filename ?? (a.mimeType === "message/rfc822" ? `message-${i + 1}.eml` : `attachment-${i + 1}`),
          bytes: contentBytes(a.content),
        }));
        await appendAttachments(file, files, pages, warnings, options, config);
      }
      const title = subject || titleFromFileName(file.source);
      return { mime: type.mime || "message/rfc822", ...(title ? { title } : {}), pages, warnings };
    },
  };
}

export const emlExtractor: Extractor = createEmlExtractor();
