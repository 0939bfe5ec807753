/**
 * Markdown tables, the table rendering shared by the CSV, Office and HWP extractors.
 */
import type { Block } from "../types.ts";

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
