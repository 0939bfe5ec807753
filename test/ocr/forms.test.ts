/**
 * Forms and receipts (issue 17 item 3): the steps our OCR pipeline takes on degraded scans, each
 * checked on a page of the synthetic forms set (bench/forms-set.ts: rendered with DejaVu Sans
 * through fontconfig, then degraded; the generated text is the ground truth) against the same page
 * read the old way (the step turned off). Real tesseract; no timings.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcrEngine } from "../../ingest/ocr/engine.ts";
import { wordRecall } from "../../ingest/ocr/metrics.ts";
import { eraseCheckBoxes, estimateSkew, inspectImage, prepareForOcr } from "../../ingest/ocr/preprocess.ts";
import { formsPage, type FormPage } from "../../bench/forms-set.ts";

const SLOW = 600_000; // a degraded A4 page is several tesseract passes on a shared machine

let engine: OcrEngine;
let canRenderText = true;
beforeAll(async () => {
  engine = new OcrEngine({ poolSize: 1 });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><rect width="100%" height="100%" fill="white"/><text x="10" y="40" font-family="DejaVu Sans" font-size="32">probe</text></svg>`;
  const { channels } = await sharp(Buffer.from(svg)).grayscale().stats();
  canRenderText = (channels[0]?.min ?? 255) < 128;
  if (!canRenderText) console.log("[skip] forms OCR tests: no system font for SVG text (install fonts-dejavu-core)");
});
afterAll(async () => {
  await engine.close();
});

async function read(e: OcrEngine, page: FormPage) {
  const r = await e.recognizeImage(page.bytes);
  return { r, recall: wordRecall(page.truth, r.text).recall };
}

/**
 * The page read the old way and by the product's engine at once: each engine has its own worker,
 * so the two readings take the two cores (vitest runs one file at a time) and the tests half the time.
 */
function readBoth(old: OcrEngine, page: FormPage) {
  return Promise.all([read(old, page), read(engine, page)]);
}

describe("skew", () => {
  it("measures a page's skew from its text and ruled lines", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    const lines = ["Invoice number 4711", "Customer Maria Walker", "Amount due 1,250.00", "Payment within thirty days"];
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="700"><rect width="100%" height="100%" fill="white"/>${lines
      .map((l, i) => `<text x="60" y="${120 + i * 110}" font-family="DejaVu Sans" font-size="44">${l}</text>`)
      .join("")}<line x1="60" y1="600" x2="1140" y2="600" stroke="black" stroke-width="3"/></svg>`;
    const straight = await sharp(Buffer.from(svg)).png().toBuffer();
    for (const angle of [2.5, -1.8]) {
      const tilted = await sharp(straight).rotate(angle, { background: "#ffffff" }).png().toBuffer();
      const p = await prepareForOcr(tilted, await inspectImage(tilted));
      expect(Math.abs(p.skew - angle)).toBeLessThan(0.3);
      // The prepared page was turned straight.
      expect(Math.abs(estimateSkew(p.pixels, p.width, p.height))).toBeLessThan(0.3);
    }
    const p = await prepareForOcr(straight, await inspectImage(straight));
    expect(Math.abs(p.skew)).toBeLessThan(0.3);
    // A straight page is not turned: same size as the plain resize.
    expect(p.width).toBe(Math.round(1200 * p.scale));
  });
});

describe("check boxes", () => {
  it("erases empty and ticked check boxes and leaves letters, words and ruled lines alone", async (ctx) => {
    if (!canRenderText) return ctx.skip();
    // Boxes as the forms set draws them (30 px at 200 dpi, a tick running out of the box), beside
    // words; letters that look like boxes (bold P, O, D, a 0), a table cell and an underline.
    const boxes = [100, 600, 1100];
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1500" height="400"><rect width="100%" height="100%" fill="white"/>${boxes
      .map(
        (x, i) =>
          `<rect x="${x}" y="58" width="30" height="30" fill="none" stroke="black" stroke-width="3"/>` +
          (i === 1 ? `<path d="M ${x + 4} 72 L ${x + 13} 84 L ${x + 34} 48" fill="none" stroke="black" stroke-width="5"/>` : "") +
          `<text x="${x + 44}" y="84" font-family="DejaVu Sans" font-size="28">Option</text>`,
      )
      .join("")}<text x="100" y="220" font-family="DejaVu Sans" font-weight="bold" font-size="46">Point Options Details 2.0</text>
      <rect x="100" y="280" width="300" height="56" fill="none" stroke="black" stroke-width="2"/><line x1="500" y1="330" x2="1300" y2="330" stroke="black" stroke-width="2"/></svg>`;
    const { data, info } = await sharp(Buffer.from(svg)).grayscale().raw().toBuffer({ resolveWithObject: true });
    const before = Buffer.from(data);
    const erased = eraseCheckBoxes(data, info.width, info.height, 16, 60);
    expect(erased).toBe(3);
    const darkIn = (px: Buffer, x0: number, y0: number, x1: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (px[y * info.width + x]! < 128) n++;
      return n;
    };
    for (const x of boxes) {
      expect(darkIn(data, x - 3, 40, x + 40, 92)).toBe(0); // the box (and the tick) are gone
      expect(darkIn(data, x + 44, 50, x + 200, 92)).toBe(darkIn(before, x + 44, 50, x + 200, 92)); // the word is untouched
    }
    // Nothing else changed: the letters, the cell and the line.
    expect(darkIn(data, 0, 150, info.width, info.height)).toBe(darkIn(before, 0, 150, info.width, info.height));
  });
});

describe("degraded forms (synthetic set)", () => {
  it(
    "a skewed form is turned straight: the boxed fields and table the layout analysis lost are read",
    async (ctx) => {
      if (!canRenderText) return ctx.skip();
      const page = await formsPage({ lang: "en", kind: "form", degradation: "skew", k: 0 });
      const old = new OcrEngine({ poolSize: 1, deskew: false, nativeScaleBelow: 0, sparseRecovery: false, eraseCheckBoxes: false });
      try {
        const [before, after] = await readBoth(old, page);
        expect(after.r.skew).toBeGreaterThan(1.5);
        expect(after.recall).toBeGreaterThanOrEqual(0.9);
        expect(before.recall).toBeLessThan(0.75);
        expect(after.r.text).toContain("Description");
      } finally {
        await old.close();
      }
    },
    SLOW,
  );

  it(
    "a noisy scan is read at its own size when the upscaled reading is not confident",
    async (ctx) => {
      if (!canRenderText) return ctx.skip();
      const page = await formsPage({ lang: "en", kind: "form", degradation: "noise", k: 0 });
      // The engine before this step (and before the later check-box step, which re-reads the upscaled page without its boxes).
      const upscaledOnly = new OcrEngine({ poolSize: 1, nativeScaleBelow: 0, detectOrientation: false, eraseCheckBoxes: false });
      try {
        const [before, after] = await readBoth(upscaledOnly, page);
        expect(before.r.scale).toBe(2);
        expect(after.r.scale).toBe(1);
        // The upscaled reading came first and was less confident than the one kept.
        const reads = after.r.passes.filter((p) => p.kind === "read" && p.psm === 3);
        expect(reads.length).toBeGreaterThanOrEqual(2);
        expect(after.r.confidence).toBeGreaterThan(before.r.confidence);
        expect(after.recall).toBeGreaterThanOrEqual(0.9);
        expect(before.recall).toBeLessThan(0.75);
      } finally {
        await upscaledOnly.close();
      }
    },
    SLOW,
  );

  it(
    "the sparse-text pass adds words the layout pass lost (stamps and a slight skew over a form)",
    async (ctx) => {
      if (!canRenderText) return ctx.skip();
      const page = await formsPage({ lang: "en", kind: "form", degradation: "mixed", k: 1 });
      const layoutOnly = new OcrEngine({ poolSize: 1, sparseRecovery: false });
      try {
        const [before, after] = await readBoth(layoutOnly, page);
        expect(after.r.passes.some((p) => p.kind === "read" && p.psm === 11)).toBe(true);
        expect(after.r.sparseWords).toBeGreaterThan(0);
        expect(after.recall).toBeGreaterThan(before.recall + 0.05);
        // The layout pass's paragraphs come first and unchanged; the recovered words are added to them.
        expect(after.r.paragraphs.length).toBeGreaterThan(before.r.paragraphs.length);
      } finally {
        await layoutOnly.close();
      }
    },
    SLOW,
  );

  it(
    "a form read without its check boxes keeps the words beside them",
    async (ctx) => {
      if (!canRenderText) return ctx.skip();
      const page = await formsPage({ lang: "en", kind: "form", degradation: "noise", k: 1 });
      const withBoxes = new OcrEngine({ poolSize: 1, eraseCheckBoxes: false });
      try {
        const [before, after] = await readBoth(withBoxes, page);
        expect(before.r.checkBoxes).toBe(0);
        expect(after.r.checkBoxes).toBeGreaterThanOrEqual(5);
        // "Cash" right of its box was read "cash" with the box in the picture.
        expect(wordRecall(page.truth, before.r.text).missed).toContain("Cash");
        expect(wordRecall(page.truth, after.r.text).missed).not.toContain("Cash");
        expect(after.recall).toBeGreaterThan(before.recall);
      } finally {
        await withBoxes.close();
      }
    },
    SLOW,
  );

  it(
    "a receipt's amounts that the sparse pass splits at the decimal point are read whole",
    async (ctx) => {
      if (!canRenderText) return ctx.skip();
      // The layout pass loses the column of amounts; the sparse pass reads "44.16" as "44" and "16".
      const page = await formsPage({ lang: "en", kind: "receipt", degradation: "stamp", k: 4 });
      const { r, recall } = await read(engine, page);
      for (const amount of ["44.16", "72.48", "27.24", "13.88", "300.86"]) expect(r.text).toContain(amount);
      expect(recall).toBeGreaterThanOrEqual(0.9);
    },
    SLOW,
  );
});
