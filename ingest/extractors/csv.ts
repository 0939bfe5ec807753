/**
 * CSV / TSV extractor: encoding via decode-text, delimiter detection (",", ";", "\t", "|": the
 * candidate that splits the first lines into the most consistent number of fields > 1), RFC 4180
 * parsing (quoted fields with delimiters, doubled quotes and line breaks), output as Markdown table
 * blocks of at most `rowsPerBlock` rows each with the header row repeated, so that every block
 * reads on its own. Rows and cells are capped (warnings say what was cut).
 *
 * Also home of `markdownTable`, the table renderer shared by the Office/HWP extractors.
 */
import { decodeText } from "../decode-text.ts";
import { titleFromFileName } from "../text-utils.ts";
import { IngestError, type Block, type DetectedType, type ExtractedDocument, type Extractor, type SourceFile } from "../types.ts";

// ---------------------------------------------------------------------------------------------
// Markdown tables

/** One cell as Markdown table text: single line, pipes escaped. */
export function markdownCell(s: string): string {
  return s.replace(/\r\n?|\n|\u2028/g, " ").replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();
}

/**
 * Rows → Markdown table (first row is the header). Ragged rows are padded; columns empty in every
 * row are dropped. Returns "" for an empty grid.
 */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const grid = rows.map((r) => r.map(markdownCell)).filter((r) => r.some((c) => c.length > 0));
  if (grid.length === 0) return "";
  const width = Math.max(...grid.map((r) => r.length));
  const keep: number[] = [];
  for (let c = 0; c < width; c++) if (grid.some((r) => (r[c] ?? "").length > 0)) keep.push(c);
  const line = (r: readonly string[]) => `| ${keep.map((c) => r[c] ?? "").join(" | ")} |`;
  return [line(grid[0]!), `| ${keep.map(() => "---").join(" | ")} |`, ...grid.slice(1).map(line)].join("\n");
}

/**
 * A grid as blocks: a Markdown table per `rowsPerBlock` data rows (header repeated); a grid with
 * one row or one non-empty column reads better as a paragraph.
 */
export function gridToBlocks(rows: readonly (readonly string[])[], rowsPerBlock = 100): Block[] {
  const grid = rows.filter((r) => r.some((c) => markdownCell(c).length > 0));
  if (grid.length === 0) return [];
  const width = Math.max(...grid.map((r) => r.length));
  const nonEmptyCols = Array.from({ length: width }, (_, c) => c).filter((c) => grid.some((r) => markdownCell(r[c] ?? "").length > 0));
  if (grid.length === 1 || nonEmptyCols.length === 1) {
    const line = (r: readonly string[]) => r.map((c) => c.replace(/\s+/g, " ").trim()).filter(Boolean).join(" ");
    return [{ kind: "paragraph", text: grid.map(line).join("\n") }];
  }
  const [header, ...body] = grid;
  const blocks: Block[] = [];
  for (let i = 0; i < Math.max(1, body.length); i += rowsPerBlock) {
    blocks.push({ kind: "table", text: markdownTable([header!, ...body.slice(i, i + rowsPerBlock)]) });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// CSV parsing

const CANDIDATES = [",", ";", "\t", "|"] as const;

/** Parse CSV text with one delimiter. Stops after `maxRows` rows (returns truncated = true). */
export function parseCsv(text: string, delimiter: string, maxRows = Number.POSITIVE_INFINITY): { rows: string[][]; truncated: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endRow = () => {
    row.push(field);
    field = "";
    rows.push(row);
    row = [];
  };
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field.trim() === "") {
      quoted = true;
      field = "";
      i++;
      continue;
    }
    if (ch === delimiter) {
      row.push(field);
      field = "";
      i++;
      continue;
    }
    if (ch === "\r" || ch === "\n") {
      endRow();
      if (ch === "\r" && text[i + 1] === "\n") i++;
      i++;
      if (rows.length >= maxRows) return { rows, truncated: i < n };
      continue;
    }
    field += ch;
    i++;
  }
  if (field.length > 0 || row.length > 0) endRow();
  return { rows, truncated: false };
}

/** Pick the delimiter that gives the most consistent field count (> 1) over the first lines. */
export function detectDelimiter(text: string, hint?: string): string {
  if (hint && CANDIDATES.includes(hint as (typeof CANDIDATES)[number])) return hint;
  const sample = text.slice(0, 65536);
  let best: { d: string; score: number } = { d: ",", score: -1 };
  for (const d of CANDIDATES) {
    const { rows } = parseCsv(sample, d, 50);
    const counts = rows.filter((r) => r.some((c) => c.trim())).map((r) => r.length);
    if (rows.length > 1 && sample.length === 65536) counts.pop(); // last row may be cut
    if (counts.length === 0) continue;
    const freq = new Map<number, number>();
    for (const c of counts) freq.set(c, (freq.get(c) ?? 0) + 1);
    const [mode, modeCount] = [...freq.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]!;
    if (mode < 2) continue;
    const consistency = modeCount / counts.length;
    const score = consistency * 10 + Math.min(mode, 50) / 50;
    if (score > best.score) best = { d, score };
  }
  return best.d;
}

// ---------------------------------------------------------------------------------------------
// extractor

export interface CsvExtractorConfig {
  /** Most rows read (default 100,000). */
  maxRows?: number;
  /** Most cells read (default 2,000,000). */
  maxCells?: number;
  /** Data rows per table block (default 100). */
  rowsPerBlock?: number;
}

export function createCsvExtractor(config: CsvExtractorConfig = {}): Extractor {
  const maxRows = config.maxRows ?? 100_000;
  const maxCells = config.maxCells ?? 2_000_000;
  const rowsPerBlock = config.rowsPerBlock ?? 100;
  return {
    kinds: ["csv"],
    async extract(file: SourceFile, type: DetectedType): Promise<ExtractedDocument> {
      const declared = (type as DetectedType & { encoding?: string }).encoding;
      const { text } = decodeText(file.bytes, declared ? { declaredEncoding: declared } : {});
      if (!text.trim()) throw new IngestError("no_content", `${file.source} is an empty CSV file`);
      const isTsv = /tab-separated/.test(type.mime) || /\.(tsv|tab)$/i.test(file.source);
      const delimiter = detectDelimiter(text, isTsv ? "\t" : undefined);
      const parsed = parseCsv(text, delimiter, maxRows + 1);
      let rows = parsed.rows;
      const warnings: string[] = [];
      if (parsed.truncated || rows.length > maxRows) {
        rows = rows.slice(0, maxRows);
        warnings.push(`only the first ${maxRows} rows were read`);
      }
      let cells = 0;
      let cut = rows.length;
      for (let i = 0; i < rows.length; i++) {
        cells += rows[i]!.length;
        if (cells > maxCells) {
          cut = i;
          break;
        }
      }
      if (cut < rows.length) {
        rows = rows.slice(0, cut);
        warnings.push(`only the first ${cut} rows were read (cell limit ${maxCells})`);
      }
      const blocks = gridToBlocks(rows, rowsPerBlock);
      return {
        mime: type.mime || "text/csv",
        ...(titleFromFileName(file.source) ? { title: titleFromFileName(file.source)! } : {}),
        pages: blocks.length ? [{ page: 1, blocks }] : [],
        warnings,
      };
    },
  };
}

export const csvExtractor: Extractor = createCsvExtractor();
