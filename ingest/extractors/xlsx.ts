/**
 * XLSX extractor (exceljs): each worksheet is a page, headed by the sheet name; its used range is
 * split into tables at fully empty rows, and each table becomes Markdown table blocks (first row as
 * header, repeated every `rowsPerBlock` rows). Cell text: formula results, rich text, hyperlink
 * text, dates as ISO dates, percentages formatted; merged cells keep their value in the top-left
 * cell only. Rows per sheet and cells per workbook are capped (warnings say what was cut). Charts
 * drawn on a sheet follow its tables (title as caption, cached data as a Markdown table). Pictures
 * drawn on a sheet are OCR'd (pictures.ts) and their text stands among the sheet's tables by the
 * row the picture is anchored at: before the first table that starts below it.
 *
 * The container is checked for zip bombs (openZip) and every part is inflated once with a byte
 * count before exceljs loads it; password-protected workbooks (OLE + EncryptionInfo) →
 * IngestError("encrypted_document").
 */
import ExcelJS from "exceljs";
import JSZip from "jszip";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type ExtractedPage, type ExtractOptions, type Extractor, type SourceFile } from "../types.ts";
import { chartBlocks, descendants, kid } from "./drawingml.ts";
import { coreTitle, openZip, rels, zipLimitsFor, type SafeZip, type ZipLimits } from "./ooxml-package.ts";
import { pictureMark, placePictures, type PictureOptions } from "./pictures.ts";
import { attr, kids, local, parseXml } from "./xml-dom.ts";
import { gridToBlocks } from "./tables.ts";

export interface XlsxExtractorConfig {
  /** Most rows read per sheet (default 10,000). */
  maxRowsPerSheet?: number;
  /** Most columns read per row (default 200). */
  maxColumns?: number;
  /** Most cells read per workbook (default 1,000,000). */
  maxCells?: number;
  /** Data rows per table block (default 100). */
  rowsPerBlock?: number;
  zipLimits?: ZipLimits;
  /** OCR the pictures drawn on the sheets and put their text among the sheet's tables. Default on. */
  pictures?: PictureOptions;
}

function formatNumber(n: number, numFmt?: string): string {
  if (!Number.isFinite(n)) return String(n);
  if (numFmt && /%/.test(numFmt) && !/"[^"]*%[^"]*"/.test(numFmt)) {
    return `${Number((n * 100).toPrecision(12))}%`;
  }
  return String(Number(n.toPrecision(15)));
}

function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) return "";
  const iso = d.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.slice(0, 19).replace("T", " ");
}

/** Display text of an exceljs cell value. */
export function cellText(value: ExcelJS.CellValue, numFmt?: string): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatNumber(value, numFmt);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (value instanceof Date) return formatDate(value);
  if (typeof value === "object") {
    const v = value as unknown as Record<string, unknown>;
    if (Array.isArray(v.richText)) return (v.richText as Array<{ text?: string }>).map((r) => r.text ?? "").join("");
    if ("formula" in v || "sharedFormula" in v) return cellText(v.result as ExcelJS.CellValue, numFmt);
    if ("result" in v) return cellText(v.result as ExcelJS.CellValue, numFmt);
    if (typeof v.text === "string" || (v.text && typeof v.text === "object")) return cellText(v.text as ExcelJS.CellValue, numFmt);
    if (typeof v.error === "string") return v.error;
  }
  return "";
}

const EMPTY_DRAWING =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
  '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"></xdr:wsDr>';

/**
 * exceljs crashes on some drawing parts (e.g. oneCellAnchor pictures: "reading 'anchors'"); we do
 * not read pictures or charts anyway, so drawing parts are replaced with empty ones before loading.
 * (The archive was already verified against the zip limits.)
 */
async function withoutDrawings(bytes: Buffer, drawings: string[]): Promise<Buffer> {
  const z = await JSZip.loadAsync(bytes);
  for (const d of drawings) z.file(d, EMPTY_DRAWING);
  return z.generateAsync({ type: "nodebuffer", compression: "STORE" });
}

/** Sheet name → its part (worksheet or chartsheet), from xl/workbook.xml and its relationships. */
async function sheetPartsByName(zip: SafeZip): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const xml = await zip.text("xl/workbook.xml");
    const r = await rels(zip, "xl/workbook.xml");
    for (const m of xml.matchAll(/<(?:\w+:)?sheet\b[^>]*>/g)) {
      const name = /\bname="([^"]*)"/.exec(m[0])?.[1];
      const id = /\b\w+:id="([^"]+)"/.exec(m[0])?.[1];
      const target = id ? r.get(id)?.target : undefined;
      if (name !== undefined && target) out.set(decodeXmlEntities(name), target);
    }
  } catch {
    /* no charts then */
  }
  return out;
}

function decodeXmlEntities(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}

/** Charts drawn on a worksheet (sheet → drawing → chart parts): title + cached data table. */
async function sheetCharts(zip: SafeZip, sheetPart: string | undefined): Promise<Block[]> {
  if (!sheetPart) return [];
  const out: Block[] = [];
  try {
    for (const d of (await rels(zip, sheetPart)).values()) {
      if (!d.type.endsWith("/drawing") || !zip.has(d.target)) continue;
      for (const c of (await rels(zip, d.target)).values()) {
        if (c.type.endsWith("/chart") && zip.has(c.target)) out.push(...chartBlocks(await zip.text(c.target)));
      }
    }
  } catch (err) {
    if (err instanceof IngestError) throw err;
  }
  return out;
}

/** A picture drawn on a sheet: its anchor's top-left cell (0-based) and its part in the archive. */
interface SheetPicture {
  row: number;
  col: number;
  part: string;
}

/** Pictures drawn on a worksheet (sheet → drawing → anchors with pictures → image parts), top to bottom. */
async function sheetPictures(zip: SafeZip, sheetPart: string | undefined): Promise<SheetPicture[]> {
  if (!sheetPart) return [];
  const out: SheetPicture[] = [];
  try {
    for (const d of (await rels(zip, sheetPart)).values()) {
      if (!d.type.endsWith("/drawing") || !zip.has(d.target)) continue;
      const drawingRels = await rels(zip, d.target);
      const root = parseXml(await zip.text(d.target));
      for (const anchor of root ? kids(root) : []) {
        if (!/Anchor$/.test(local(anchor.name))) continue;
        const from = kid(anchor, "from");
        const row = Number(kid(from, "row")?.children.map((t) => (t.type === "text" ? t.data : "")).join("") ?? 0) || 0;
        const col = Number(kid(from, "col")?.children.map((t) => (t.type === "text" ? t.data : "")).join("") ?? 0) || 0;
        for (const pic of descendants(anchor, "pic")) {
          const blip = descendants(pic, "blip")[0];
          const id = attr(blip, "r:embed") ?? attr(blip, "embed");
          const target = id ? drawingRels.get(id)?.target : undefined;
          if (target && zip.has(target)) out.push({ row, col, part: target });
        }
      }
    }
  } catch (err) {
    if (err instanceof IngestError && err.code === "zip_bomb") throw err;
  }
  return out.sort((a, b) => a.row - b.row || a.col - b.col);
}

interface RegionBox {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/**
 * Split a sheet into tables: connected regions of non-empty cells (4-neighbourhood), so tables
 * separated by an empty row or an empty column become separate tables. Regions whose bounding boxes
 * overlap are merged; output is ordered top-to-bottom, left-to-right.
 */
export function splitRegions(grid: string[][]): string[][][] {
  return regionBoxes(grid).map((b) => regionOf(grid, b));
}

function regionOf(grid: string[][], b: RegionBox): string[][] {
  return grid.slice(b.top, b.bottom + 1).map((row) => Array.from({ length: b.right - b.left + 1 }, (_, k) => row[b.left + k] ?? ""));
}

/** The tables' bounding boxes in the grid, top to bottom (see splitRegions). */
function regionBoxes(grid: string[][]): RegionBox[] {
  const h = grid.length;
  const w = Math.max(0, ...grid.map((r) => r.length));
  const seen = new Uint8Array(h * w);
  const filled = (r: number, c: number) => (grid[r]?.[c] ?? "") !== "";
  type Box = RegionBox;
  const boxes: Box[] = [];
  for (let r0 = 0; r0 < h; r0++) {
    for (let c0 = 0; c0 < w; c0++) {
      if (!filled(r0, c0) || seen[r0 * w + c0]) continue;
      const box: Box = { top: r0, left: c0, bottom: r0, right: c0 };
      const stack = [r0 * w + c0];
      seen[r0 * w + c0] = 1;
      while (stack.length) {
        const i = stack.pop()!;
        const r = Math.floor(i / w);
        const c = i % w;
        box.top = Math.min(box.top, r);
        box.bottom = Math.max(box.bottom, r);
        box.left = Math.min(box.left, c);
        box.right = Math.max(box.right, c);
        for (const [dr, dc] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
          const j = rr * w + cc;
          if (seen[j] || !filled(rr, cc)) continue;
          seen[j] = 1;
          stack.push(j);
        }
      }
      boxes.push(box);
    }
  }
  // Scattered sheets (many tiny regions) read better as one grid; also bounds the merge below.
  if (boxes.length > 200) return [{ top: 0, left: 0, bottom: h - 1, right: w - 1 }];
  // Merge overlapping bounding boxes until stable.
  let merged = true;
  while (merged) {
    merged = false;
    outer: for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        if (a.left <= b.right && b.left <= a.right && a.top <= b.bottom && b.top <= a.bottom) {
          boxes[i] = { top: Math.min(a.top, b.top), left: Math.min(a.left, b.left), bottom: Math.max(a.bottom, b.bottom), right: Math.max(a.right, b.right) };
          boxes.splice(j, 1);
          merged = true;
          break outer;
        }
      }
    }
  }
  boxes.sort((a, b) => a.top - b.top || a.left - b.left);
  return boxes;
}

export function createXlsxExtractor(config: XlsxExtractorConfig = {}): Extractor {
  const maxRows = config.maxRowsPerSheet ?? 10_000;
  const maxCols = config.maxColumns ?? 200;
  const maxCells = config.maxCells ?? 1_000_000;
  const rowsPerBlock = config.rowsPerBlock ?? 100;
  return {
    kinds: ["xlsx"],
    async extract(file: SourceFile, type: DetectedType, options: ExtractOptions): Promise<ExtractedDocument> {
      const zip = await openZip(file.bytes, file.source, "XLSX", zipLimitsFor(options, config.zipLimits));
      if (!zip.has("xl/workbook.xml")) {
        throw new IngestError("corrupt_document", `${file.source}: not an Excel workbook (xl/workbook.xml is missing)`);
      }
      await zip.verifyAll();
      if (options.signal?.aborted) throw new IngestError("aborted", `${file.source}: extraction aborted`);
      let input = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
      const drawings = zip.names.filter((n) => /^xl\/drawings\/[^/]+\.xml$/.test(n));
      if (drawings.length) input = await withoutDrawings(input, drawings);
      const wb = new ExcelJS.Workbook();
      try {
        await wb.xlsx.load(input as unknown as ExcelJS.Buffer, {
          ignoreNodes: ["dataValidations", "conditionalFormatting", "extLst", "sheetProtection"],
        });
      } catch (err) {
        throw new IngestError("corrupt_document", `${file.source}: workbook could not be read (${(err as Error)?.message ?? err})`);
      }
      const warnings: string[] = [];
      const pages: ExtractedPage[] = [];
      const sheetParts = await sheetPartsByName(zip);
      let cells = 0;
      let cellCapHit = false;
      const pictureParts: string[] = [];
      const pictureOf = new Map<string, number>();
      let pageNo = 0;
      for (const ws of wb.worksheets) {
        pageNo++;
        if (cellCapHit) break;
        // Dense grid of the used range (rows compacted: fully empty rows are kept as separators).
        const grid: string[][] = [];
        /** The sheet row (1-based) of each grid row. */
        const gridRows: number[] = [];
        let prevRow = 0;
        let rowsRead = 0;
        let rowCapHit = false;
        ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
          if (rowCapHit || cellCapHit) return;
          if (rowsRead >= maxRows) {
            rowCapHit = true;
            return;
          }
          const values: string[] = [];
          const last = Math.min(row.cellCount, maxCols);
          for (let c = 1; c <= last; c++) {
            const cell = row.getCell(c);
            // Merged ranges repeat the top-left value in every cell (rows stay self-contained).
            const src = cell.isMerged && cell.master !== cell ? cell.master : cell;
            values.push(cellText(src.value, src.numFmt).trim());
          }
          cells += last;
          if (cells > maxCells) {
            cellCapHit = true;
            return;
          }
          if (!values.some((v) => v)) return;
          rowsRead++;
          if (prevRow && rowNumber > prevRow + 1) {
            grid.push([]);
            gridRows.push(prevRow + 1);
          }
          grid.push(values);
          gridRows.push(rowNumber);
          prevRow = rowNumber;
        });
        const boxes = grid.length ? regionBoxes(grid) : [];
        if (rowCapHit) warnings.push(`sheet "${ws.name}": only the first ${maxRows} rows were read`);
        if (cellCapHit) warnings.push(`workbook has more than ${maxCells} cells; the rest was not read`);
        const blocks: Block[] = [];
        const drawn = config.pictures === false ? [] : await sheetPictures(zip, sheetParts.get(ws.name));
        const placeUpTo = (sheetRow: number) => {
          while (drawn.length && drawn[0]!.row + 1 < sheetRow) {
            const { part } = drawn.shift()!;
            if (!pictureOf.has(part)) {
              pictureOf.set(part, pictureParts.length);
              pictureParts.push(part);
            }
            blocks.push({ kind: "paragraph", text: pictureMark(pictureOf.get(part)!) });
          }
        };
        for (const b of boxes) {
          placeUpTo(gridRows[b.top] ?? Infinity);
          blocks.push(...gridToBlocks(regionOf(grid, b), rowsPerBlock));
        }
        placeUpTo(Infinity);
        blocks.push(...(await sheetCharts(zip, sheetParts.get(ws.name))));
        if (blocks.length === 0) continue;
        pages.push({ page: pageNo, blocks: [{ kind: "heading", level: 2, text: ws.name }, ...blocks] });
      }
      const pictures: Uint8Array[] = [];
      for (const part of pictureParts) pictures.push(await zip.bytes(part));
      // A sheet whose only content was a picture without readable text keeps only its name: dropped.
      const placed = (await placePictures(pages, pictures, config.pictures, options.signal, warnings)).filter((p) => p.blocks.length > 1);
      const title = (await coreTitle(zip)) ?? titleFromFileName(file.source);
      return { mime: type.mime, ...(title ? { title } : {}), pages: placed, warnings };
    },
  };
}

export const xlsxExtractor: Extractor = createXlsxExtractor();
