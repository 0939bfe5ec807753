/**
 * pdfjs-dist's legacy build (loaded by pdf-parse) replaces Array.prototype.push process-wide with a
 * slower core-js polyfill on Node 20; the PDF extractor puts the engine's own back. This file
 * imports nothing that loads pdf-parse before the extractor does, as the product's entry points.
 */
import { describe, expect, it } from "vitest";
import { readPdfTextLayer } from "../../ingest/extractors/pdf.ts";
import { nativeBuiltinsInPlace } from "../../ingest/extractors/pdfjs-builtins.ts";
import { buildPdf } from "./fixtures.ts";

describe("pdfjs does not slow down the rest of the process", () => {
  it("Array.prototype.push and JSON.parse are the engine's own after PDFs are read", async () => {
    const layer = await readPdfTextLayer(buildPdf({ pages: [["Quarterly report page one."]] }));
    expect(layer.pages[0]!.text).toContain("Quarterly report");
    expect(nativeBuiltinsInPlace()).toBe(true);
    // Still an ordinary, working push and parse.
    const a = [1];
    expect(a.push(2, 3)).toBe(3);
    expect(JSON.parse('{"x":[1,2]}', (_k, v) => v)).toEqual({ x: [1, 2] });
  });
});
