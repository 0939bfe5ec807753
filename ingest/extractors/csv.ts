/**
 * CSV / TSV extractor: encoding via decode-text, delimiter detection (",", ";", "\t", "|": the
 * candidate that splits the first lines into the most consistent number of fields > 1), RFC 4180
 * parsing (quoted fields with delimiters, doubled quotes and line breaks), output as Markdown table
 * blocks of at most `rowsPerBlock` rows each with the header row repeated, so that every block
 * reads on its own. Rows and cells are capped (warnings say what was cut).
 * Tables are rendered by tables.ts.
 */
import { decodeText } from "../decode-text.ts";
import { titleFromFileName } from "../text-utils.ts";
import { gridToBlocks } from "./tables.ts";
import { IngestError, type DetectedType, type ExtractedDocument, type Extractor, type SourceFile } from "../types.ts";

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
