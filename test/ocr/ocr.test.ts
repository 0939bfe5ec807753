/**
 * OCR engine, image extractor and PDF OCR — real tesseract runs on a handful of small pages.
 * English pages are rendered in the test (SVG → PNG with sharp, DejaVu Sans via fontconfig); there is
 * no Korean font on the build machines, so Korean uses the public sample pages and skips without them.
 */
import { existsSync, readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createImageExtractor } from "../../ingest/extractors/image.ts";
import { createPdfExtractor } from "../../ingest/extractors/pdf.ts";
import { decodeBmp } from "../../ingest/ocr/bmp.ts";
import { OcrEngine, pageScript, type OcrPage, type RecognizeOptions } from "../../ingest/ocr/engine.ts";
import { cer, wordRecall } from "../../ingest/ocr/metrics.ts";
import { ocrPdfPages, pdfOcrFallback } from "../../ingest/ocr/pdf-ocr.ts";
import { chooseScale, inspectImage, tesseractInput } from "../../ingest/ocr/preprocess.ts";
import { IngestError } from "../../ingest/types.ts";
import { buildPdf, haveShared, sharedPath } from "../ingest/fixtures.ts";

const LINES = ["The quick brown fox jumps over", "the lazy dog near the river bank.", "Invoice number 4711 is due today."];

async function textPng(lines: string[], opts: { rotate?: number; fontSize?: number } = {}): Promise<Buffer> {
  const fs = opts.fontSize ?? 32;
  const width = 900;
  const height = lines.length * fs * 1.6 + 80;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    ${lines.map((l, i) => `<text x="40" y="${60 + i * fs * 1.6}" font-family="DejaVu Sans" font-size="${fs}" fill="black">${l}</text>`).join("\n")}
  </svg>`;
  let img = sharp(Buffer.from(svg)).flatten({ background: "#ffffff" });
  if (opts.rotate) img = sharp(await img.png().toBuffer()).rotate(opts.rotate, { background: "#ffffff" });
  return img.png().toBuffer();
}

/** The real engine, recording what each page was asked (its script hint) and which whole-page layout passes read it. */
class RecordingEngine extends OcrEngine {
  readonly seen: { hint: string | undefined; passes: string[] }[] = [];
  override async recognizeImage(bytes: Uint8Array, options: RecognizeOptions = {}): Promise<OcrPage> {
    const r = await super.recognizeImage(bytes, options);
    this.seen.push({ hint: options.scriptHint, passes: r.passes.filter((p) => p.kind === "read" && p.psm === 3).map((p) => p.languages) });
    return r;
  }
}

/** A PNG that declares huge dimensions (IHDR only, no pixel data worth decoding). */
function pngHeader(width: number, height: number): Buffer {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  // A few bytes of real (tiny) compressed data: the bomb is in the declared size.
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.alloc(64))), chunk("IEND", Buffer.alloc(0))]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

let engine: OcrEngine;
/** SVG text needs a system font (fontconfig); without one the rendered page is blank. */
let canRenderText = true;
beforeAll(async () => {
  engine = new OcrEngine({ poolSize: 1 });
  const { channels } = await sharp(await textPng(["probe"])).grayscale().stats();
  canRenderText = (channels[0]?.min ?? 255) < 128;
  if (!canRenderText) console.log("[skip] OCR tests on rendered text: no system font for SVG text (install fonts-dejavu-core)");
});
afterAll(async () => {
  await engine.close();
});

describe("metrics", () => {
  it("word recall counts ground-truth words of 2+ characters, each OCR word once", () => {
    const r = wordRecall("보험 계약자는 a 회사에, 보험 청약", "보험 계약자는 회사에 청약");
    expect(r.total).toBe(5);
    expect(r.found).toBe(4);
    expect(r.missed).toEqual(["보험"]);
  });
  it("CER is edit distance over the ground truth length, whitespace collapsed", () => {
    expect(cer("abc  def", "abc def")).toBe(0);
    expect(cer("abcd", "abxd")).toBeCloseTo(0.25);
  });
});

describe("preprocess and hostile images", () => {
  it("rejects a decompression bomb from its header, before decoding", async () => {
    const bomb = pngHeader(100_000, 100_000);
    await expect(inspectImage(bomb)).rejects.toMatchObject({ code: "image_too_large" });
    const ex = createImageExtractor({ engine: () => engine });
    await expect(ex.extract({ source: "bomb.png", bytes: bomb }, { mime: "image/png", kind: "image" }, {})).rejects.toMatchObject({ code: "image_too_large" });
    expect(engine.startedWorkers).toBe(0); // nothing was OCR'd
  });
  it("honours a configurable pixel limit", async () => {
    await expect(inspectImage(pngHeader(2000, 2000), { maxInputPixels: 1_000_000 })).rejects.toBeInstanceOf(IngestError);
    const real = await sharp({ create: { width: 900, height: 900, channels: 3, background: "#ffffff" } }).png().toBuffer();
    await expect(inspectImage(real, { maxInputPixels: 1_000_000 })).resolves.toMatchObject({ width: 900, height: 900 });
  });
  it("reports truncated images as truncated_file", async () => {
    const png = await textPng(["truncated"]);
    const cut = png.subarray(0, Math.floor(png.length / 2));
    const ex = createImageExtractor({ engine: () => engine });
    await expect(ex.extract({ source: "cut.png", bytes: cut }, { mime: "image/png", kind: "image" }, {})).rejects.toMatchObject({
      code: expect.stringMatching(/truncated_file|corrupt_image/),
    });
  });
  it("decodes 24-bit BMP (sharp has no BMP loader)", () => {
    const w = 3, h = 2, stride = 12;
    const b = Buffer.alloc(54 + stride * h);
    b.write("BM", 0, "latin1");
    b.writeUInt32LE(b.length, 2);
    b.writeUInt32LE(54, 10);
    b.writeUInt32LE(40, 14);
    b.writeInt32LE(w, 18);
    b.writeInt32LE(h, 22);
    b.writeUInt16LE(1, 26);
    b.writeUInt16LE(24, 28);
    // bottom-up: last row first; first pixel of the bottom row is pure red (BGR order)
    b[54] = 0; b[55] = 0; b[56] = 255;
    const raw = decodeBmp(b, 1e6);
    expect(raw.width).toBe(3);
    expect([...raw.data.subarray((1 * w + 0) * 3, (1 * w + 0) * 3 + 3)]).toEqual([255, 0, 0]);
  });
  it("hands tesseract an uncompressed PGM, or a PNG when the bytes would trip tesseract.js's EXIF sniffing", async () => {
    const pixels = Buffer.alloc(40 * 10, 255);
    const pgm = await tesseractInput(pixels, 40, 10);
    expect(pgm.subarray(0, 9).toString("latin1")).toBe("P5\n40 10\n");
    expect(pgm.subarray(pgm.length - pixels.length).equals(pixels)).toBe(true);
    // tesseract.js rotates any input whose first 500 bytes read "1 18 0 3 0 0 0 1 0 <d>" (an EXIF
    // orientation tag); raw pixels with that run go as PNG, with the same pixels.
    const tricky = Buffer.from(pixels);
    tricky.set([1, 18, 0, 3, 0, 0, 0, 1, 0, 6], 0);
    const png = await tesseractInput(tricky, 40, 10);
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const back = await sharp(png).extractChannel(0).raw().toBuffer();
    expect(back.equals(tricky)).toBe(true);
  });
  it("upscales low-resolution pages towards ~400 dpi, never shrinks", () => {
    expect(chooseScale(1654, 2339, 200)).toBe(2);
    expect(chooseScale(3300, 4600, 400)).toBe(1);
    expect(chooseScale(640, 480)).toBe(2.5);
  });
});

describe("OCR engine (English, rendered in the test)", () => {
  it("starts lazily and reads a clean page with per-page confidence", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const fresh = new OcrEngine({ poolSize: 1 });
    expect(fresh.startedWorkers).toBe(0);
    await fresh.close();
    const r = await engine.recognizeImage(await textPng(LINES));
    expect(cer(LINES.join("\n"), r.text)).toBeLessThan(0.03);
    expect(r.confidence).toBeGreaterThan(70);
    expect(r.rotation).toBe(0);
    expect(r.paragraphs.length).toBeGreaterThan(0);
    expect(engine.startedWorkers).toBeGreaterThan(0);
    // Confident upright page: no orientation search, no re-read at its own size (kor, then kor+eng
    // since it is not Korean, then kor+eng as sparse text for words the layout pass lost).
    expect(r.passes.map((p) => `${p.kind}:${p.languages}:${p.rotation}:${p.psm}`)).toEqual(["read:kor:0:3", "read:kor+eng:0:3", "read:kor+eng:0:11"]);
    expect(r.sparseWords).toBe(0);
  });

  it("corrects an upside-down page", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const r = await engine.recognizeImage(await textPng(LINES, { rotate: 180 }));
    expect(r.rotation).toBe(180);
    expect(cer(LINES.join("\n"), r.text)).toBeLessThan(0.05);
    // The upside-down reading is not confident: the four probes ran, then the page was read turned.
    expect(r.passes.filter((p) => p.kind === "orientation-probe").map((p) => p.rotation)).toEqual([0, 90, 180, 270]);
    expect(r.passes.filter((p) => p.kind === "read" && p.rotation === 180).length).toBeGreaterThan(0);
  });

  it("reads a page of a document whose earlier pages were English without the kor pass", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const png = await textPng(LINES);
    const plain = await engine.recognizeImage(png);
    const hinted = await engine.recognizeImage(png, { scriptHint: "latin" });
    expect(pageScript(plain)).toBe("latin");
    expect(hinted.passes.map((p) => `${p.kind}:${p.languages}:${p.psm}`)).toEqual(["read:kor+eng:3", "read:kor+eng:11"]);
    expect(hinted.text).toBe(plain.text);
    expect(hinted.confidence).toBe(plain.confidence);
  });

  it("ocrPdfPages reads a scanned English PDF's later pages kor+eng first, and its first page as any", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const pages = [["First page of the English scan", "with a second line of text."], ["Second page of the same scan", "about the harbour ledger."], ["Third page: the turbine report", "is due on Monday."]];
    const pictures = [];
    for (const lines of pages) {
      const png = await textPng(lines);
      const meta = await sharp(png).metadata();
      const jpeg = await sharp(png).jpeg({ quality: 92 }).toBuffer();
      pictures.push({ jpeg, pixelWidth: meta.width!, pixelHeight: meta.height!, x: 0, y: 0, w: 612, h: Math.round((612 * meta.height!) / meta.width!) });
    }
    const pdf = buildPdf({ pages: pages.map(() => []), pictures, pageSize: { width: 612, height: pictures[0]!.h } });
    const recording = new RecordingEngine({ poolSize: 1 });
    try {
      const res = await ocrPdfPages(pdf, [1, 2, 3], { engine: recording });
      expect(res.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
      res.forEach((r, i) => expect(wordRecall(pages[i]!.join("\n"), r.text).recall).toBeGreaterThanOrEqual(0.75));
      // Pages 2 and 3 read alone (each the first page of its call: no hint) give the same text.
      for (const page of [2, 3]) expect((await ocrPdfPages(pdf, [page], { engine: recording }))[0]!.text).toBe(res[page - 1]!.text);
      // The hinted pages never ran the kor pass (a noisy page may be read kor+eng more than once:
      // at its own size, without check boxes); the pages read alone started with it.
      expect(recording.seen.map((x) => [x.hint, x.passes[0], x.passes.includes("kor")])).toEqual([
        [undefined, "kor", true],
        ["latin", "kor+eng", false],
        ["latin", "kor+eng", false],
        [undefined, "kor", true],
        [undefined, "kor", true],
      ]);
    } finally {
      await recording.close();
    }
  });

  it("times out a page, kills the worker and keeps working", async () => {
    const slow = new OcrEngine({ poolSize: 1, pageTimeoutMs: 1 });
    await expect(slow.recognizeImage(await textPng(LINES))).rejects.toMatchObject({ code: "ocr_timeout" });
    await slow.close();
  });

  it("image extractor: multi-page TIFF → one page each, paragraphs as blocks", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const a = await sharp(await textPng(["First page of the scan", ...LINES])).raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(await textPng(["Second page of the scan", ...LINES])).raw().toBuffer({ resolveWithObject: true });
    const stacked = Buffer.concat([a.data, b.data]);
    const tiff = await sharp(stacked, { raw: { width: a.info.width, height: a.info.height * 2, channels: a.info.channels, pageHeight: a.info.height } as never })
      .tiff({ compression: "lzw" })
      .toBuffer();
    const info = await inspectImage(tiff);
    expect(info.pages).toBe(2);
    const recording = new RecordingEngine({ poolSize: 1 });
    try {
      const ex = createImageExtractor({ engine: () => recording });
      const doc = await ex.extract({ source: "scan.tiff", bytes: tiff }, { mime: "image/tiff", kind: "image" }, {});
      expect(doc.pages.map((p) => p.page)).toEqual([1, 2]);
      expect(doc.pages[0]!.blocks[0]!.text).toContain("First page");
      expect(doc.pages[1]!.blocks[0]!.text).toContain("Second page");
      expect(doc.pages[0]!.ocrConfidence).toBeGreaterThan(50);
      // The first page read as English, so the second was read kor+eng first, without the kor pass.
      expect(recording.seen.map((x) => [x.hint, x.passes.includes("kor")])).toEqual([
        [undefined, true],
        ["latin", false],
      ]);
    } finally {
      await recording.close();
    }
  });
});

describe("Korean OCR on public sample pages", () => {
  const png = sharedPath("ocr_korean", "rendered_png_200dpi", "autorag_kbo_only_table-1.png");
  const pdf = sharedPath("ocr_korean", "scanned_pdf_200dpi", "autorag_kbo_only_table.scanned.pdf");
  const gt = sharedPath("ocr_korean", "ground_truth_txt", "autorag_kbo_only_table.raw.txt");
  const have = haveShared(png, "Korean OCR sample page") && existsSync(pdf) && existsSync(gt);

  it.skipIf(!have)("reads a 200 dpi Korean page (word recall ≥ 0.8, Hangul not turned into Latin)", async () => {
    const r = await engine.recognizeImage(readFileSync(png));
    const rec = wordRecall(readFileSync(gt, "utf8"), r.text);
    expect(rec.recall).toBeGreaterThanOrEqual(0.8);
    expect(r.text).toContain("피치클락");
    // A confident Korean page costs one whole-page pass: no kor+eng pass, no orientation search;
    // only its low-confidence Latin/digit words are re-read (cropped from the prepared pixels).
    expect(r.passes.map((p) => `${p.kind}:${p.languages}`)).toEqual(["read:kor"]);
    expect(r.wordRetries.tried).toBeGreaterThan(0);
  });

  it.skipIf(!have)("a Korean page among English ones (hint \"latin\") is still read by the kor pass", async () => {
    const r = await engine.recognizeImage(readFileSync(png), { scriptHint: "latin" });
    // kor+eng first, not kept (Hangul), then the kor pass decides as without the hint.
    expect(r.passes.filter((p) => p.kind === "read" && p.psm === 3).map((p) => p.languages)).toEqual(["kor+eng", "kor"]);
    expect(r.languages).toBe("kor");
    expect(r.text).toContain("피치클락");
    expect(wordRecall(readFileSync(gt, "utf8"), r.text).recall).toBeGreaterThanOrEqual(0.8);
    expect(pageScript(r)).toBeUndefined();
  });

  it.skipIf(!have)("PDF extractor with the OCR fallback reads a scanned (image-only) PDF", async () => {
    const ex = createPdfExtractor({ ocrFallback: (input) => pdfOcrFallback(input) });
    const doc = await ex.extract({ source: "scan.pdf", bytes: readFileSync(pdf) }, { mime: "application/pdf", kind: "pdf" }, {});
    expect(doc.pages).toHaveLength(1);
    expect(doc.pages[0]!.ocrConfidence).toBeGreaterThan(50);
    const text = doc.pages[0]!.blocks.map((b) => b.text).join("\n");
    expect(wordRecall(readFileSync(gt, "utf8"), text).recall).toBeGreaterThanOrEqual(0.75);
  });

  it.skipIf(!have)("ocrPdfPages reports pages that do not exist without failing the others", async () => {
    const res = await ocrPdfPages(readFileSync(pdf), [7], { engine });
    expect(res[0]!.error?.code).toBe("page_out_of_range");
  });
});

describe("English magazine scan (UNLV page from tesseract's test set)", () => {
  const tif = sharedPath("ocr_tesseract_test_en", "8087_054.3B.tif");
  const have = haveShared(tif, "UNLV test page");

  it.skipIf(!have)("reads a two-column page with a photo caption whole, columns in order (CER ≤ 6%)", async () => {
    const gt = readFileSync(tif.replace(/\.tif$/, ".txt"), "utf8").replace(/~/g, "");
    const r = await engine.recognizeImage(readFileSync(tif));
    expect(cer(gt, r.text)).toBeLessThanOrEqual(0.06);
    // The sentence that runs from the first column into the second is not cut by the caption.
    expect(r.text).toMatch(/any person in\s+need receives flour/);
  }, 300_000); // three whole-page passes of a 300 dpi page (the last one sparse text) on a shared machine
});
