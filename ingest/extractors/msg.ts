/**
 * Outlook .msg extractor (an OLE compound file of MAPI properties), parsed with
 * @kenjiuno/msgreader (Apache-2.0, maintained).
 *
 * Page 1, as for EML: the subject as a heading, a "From / To / Cc / Date" paragraph, then the body:
 * the HTML body (PidTagHtml, decoded with the message's PidTagInternetCodepage) through the HTML
 * extractor's block walk when there is one (tables stay tables), else the plain-text body
 * (PidTagBody). A message whose only body is compressed RTF gets a warning (its text is not read).
 * Attachments, including attached messages, go through the other extractors (attachments.ts, as
 * EML's do); hidden inline pictures of the HTML body are skipped.
 */
import iconv from "iconv-lite";
import MsgReaderModule, { type FieldsData } from "@kenjiuno/msgreader";
import { normalizeEncodingName } from "../decode-text.ts";
import { collapseWhitespace, titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { appendAttachments, type Attachment, type AttachmentLimits } from "./attachments.ts";
import { extractHtmlText } from "./html.ts";
import { textToBlocks } from "./text.ts";

// The package is CommonJS with `exports.default`: Node's ESM loader hands over `module.exports`
// (the class is its `.default`), bundlers with interop hand over the class itself.
const msgReaderExport: unknown = MsgReaderModule;
const MsgReader = (typeof msgReaderExport === "function" ? msgReaderExport : MsgReaderModule.default) as typeof MsgReaderModule.default;

export interface MsgExtractorConfig extends AttachmentLimits {
  /** Extract attachments at all. Default true. */
  attachments?: boolean;
}

/** Windows code page (PidTagInternetCodepage) → an iconv-lite encoding. */
function codepageEncoding(cp: unknown): string {
  if (typeof cp !== "number") return "utf-8";
  if (cp === 65001 || cp === 20127) return "utf-8";
  if (cp === 949 || cp === 51949) return "cp949";
  if (cp === 1200) return "utf-16le";
  return normalizeEncodingName(`cp${cp}`) ?? normalizeEncodingName(`windows-${cp}`) ?? "utf-8";
}

function address(name: string | undefined, email: string | undefined): string {
  const n = (name ?? "").trim();
  const e = (email ?? "").trim();
  if (n && e && n !== e) return `${n} <${e}>`;
  return n || e;
}

export function createMsgExtractor(config: MsgExtractorConfig = {}): Extractor {
  return {
    kinds: ["msg"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      let reader: InstanceType<typeof MsgReader>;
      let data: FieldsData;
      try {
        const b = file.bytes;
        reader = new MsgReader(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        data = reader.getFileData();
      } catch (err) {
        throw new IngestError("corrupt_document", `${file.source}: Outlook message could not be parsed (${(err as Error)?.message ?? err})`);
      }
      if (data.error) throw new IngestError("corrupt_document", `${file.source}: Outlook message could not be parsed (${data.error})`);
      const warnings: string[] = [];
      const blocks: Block[] = [];
      const subject = data.subject ? collapseWhitespace(data.subject) : "";
      if (subject) blocks.push({ kind: "heading", level: 1, text: subject });
      const recipients = (kind: string) =>
        (data.recipients ?? [])
          .filter((r) => r.recipType === kind)
          .map((r) => address(r.name, r.smtpAddress || r.email))
          .filter(Boolean)
          .join(", ");
      const meta = [
        ["From", address(data.senderName, data.senderSmtpAddress || data.senderEmail)],
        ["To", recipients("to")],
        ["Cc", recipients("cc")],
        ["Date", data.messageDeliveryTime ?? data.clientSubmitTime ?? ""],
      ]
        .filter(([, v]) => v)
        .map(([k, v]) => `${k}: ${v}`);
      if (meta.length) blocks.push({ kind: "paragraph", text: meta.join("\n") });

      let bodyBlocks: Block[] = [];
      const html = data.bodyHtml ?? (data.html ? iconv.decode(Buffer.from(data.html), codepageEncoding(data.internetCodepage)) : "");
      if (html.trim()) bodyBlocks = extractHtmlText(html, file.source, "text/html").pages.flatMap((p) => p.blocks);
      if (bodyBlocks.length === 0 && data.body?.trim()) bodyBlocks = textToBlocks(data.body.replace(/\r\n?/g, "\n"));
      if (bodyBlocks.length === 0 && data.compressedRtf?.length) warnings.push("the message body is in RTF only and was not read");
      blocks.push(...bodyBlocks);

      const pages: ExtractedPage[] = [];
      if (blocks.length) pages.push({ page: 1, blocks });

      if (config.attachments !== false) {
        const files: Attachment[] = [];
        for (const [i, a] of (data.attachments ?? []).entries()) {
          // Pictures shown inside the HTML body (hidden, or referenced by a content id) are not attachments to read.
          if ((a.attachmentHidden || (a.pidContentId && html.includes(`cid:${a.pidContentId}`))) && /^image\//i.test(a.attachMimeTag ?? "image/")) continue;
          try {
            const got = reader.getAttachment(a);
            const name = got.fileName || a.fileName || a.name || (a.innerMsgContent ? `message-${i + 1}.msg` : `attachment-${i + 1}`);
            files.push({ name, bytes: got.content });
          } catch (err) {
            warnings.push(`attachment ${i + 1} could not be read from the message (${(err as Error)?.message ?? err})`);
          }
        }
        await appendAttachments(file, files, pages, warnings, options, config);
      }
      const title = subject || titleFromFileName(file.source);
      return { mime: type.mime || "application/vnd.ms-outlook", ...(title ? { title } : {}), pages, warnings };
    },
  };
}

export const msgExtractor: Extractor = createMsgExtractor();
