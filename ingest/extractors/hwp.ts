/**
 * HWP 5.x extractor (Hancom Office binary format, an OLE compound file).
 *
 * 1. cfb reads the container. FileHeader (256 bytes): signature "HWP Document File", version, and
 *    property flags: bit 0 compressed, bit 1 password-encrypted, bit 2 distribution document
 *    (배포용: body moved to encrypted ViewText streams), bit 4 DRM. Encrypted, distribution and DRM
 *    documents → IngestError("encrypted_document"); HWP 3.x → IngestError("unsupported_version").
 * 2. BodyText/Section0..N (numeric order) are raw-deflate streams when compressed; inflation is
 *    bounded by `maxStreamBytes` (decompression bombs → "zip_bomb").
 * 3. Each section is a sequence of records: a 32-bit header (tag 10 bits, level 10 bits, size 12
 *    bits; size 0xFFF → a 32-bit size follows). Records form a tree by level. We walk it:
 *      PARA_HEADER (66)  a paragraph; its style id picks heading levels (styles named "개요 N" /
 *                        "Outline N" in DocInfo, short paragraphs only);
 *      PARA_TEXT (67)    UTF-16LE text; control characters are skipped by their width: char
 *                        controls take 1 code unit (10 line break → "\n", 13 paragraph end,
 *                        24 hyphen → "-", 30/31 non-breaking/fixed spaces → " "), inline controls
 *                        (4–9, 19, 20; 9 is a tab → "\t") and extended controls (1–3, 11, 12,
 *                        14–18, 21–23: tables, drawings, footnotes, fields…) take 8 code units;
 *      CTRL_HEADER (71)  controls anchored in the paragraph, in order: "tbl " → a Markdown table
 *                        (TABLE record 77 gives rows/cols, each LIST_HEADER 72 starts a cell with its
 *                        column/row address and spans, the following PARA_HEADERs are its text);
 *                        headers/footers/page-number controls are skipped; every other control
 *                        with paragraph lists (footnotes, endnotes, text boxes in drawing objects,
 *                        comments) contributes its paragraphs after the anchoring paragraph.
 * 4. Pictures: a drawing control ("gso ") whose shape is a picture (SHAPE_COMPONENT_PICTURE, 85)
 *    names a BinData item (its BinItem id at byte 71); DocInfo's BIN_DATA records (18) give the
 *    item's stream, BinData/BIN%04X.<ext> (deflated when the record says so or, by default, when
 *    the document is compressed). The pictures are OCR'd and their text stands where the control is
 *    anchored (pictures.ts).
 * 5. Title: HwpSummaryInformation (OLE property set, PIDSI_TITLE), when sensible.
 *
 * Not handled: equations (script text only appears if the author typed it as text), charts,
 * OLE objects, linked (not embedded) pictures, distribution-document decryption.
 */
import CFB from "cfb";
import { inflateRawSync, inflateSync } from "node:zlib";
import { sensibleTitle, titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { pictureMark, placePictures, type PictureOptions } from "./pictures.ts";
import { markdownCell, markdownTable } from "./tables.ts";

export interface HwpExtractorConfig {
  /** OCR the pictures and put their text where they stand. Default on. */
  pictures?: PictureOptions;
  /** Largest inflated stream (section / DocInfo), bytes. Default: the document cap (ExtractOptions.limits, else 100 MiB). */
  maxStreamBytes?: number;
  /** Most sections read. Default 1,000. */
  maxSections?: number;
}

const TAG_BEGIN = 0x10;
export const HWPTAG = {
  BIN_DATA: TAG_BEGIN + 2,
  STYLE: TAG_BEGIN + 26,
  PARA_HEADER: TAG_BEGIN + 50,
  PARA_TEXT: TAG_BEGIN + 51,
  CTRL_HEADER: TAG_BEGIN + 55,
  LIST_HEADER: TAG_BEGIN + 56,
  SHAPE_COMPONENT: TAG_BEGIN + 60,
  TABLE: TAG_BEGIN + 61,
  SHAPE_COMPONENT_PICTURE: TAG_BEGIN + 69,
} as const;

export interface HwpRecord {
  tag: number;
  level: number;
  data: Buffer;
  children: HwpRecord[];
}

/** Split a record stream into records. Stops (truncated = true) at a record running past the end. */
export function parseRecords(buf: Buffer): { records: HwpRecord[]; truncated: boolean } {
  const records: HwpRecord[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const h = buf.readUInt32LE(off);
    off += 4;
    const tag = h & 0x3ff;
    const level = (h >>> 10) & 0x3ff;
    let size = h >>> 20;
    if (size === 0xfff) {
      if (off + 4 > buf.length) return { records, truncated: true };
      size = buf.readUInt32LE(off);
      off += 4;
    }
    if (off + size > buf.length) return { records, truncated: true };
    records.push({ tag, level, data: buf.subarray(off, off + size), children: [] });
    off += size;
  }
  return { records, truncated: off !== buf.length };
}

/** Records → tree by level (a record's children are the following records one level deeper). */
export function recordTree(records: HwpRecord[]): HwpRecord[] {
  const roots: HwpRecord[] = [];
  const stack: HwpRecord[] = [];
  for (const r of records) {
    while (stack.length && stack[stack.length - 1]!.level >= r.level) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(r);
    else roots.push(r);
    stack.push(r);
  }
  return roots;
}

const CHAR_CONTROLS = new Set([0, 10, 13, 24, 25, 26, 27, 28, 29, 30, 31]);

/** HWPTAG_PARA_TEXT payload → text, control characters skipped (see file comment). */
export function decodeParaText(data: Buffer): string {
  let out = "";
  const n = Math.floor(data.length / 2);
  for (let i = 0; i < n; ) {
    const c = data.readUInt16LE(i * 2);
    if (c >= 32) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    if (CHAR_CONTROLS.has(c)) {
      if (c === 10) out += "\n";
      else if (c === 24) out += "-";
      else if (c === 30 || c === 31) out += " ";
      i++;
      continue;
    }
    // Inline (4-9, 19, 20) and extended (1-3, 11, 12, 14-18, 21-23) controls: 8 code units.
    if (c === 9) out += "\t";
    i += 8;
  }
  return out;
}

function ctrlId(data: Buffer): string {
  if (data.length < 4) return "";
  const v = data.readUInt32LE(0);
  return String.fromCharCode((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

const SKIP_CONTROLS = new Set(["head", "foot", "pgnp", "pghd", "pgct", "nwno", "atno", "bokm", "idxm", "tcps", "secd", "cold"]);

function inflateStream(raw: Uint8Array, compressed: boolean, max: number, what: string, source: string): Buffer {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!compressed) return buf;
  try {
    return inflateRawSync(buf, { maxOutputLength: max });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || /larger than|maxOutputLength/i.test((err as Error).message)) {
      throw new IngestError("zip_bomb", `${source}: ${what} inflates past ${max} bytes (possible decompression bomb); the file was not extracted`);
    }
    try {
      return inflateSync(buf, { maxOutputLength: max });
    } catch {
      throw new IngestError("corrupt_document", `${source}: ${what} is damaged or truncated (${(err as Error).message})`);
    }
  }
}

/** Style id → heading level for outline styles ("개요 1".."개요 7", "Outline 1"..). */
function headingStyles(docInfo: Buffer | undefined): Map<number, number> {
  const map = new Map<number, number>();
  if (!docInfo) return map;
  const { records } = parseRecords(docInfo);
  let id = 0;
  for (const r of records) {
    if (r.tag !== HWPTAG.STYLE) continue;
    try {
      const len = r.data.readUInt16LE(0);
      const name = r.data.subarray(2, 2 + len * 2).toString("utf16le");
      const off = 2 + len * 2;
      const elen = r.data.readUInt16LE(off);
      const eng = r.data.subarray(off + 2, off + 2 + elen * 2).toString("utf16le");
      const m = /^(?:개요|Outline)\s*(\d+)$/i.exec(name.trim()) ?? /^Outline\s*(\d+)$/i.exec(eng.trim());
      if (m) map.set(id, Math.min(6, Math.max(1, Number(m[1]))));
    } catch {
      /* malformed style record: ignore */
    }
    id++;
  }
  return map;
}

/** PIDSI_TITLE from the HwpSummaryInformation property set stream. */
function summaryTitle(buf: Buffer | undefined): string | undefined {
  if (!buf || buf.length < 48) return undefined;
  try {
    const sectionOffset = buf.readUInt32LE(44);
    const count = buf.readUInt32LE(sectionOffset + 4);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const pid = buf.readUInt32LE(sectionOffset + 8 + i * 8);
      const off = sectionOffset + buf.readUInt32LE(sectionOffset + 12 + i * 8);
      if (pid !== 2) continue;
      const type = buf.readUInt32LE(off);
      const len = buf.readUInt32LE(off + 4);
      if (type === 0x1f) return buf.subarray(off + 8, off + 8 + Math.min(len, 1024) * 2).toString("utf16le").replace(/\0+$/, "");
      if (type === 0x1e) return buf.subarray(off + 8, off + 8 + Math.min(len, 2048)).toString("latin1").replace(/\0+$/, "");
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** BinItem ids of the pictures met, in document order (shared by the sections: the marks' indexes). */
type PictureList = number[];

/** The BinItem id of the first picture shape under a drawing control, if any. */
function pictureItem(ctrl: HwpRecord): number | undefined {
  for (const c of ctrl.children) {
    if (c.tag === HWPTAG.SHAPE_COMPONENT_PICTURE && c.data.length >= 73) return c.data.readUInt16LE(71);
    const inner = pictureItem(c);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

class SectionWalker {
  readonly blocks: Block[] = [];
  constructor(
    private readonly headings: Map<number, number>,
    private readonly pictures?: PictureList,
  ) {}

  paragraphs(nodes: HwpRecord[], out: Block[] = this.blocks): void {
    for (const n of nodes) {
      if (n.tag === HWPTAG.PARA_HEADER) this.paragraph(n, out);
      else if (n.tag !== HWPTAG.LIST_HEADER && n.tag !== HWPTAG.TABLE) this.paragraphs(n.children, out);
    }
  }

  private paragraph(p: HwpRecord, out: Block[]): void {
    const textRec = p.children.find((c) => c.tag === HWPTAG.PARA_TEXT);
    const text = textRec ? cleanText(decodeParaText(textRec.data)) : "";
    if (text) {
      const styleId = p.data.length > 10 ? p.data.readUInt8(10) : -1;
      const level = this.headings.get(styleId);
      if (level && text.length <= 80 && !text.includes("\n")) out.push({ kind: "heading", level, text });
      else out.push({ kind: "paragraph", text });
    }
    for (const c of p.children) {
      if (c.tag !== HWPTAG.CTRL_HEADER) continue;
      const id = ctrlId(c.data);
      if (SKIP_CONTROLS.has(id)) continue;
      if (id === "tbl ") this.table(c, out);
      else {
        const item = id === "gso " && this.pictures ? pictureItem(c) : undefined;
        if (item !== undefined) {
          out.push({ kind: "paragraph", text: pictureMark(this.pictures!.length) });
          this.pictures!.push(item);
        }
        this.paragraphs(c.children, out); // text boxes, captions
      }
    }
  }

  private table(ctrl: HwpRecord, out: Block[]): void {
    const tableRec = ctrl.children.find((c) => c.tag === HWPTAG.TABLE);
    let rows = tableRec && tableRec.data.length >= 8 ? tableRec.data.readUInt16LE(4) : 0;
    let cols = tableRec && tableRec.data.length >= 8 ? tableRec.data.readUInt16LE(6) : 0;
    interface Cell {
      row: number;
      col: number;
      blocks: Block[];
    }
    const cells: Cell[] = [];
    let cur: Cell | undefined;
    let seq = 0;
    for (const c of ctrl.children) {
      if (c.tag === HWPTAG.LIST_HEADER) {
        let row = -1, col = -1;
        if (c.data.length >= 16) {
          col = c.data.readUInt16LE(8);
          row = c.data.readUInt16LE(10);
        }
        if (!(rows && cols && row >= 0 && row < rows && col >= 0 && col < cols)) {
          // Unknown layout: fill row by row.
          row = cols ? Math.floor(seq / cols) : 0;
          col = cols ? seq % cols : seq;
        }
        seq++;
        cur = { row, col, blocks: [] };
        cells.push(cur);
      } else if (c.tag === HWPTAG.PARA_HEADER) {
        if (!cur) {
          cur = { row: 0, col: 0, blocks: [] };
          cells.push(cur);
        }
        this.paragraph(c, cur.blocks);
      }
    }
    if (cells.length === 0) return;
    rows = Math.max(rows, ...cells.map((c) => c.row + 1));
    cols = Math.max(cols, ...cells.map((c) => c.col + 1));
    if (rows * cols > 1_000_000) return;
    const grid: string[][] = Array.from({ length: rows }, () => Array<string>(cols).fill(""));
    for (const c of cells) {
      const text = c.blocks.map((b) => b.text.replace(/\n/g, " ")).join(" ");
      grid[c.row]![c.col] = grid[c.row]![c.col] ? `${grid[c.row]![c.col]} ${text}` : text;
    }
    const nonEmpty = grid.filter((r) => r.some((x) => x.trim()));
    const usedCols = Array.from({ length: cols }, (_, k) => k).filter((k) => nonEmpty.some((r) => r[k]!.trim()));
    if (nonEmpty.length <= 1 || usedCols.length <= 1) {
      // A one-cell/one-column/one-row "table" is a text frame: keep its content as paragraphs.
      for (const c of cells) out.push(...c.blocks);
      return;
    }
    const md = markdownTable(grid);
    if (md) out.push({ kind: "table", text: md });
  }
}

/** DocInfo's BIN_DATA records: BinItem id → { stream name, whether deflated }. */
function binDataItems(docInfo: Buffer | undefined, documentCompressed: boolean): Map<number, { stream: string; compressed: boolean }> {
  const items = new Map<number, { stream: string; compressed: boolean }>();
  if (!docInfo) return items;
  let index = 0;
  for (const r of parseRecords(docInfo).records) {
    if (r.tag !== HWPTAG.BIN_DATA) continue;
    index++;
    try {
      const props = r.data.readUInt16LE(0);
      if ((props & 0xf) !== 1) continue; // 0 link, 2 storage (OLE): no picture bytes here
      const id = r.data.readUInt16LE(2);
      const len = r.data.readUInt16LE(4);
      const ext = r.data.subarray(6, 6 + len * 2).toString("utf16le");
      const compression = (props >> 4) & 0x3; // 0 as the document, 1 compressed, 2 not
      const entry = { stream: `BIN${id.toString(16).toUpperCase().padStart(4, "0")}.${ext}`, compressed: compression === 0 ? documentCompressed : compression === 1 };
      items.set(id, entry);
      if (!items.has(index)) items.set(index, entry);
    } catch {
      /* malformed record: that picture is skipped */
    }
  }
  return items;
}

function cleanText(s: string): string {
  return s
    .replace(/\r/g, "")
    .replace(/[\u0000-\u0008\u000b-\u001f]/g, "")
    .replace(/[ \t\u00a0]+/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .join("\n")
    .trim();
}

export function createHwpExtractor(config: HwpExtractorConfig = {}): Extractor {
  const maxSections = config.maxSections ?? 1000;
  return {
    kinds: ["hwp"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const maxStream = config.maxStreamBytes ?? options.limits?.maxDocumentBytes ?? 100 * 1024 * 1024;
      const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
      if (bytes.subarray(0, 32).toString("latin1").startsWith("HWP Document File V3")) {
        throw new IngestError("unsupported_version", `${file.source} is an HWP 3.x document; only HWP 5.x (2002 and later) and HWPX are supported — save it again in a newer Hangul version`);
      }
      let container: CFB.CFB$Container;
      try {
        container = CFB.read(bytes, { type: "buffer" });
      } catch (err) {
        throw new IngestError("corrupt_document", `${file.source}: not a readable HWP file (damaged OLE container: ${(err as Error).message})`);
      }
      const stream = (name: string): Buffer | undefined => {
        const e = CFB.find(container, name);
        if (!e || !e.content || e.type !== 2) return undefined;
        const c = e.content as unknown as Uint8Array;
        return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      };
      const header = stream("FileHeader");
      if (!header || header.length < 40 || !header.subarray(0, 17).toString("latin1").startsWith("HWP Document File")) {
        throw new IngestError("wrong_format", `${file.source} is not an HWP document (no HWP FileHeader)`);
      }
      const version = header.readUInt32LE(32);
      const flags = header.readUInt32LE(36);
      const compressed = (flags & 1) !== 0;
      if (flags & 2) throw new IngestError("encrypted_document", `${file.source} is a password-protected HWP document; remove the password and upload it again`);
      if (flags & 4) throw new IngestError("encrypted_document", `${file.source} is an HWP distribution document (배포용 문서), whose text is encrypted; save a normal copy and upload that`);
      if (flags & 16) throw new IngestError("encrypted_document", `${file.source} is a DRM-protected HWP document`);
      const major = (version >>> 24) & 0xff;
      if (major !== 5) throw new IngestError("unsupported_version", `${file.source}: HWP version ${major}.x is not supported`);

      const sections = container.FullPaths.map((p, i) => ({ p, i }))
        .map(({ p, i }) => ({ m: /(?:^|\/)BodyText\/Section(\d+)$/.exec(p), i }))
        .filter((x): x is { m: RegExpExecArray; i: number } => x.m !== null)
        .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
      if (sections.length === 0) throw new IngestError("corrupt_document", `${file.source}: HWP document has no BodyText sections`);

      const warnings: string[] = [];
      let docInfo: Buffer | undefined;
      try {
        const raw = stream("DocInfo");
        if (raw) docInfo = inflateStream(raw, compressed, maxStream, "DocInfo", file.source);
      } catch (err) {
        if (err instanceof IngestError && err.code === "zip_bomb") throw err;
        warnings.push("DocInfo could not be read; headings are not detected");
      }
      const headings = headingStyles(docInfo);
      const pages: ExtractedPage[] = [];
      const blocks: Block[] = [];
      const pictureItems: PictureList | undefined = config.pictures === false ? undefined : [];
      let readable = 0;
      for (const [k, s] of sections.slice(0, maxSections).entries()) {
        if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
        const entry = container.FileIndex[s.i];
        const content = entry?.content as unknown as Uint8Array | undefined;
        if (!content || content.length === 0) continue;
        let data: Buffer;
        try {
          data = inflateStream(content, compressed, maxStream, `section ${k}`, file.source);
        } catch (err) {
          if (err instanceof IngestError && err.code === "zip_bomb") throw err;
          warnings.push(`section ${k} could not be read: ${(err as Error).message}`);
          continue;
        }
        const { records, truncated } = parseRecords(data);
        if (truncated) warnings.push(`section ${k} is truncated; its text may be incomplete`);
        readable++;
        const walker = new SectionWalker(headings, pictureItems);
        walker.paragraphs(recordTree(records));
        blocks.push(...walker.blocks);
      }
      if (sections.length > maxSections) warnings.push(`only the first ${maxSections} sections were read`);
      if (readable === 0) throw new IngestError("corrupt_document", `${file.source}: no section of this HWP document could be read`);
      if (blocks.length) pages.push({ page: 1, blocks });
      const pictures: Uint8Array[] = [];
      if (pictureItems?.length) {
        const items = binDataItems(docInfo, compressed);
        for (const id of pictureItems) {
          const item = items.get(id);
          const at = item ? container.FullPaths.findIndex((p) => p.toLowerCase().endsWith(`/bindata/${item.stream.toLowerCase()}`)) : -1;
          const content = at >= 0 ? (container.FileIndex[at]?.content as unknown as Uint8Array | undefined) : undefined;
          const raw = content?.length ? content : undefined;
          try {
            pictures.push(raw ? inflateStream(raw, item!.compressed, maxStream, `picture ${item!.stream}`, file.source) : new Uint8Array());
          } catch (err) {
            if (err instanceof IngestError && err.code === "zip_bomb") throw err;
            pictures.push(new Uint8Array());
          }
        }
      }
      const placed = await placePictures(pages, pictures, config.pictures, options.signal, warnings);
      const title = sensibleTitle(summaryTitle(stream("\u0005HwpSummaryInformation") ?? stream("HwpSummaryInformation"))) ?? titleFromFileName(file.source);
      return { mime: type.mime || "application/x-hwp", ...(title ? { title } : {}), pages: placed, warnings };
    },
  };
}

export const hwpExtractor: Extractor = createHwpExtractor();

/** For tests: a one-cell Markdown-safe rendering (re-exported helper). */
export const hwpCell = markdownCell;
