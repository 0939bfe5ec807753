/**
 * Reading order of tesseract's blocks. The two magazine layouts are the block geometry tesseract
 * reports for the UNLV pages 8071_093.3B and 8087_054.3B (bench:ocr); the others are the plain
 * layouts whose order must not change.
 */
import { describe, expect, it } from "vitest";
import { dominantWordHeight, isBodyBlock, readingOrder, type LayoutBlock } from "../../ingest/ocr/reading-order.ts";

function block(name: string, x0: number, y0: number, x1: number, y1: number, wordHeight: number, blockType = 1, chars?: number): LayoutBlock & { name: string } {
  return { name, bbox: { x0, y0, x1, y1 }, blockType, wordHeight, chars: chars ?? Math.round(((x1 - x0) * (y1 - y0)) / 2000) };
}

function names(blocks: Array<LayoutBlock & { name: string }>): string[] {
  return readingOrder(blocks).map((i) => blocks[i]!.name);
}

describe("reading order of tesseract blocks", () => {
  it("magazine spread: drop-cap lines first, columns continuous, floating headline and pull quote after", () => {
    // Tesseract's order for 8071_093.3B.
    const page = [
      block("col1-rest", 237, 276, 1066, 1002, 44),
      block("col1-dropcap", 245, 216, 1063, 384, 44, 1, 25),
      block("col2", 1132, 216, 1961, 1960, 44),
      block("pull-quote", 1214, 2251, 1829, 2410, 61),
      block("byline", 1216, 2677, 1841, 2716, 37),
      block("photo-credit", 1215, 2791, 1788, 2814, 20),
      block("col3", 2319, 223, 3163, 2395, 45),
      block("headline", 1215, 2471, 3784, 2645, 158, 3),
      block("col4", 3212, 229, 4060, 2414, 45),
    ];
    expect(names(page)).toEqual(["col1-dropcap", "col1-rest", "col2", "col3", "col4", "pull-quote", "headline", "byline", "photo-credit"]);
  });

  it("two columns around a photo: caption and page footer do not cut the sentence between columns", () => {
    // Tesseract's order for 8087_054.3B.
    const page = [
      block("col1", 374, 798, 1646, 4173, 41),
      block("footer", 289, 4223, 1401, 4290, 29, 3),
      block("caption", 1440, 3081, 1945, 3475, 25, 8),
      block("col2", 1744, 801, 3016, 4175, 41),
    ];
    expect(names(page)).toEqual(["col1", "col2", "caption", "footer"]);
  });

  it("keeps a title before the first body block and a section heading inside its column", () => {
    const page = [
      block("title", 200, 100, 2000, 220, 90, 2),
      block("para1", 200, 300, 2000, 900, 40),
      block("heading", 200, 950, 1200, 1010, 55),
      block("para2", 200, 1050, 2000, 1800, 40),
      block("page-number", 1000, 2900, 1100, 2940, 30),
    ];
    expect(names(page)).toEqual(["title", "para1", "heading", "para2", "page-number"]);
  });

  it("keeps a heading that stands over the next column with that column", () => {
    const page = [
      block("left", 100, 100, 900, 2500, 40),
      block("right-heading", 1000, 100, 1900, 180, 60),
      block("right", 1000, 220, 1900, 2500, 40),
    ];
    expect(names(page)).toEqual(["left", "right-heading", "right"]);
  });

  it("leaves plain single-column pages and pages with one body block as tesseract read them", () => {
    const single = [block("a", 100, 100, 2000, 600, 40), block("b", 100, 650, 2000, 1200, 40), block("c", 100, 1250, 2000, 1900, 40)];
    expect(names(single)).toEqual(["a", "b", "c"]);
    const oneBody = [block("figure-text", 900, 1500, 1200, 1600, 20), block("body", 100, 100, 2000, 1400, 40)];
    expect(names(oneBody)).toEqual(["figure-text", "body"]);
    expect(readingOrder([])).toEqual([]);
  });

  it("body blocks are running text within ±15% of the page's dominant letter size", () => {
    const blocks = [block("body", 0, 0, 1000, 2000, 44), block("small", 0, 0, 100, 10, 37), block("near", 0, 0, 100, 10, 48), block("caption", 0, 0, 100, 10, 44, 8)];
    const dominant = dominantWordHeight(blocks);
    expect(dominant).toBe(44);
    expect(blocks.map((b) => isBodyBlock(b, dominant))).toEqual([true, false, true, false]);
    expect(isBodyBlock(block("no-words", 0, 0, 10, 10, 0), dominant)).toBe(false);
  });
});
