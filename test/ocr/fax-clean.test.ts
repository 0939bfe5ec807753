/**
 * Fax cleaning (issue 17 item 3, the forms set's heavy tier): what cleanFaxPage removes from a
 * bilevel page and what it leaves (ruled lines, full stops, strokes), and that pages with grey
 * levels are not taken for faxes. Pixel-level, no OCR.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { cleanFaxPage, inspectImage, isBilevel, isBilevelPage, prepareForOcr } from "../../ingest/ocr/preprocess.ts";

const W = 200;
const H = 100;
const WHITE = 255;

function page(): Uint8Array {
  return new Uint8Array(W * H).fill(WHITE);
}
function fill(px: Uint8Array, x0: number, y0: number, x1: number, y1: number, v = 0) {
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) px[y * W + x] = v;
}
const at = (px: Uint8Array, x: number, y: number) => px[y * W + x];

describe("cleanFaxPage", () => {
  it("removes lone specks and fills drop-outs inside strokes, keeps a 2×2 full stop", () => {
    const px = page();
    px[10 * W + 10] = 0; // speck
    fill(px, 50, 20, 54, 60); // a stroke 5 px wide
    px[40 * W + 52] = WHITE; // a drop-out inside it
    fill(px, 100, 50, 101, 51); // a full stop
    const r = cleanFaxPage(px, W, H);
    expect(r).toEqual({ specks: 1, holes: 1, streakRows: 0 });
    expect(at(px, 10, 10)).toBe(WHITE);
    expect(at(px, 52, 40)).toBe(0);
    expect(at(px, 100, 50)).toBe(0);
    expect(at(px, 101, 51)).toBe(0);
  });

  it("redraws a broken streak row from the rows beside it, and leaves a solid ruled line alone", () => {
    const px = page();
    fill(px, 5, 30, 194, 30); // a ruled line: one solid run
    fill(px, 80, 60, 84, 90); // a stroke the streak crosses
    for (let x = 0; x < W; x++) if (x % 3 !== 2) px[70 * W + x] = 0; // a streak: broken into many runs
    const r = cleanFaxPage(px, W, H);
    expect(r.streakRows).toBe(1);
    for (let x = 5; x <= 194; x++) expect(at(px, x, 30)).toBe(0);
    for (let x = 80; x <= 84; x++) expect(at(px, x, 70)).toBe(0); // the stroke goes on through
    expect(at(px, 20, 70)).toBe(WHITE);
    expect(at(px, 150, 70)).toBe(WHITE);
  });
});

describe("isBilevel", () => {
  it("takes black-and-white pixels for a fax, grey levels not", () => {
    const px = page();
    fill(px, 10, 10, 60, 40);
    expect(isBilevel(px)).toBe(true);
    const grey = page();
    for (let i = 0; i < grey.length; i++) grey[i] = 100 + (i % 100);
    expect(isBilevel(grey)).toBe(false);
  });
});

describe("prepareForOcr faxClean", () => {
  it("cleans a bilevel page and reports it; a page with grey is left as it is", async () => {
    const px = page();
    fill(px, 50, 20, 54, 60);
    px[10 * W + 10] = 0;
    const png = await sharp(Buffer.from(px), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    const prepared = await prepareForOcr(png, await inspectImage(png), { scale: 1, faxClean: true, deskew: false });
    expect(prepared.faxCleaned).toEqual({ specks: 1, holes: 0, streakRows: 0 });
    expect(prepared.pixels[10 * W + 10]).toBe(WHITE);

    const greyPx = Uint8Array.from(px);
    fill(greyPx, 100, 0, 199, 99, 180);
    const greyPng = await sharp(Buffer.from(greyPx), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    const untouched = await prepareForOcr(greyPng, await inspectImage(greyPng), { scale: 1, faxClean: true, deskew: false, normalize: false });
    expect(untouched.faxCleaned).toBeUndefined();
    expect(untouched.pixels[10 * W + 10]).toBe(0);
  });

  it("isBilevelPage answers, from the page as decoded, what faxClean will find", async () => {
    const px = page();
    fill(px, 50, 20, 54, 60);
    const png = await sharp(Buffer.from(px), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    expect(await isBilevelPage(png, await inspectImage(png))).toBe(true);
    const rgb = await sharp(Buffer.from(px), { raw: { width: W, height: H, channels: 1 } }).toColourspace("srgb").jpeg({ quality: 100 }).toBuffer();
    const greyPx = Uint8Array.from(px);
    fill(greyPx, 100, 0, 199, 99, 180);
    const greyPng = await sharp(Buffer.from(greyPx), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    for (const bytes of [png, greyPng, rgb]) {
      const info = await inspectImage(bytes);
      const prepared = await prepareForOcr(bytes, info, { scale: 1, faxClean: true, deskew: false, normalize: false });
      expect(await isBilevelPage(bytes, info)).toBe(prepared.faxCleaned !== undefined);
    }
    expect(await isBilevelPage(greyPng, await inspectImage(greyPng))).toBe(false);
  });
});
