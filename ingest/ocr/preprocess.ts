/**
 * Image loading and preprocessing for OCR (sharp).
 *
 * Measured on /work/shared/data/ocr_korean/rendered_png_200dpi (word recall, see bench/ocr.ts):
 *   - upscaling 200 dpi pages 2x (lanczos3) is the largest single gain for Hangul (0.79 → 0.88);
 *     3x is worse again and much slower;
 *   - grayscale + `normalize()` (contrast stretch) helps a little (0.88 → 0.91 with kor+eng);
 *   - a fixed threshold, sharpening and blurring all hurt (tesseract binarises better itself).
 * So: flatten alpha onto white, auto-orient by EXIF, grayscale, optional 90° turns, resize to the
 * chosen scale, normalize; handed to tesseract as an uncompressed 8-bit PGM (leptonica reads it
 * without a decoder: a PNG cost tesseract's single-threaded wasm decoder ~0.27 CPU s per 200 dpi A4
 * page at 2x), and the same pixels are kept for the word re-reads' crops.
 *
 * Tried for speed and rejected (pooled word recall on the 5 Korean pages, 0.941 = 1065/1132 words
 * as here; bench/ocr.ts): scale 1.75 (0.933) and 1.5 (0.938); normalizing the 1x page before the
 * resize, which would save libvips's second evaluation of the resize for normalize's histogram
 * (~0.3 CPU s per page; 0.924); the same stretch as a lookup table from the histogram (0.938, not
 * byte-identical on every page); tesseract's `tessedit_do_invert=0` (0.933, no CPU saved).
 *
 * Decompression bombs: the declared pixel count is checked from the header before any decode, and
 * sharp's `limitInputPixels` is set on every pipeline as a second guard.
 */
import sharp, { type Metadata, type Sharp } from "sharp";
import { IngestError } from "../types.ts";
import { bmpSize, decodeBmp, isBmp } from "./bmp.ts";

export interface ImageLimits {
  /** Largest accepted input image, in pixels (width × height). Default 100 million (≈ A3 at 600 dpi ×4). */
  maxInputPixels?: number;
  /** Most pages read from one multi-page image (TIFF). Default 500. */
  maxPages?: number;
  /** Largest image handed to tesseract after upscaling, in pixels. Default 36 million. */
  maxOcrPixels?: number;
}

export const DEFAULT_IMAGE_LIMITS: Required<ImageLimits> = {
  maxInputPixels: 100_000_000,
  maxPages: 500,
  maxOcrPixels: 36_000_000,
};

export interface ImageInfo {
  format: string;
  /** Pages (frames) in the file; 1 for single-page formats. */
  pages: number;
  width: number;
  height: number;
  /** Pixels per inch from the file header, when present and plausible. */
  density?: number;
}

function limitsOf(l?: ImageLimits): Required<ImageLimits> {
  return { ...DEFAULT_IMAGE_LIMITS, ...(l ?? {}) };
}

function sharpError(err: unknown, what: string): IngestError {
  const msg = (err as Error)?.message ?? String(err);
  if (/pixel limit/i.test(msg)) return new IngestError("image_too_large", `${what}: image exceeds the pixel limit (${msg})`);
  if (/unsupported image format/i.test(msg)) return new IngestError("unsupported_image", `${what}: unsupported image format`);
  if (/premature end|truncated|unexpected end|end of (file|stream)/i.test(msg)) {
    return new IngestError("truncated_file", `${what}: image file is truncated (${msg})`);
  }
  if (/read error|corrupt|not a known file format|bad/i.test(msg)) {
    return new IngestError("corrupt_image", `${what}: image is truncated or corrupt (${msg})`);
  }
  return new IngestError("corrupt_image", `${what}: image could not be decoded (${msg})`);
}

/** Width/height from a PNG's IHDR chunk (no decoder involved), or undefined for non-PNG input. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24 || bytes[0] !== 0x89 || bytes[1] !== 0x50 || bytes[2] !== 0x4e || bytes[3] !== 0x47) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.toString("latin1", 12, 16) !== "IHDR") return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Header-only inspection: format, size, page count. Throws IngestError for bombs and broken files. */
export async function inspectImage(bytes: Uint8Array, limits?: ImageLimits, what = "image", page = 0): Promise<ImageInfo> {
  const l = limitsOf(limits);
  let info: ImageInfo;
  const png = pngSize(bytes);
  if (png && png.width * png.height > l.maxInputPixels) {
    throw new IngestError(
      "image_too_large",
      `${what}: ${png.width}x${png.height} pixels is over the limit of ${l.maxInputPixels} pixels (possible decompression bomb)`,
    );
  }
  if (isBmp(bytes)) {
    const { width, height } = bmpSize(bytes);
    info = { format: "bmp", pages: 1, width, height };
  } else {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false, ...(page ? { page } : {}) }).metadata();
    } catch (err) {
      throw sharpError(err, what);
    }
    // Dimensions after EXIF auto-orientation (prepareForOcr applies it).
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.height ?? 0;
    const density = meta.density && meta.density >= 50 && meta.density <= 2400 && meta.density !== 72 ? meta.density : undefined;
    info = { format: meta.format ?? "unknown", pages: Math.max(1, meta.pages ?? 1), width, height, ...(density ? { density } : {}) };
  }
  if (!info.width || !info.height) throw new IngestError("corrupt_image", `${what}: image has no pixels`);
  if (info.width * info.height > l.maxInputPixels) {
    throw new IngestError(
      "image_too_large",
      `${what}: ${info.width}x${info.height} pixels is over the limit of ${l.maxInputPixels} pixels (possible decompression bomb)`,
    );
  }
  return info;
}

export type Rotation = 0 | 90 | 180 | 270;

export interface PrepareOptions {
  /** Page of a multi-page image (0-based). */
  page?: number;
  /** Upscale factor; default chosen by `chooseScale`. */
  scale?: number;
  /** Clockwise rotation applied before OCR (orientation correction). */
  rotate?: Rotation;
  /** Fit the longest side into this many pixels instead of scaling (orientation probes). */
  maxSide?: number;
  /** Apply `normalize()` (contrast stretch). Default true. */
  normalize?: boolean;
  /** Measure the page's skew and turn it straight when it is at least `MIN_DESKEW_DEGREES` off. Default true. */
  deskew?: boolean;
  /** Use this skew (degrees, from an earlier preparation of the same page) instead of measuring it. */
  skew?: number;
  /** Median filter window (odd, pixels) on the resized page (specks of noisy and fax-like scans). */
  median?: number;
  /**
   * Grey value = the brightest of the red, green and blue channels instead of luminance: coloured
   * marks (red or blue stamps, highlighter) turn light and drop out, black and grey ink stays.
   * For the sparse pass only: coloured text drops out too.
   */
  dropColour?: boolean;
  /**
   * On a bilevel page (a fax: every pixel black or white), remove the line's specks and streaks
   * before resizing (cleanFaxPage). A page with grey levels is left as it is.
   */
  faxClean?: boolean;
  limits?: ImageLimits;
}

export interface PreparedImage {
  /** The encoded image tesseract reads: binary PGM (P5), or PNG in the rare case noted in `tesseractInput`. */
  image: Buffer;
  /** Raw 8-bit grey pixels, row-major (`width` × `height`); a view into `image` when it is a PGM. */
  pixels: Buffer;
  width: number;
  height: number;
  /** Scale actually applied relative to the source page. */
  scale: number;
  /** Skew measured on the page, in degrees (clockwise positive); the page was turned straight when |skew| ≥ MIN_DESKEW_DEGREES. */
  skew: number;
  /** Median filter window applied, if any. */
  median?: number;
  /** What cleanFaxPage removed, when the page was bilevel and `faxClean` was asked for. */
  faxCleaned?: FaxCleaning;
}

export interface FaxCleaning {
  /** Lone black pixels turned white. */
  specks: number;
  /** White pixels inside strokes (all four neighbours black) turned black. */
  holes: number;
  /** Rows taken for a streak and redrawn from the rows above and below. */
  streakRows: number;
}

/**
 * Whether grey pixels are bilevel (a fax or a hard-thresholded scan): at least 99% of them are
 * within 8 of black or white, sampled on every 7th pixel.
 */
export function isBilevel(pixels: Uint8Array): boolean {
  let n = 0;
  let extreme = 0;
  for (let i = 0; i < pixels.length; i += 7, n++) if (pixels[i]! <= 8 || pixels[i]! >= 247) extreme++;
  return n > 0 && extreme >= 0.99 * n;
}

/**
 * Whether a page is bilevel (isBilevel) as prepareForOcr's `faxClean` sees it: the page decoded in
 * grey at its own size, without the upscale and the rest of the preparation it would cost to
 * find out by preparing a cleaned copy (most pages are not faxes).
 */
export async function isBilevelPage(bytes: Uint8Array, info: ImageInfo, page = 0, limits?: ImageLimits): Promise<boolean> {
  try {
    const data = await decodedPage(bytes, info, page, limitsOf(limits).maxInputPixels).grayscale().extractChannel(0).raw().toBuffer();
    return isBilevel(data);
  } catch {
    return false; // unreadable here: prepareForOcr reports it
  }
}

/**
 * Cleans a bilevel page (in place) of what a fax line adds: streaks (a row blackened along most of
 * the page), lone black specks and white drop-outs inside strokes. Measured with the tesseract
 * command line as a stand-in reader on the 20 English pages of the forms set's heavy tier
 * (bench/forms-set.ts, stamped, photocopied, faxed): word recall 0.605 as they are, 0.634 cleaned;
 * specks or streaks alone gained 0.2–0.4 points, together 2.3; all three 2.9.
 *   - a streak row is far darker than the rows two above and two below (dark share ≥ 0.35 and at
 *     least 0.25 more) AND broken into many dark runs (≥ 1 per 10 pixels of width): a ruled line
 *     is one solid run, so form rules are not taken; its pixels are redrawn black only where the
 *     rows next to the streak are both black (a stroke crossing it);
 *   - a speck is a black pixel with no black among its 8 neighbours (a full stop at 200 dpi is
 *     larger than one pixel);
 *   - a drop-out is a white pixel whose 4 neighbours are black.
 */
export function cleanFaxPage(pixels: Uint8Array, width: number, height: number): FaxCleaning {
  const src = Uint8Array.from(pixels);
  const black = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && src[y * width + x]! < 128;
  const share = new Float64Array(height);
  const runs = new Uint32Array(height);
  for (let y = 0; y < height; y++) {
    let n = 0;
    let r = 0;
    for (let x = 0; x < width; x++) {
      if (src[y * width + x]! < 128) {
        n++;
        if (x === 0 || src[y * width + x - 1]! >= 128) r++;
      }
    }
    share[y] = n / width;
    runs[y] = r;
  }
  const streak = new Uint8Array(height);
  for (let y = 0; y < height; y++) {
    const around = Math.max(y >= 2 ? share[y - 2]! : 0, y + 2 < height ? share[y + 2]! : 0);
    if (share[y]! >= 0.35 && share[y]! >= around + 0.25 && runs[y]! >= width / 10) streak[y] = 1;
  }
  let streakRows = 0;
  for (let y = 0; y < height; y++) {
    if (!streak[y]) continue;
    streakRows++;
    let above = y - 1;
    while (above >= 0 && streak[above]) above--;
    let below = y + 1;
    while (below < height && streak[below]) below++;
    for (let x = 0; x < width; x++) src[y * width + x] = black(x, above) && black(x, below) ? 0 : 255;
  }
  pixels.set(src);
  let specks = 0;
  let holes = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (black(x, y)) {
        if (!black(x - 1, y - 1) && !black(x, y - 1) && !black(x + 1, y - 1) && !black(x - 1, y) && !black(x + 1, y) && !black(x - 1, y + 1) && !black(x, y + 1) && !black(x + 1, y + 1)) {
          pixels[y * width + x] = 255;
          specks++;
        }
      } else if (black(x - 1, y) && black(x + 1, y) && black(x, y - 1) && black(x, y + 1)) {
        pixels[y * width + x] = 0;
        holes++;
      }
    }
  }
  return { specks, holes, streakRows };
}

/** Smallest skew that is corrected (tesseract reads text lines skewed by less; the layout analysis copes). */
export const MIN_DESKEW_DEGREES = 0.5;
const MAX_SKEW_DEGREES = 6;

/**
 * Skew of a page in degrees (clockwise positive: lines run down to the right), by projection
 * profiles: the dark pixels of a sampling grid are projected onto the vertical axis along each
 * candidate angle and the angle whose profile is sharpest (largest sum of squared bin counts: text
 * lines and ruled lines fall into few bins) wins; ±6° in 0.25° steps, then refined in 0.05° steps.
 * Returns 0 for a page with too little ink to tell.
 */
export function estimateSkew(pixels: Uint8Array, width: number, height: number): number {
  const step = Math.max(1, Math.round(Math.min(width, height) / 700));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let y = 0; y < height; y += step) {
    const row = y * width;
    for (let x = 0; x < width; x += step) {
      if (pixels[row + x]! < 128) {
        xs.push(x);
        ys.push(y);
      }
    }
  }
  const n = xs.length;
  if (n < 200 || n > 0.4 * (width / step) * (height / step)) return 0;
  const bin = step * 2;
  const pad = Math.ceil((width * Math.tan((MAX_SKEW_DEGREES * Math.PI) / 180)) / bin) + 1;
  const bins = new Float64Array(Math.ceil(height / bin) + 2 * pad + 2);
  const score = (deg: number): number => {
    const t = Math.tan((deg * Math.PI) / 180);
    bins.fill(0);
    for (let i = 0; i < n; i++) bins[Math.floor((ys[i]! - xs[i]! * t) / bin) + pad]!++;
    let s = 0;
    for (let i = 0; i < bins.length; i++) s += bins[i]! * bins[i]!;
    return s;
  };
  let best = 0;
  let bestScore = score(0);
  for (let d = -MAX_SKEW_DEGREES; d <= MAX_SKEW_DEGREES + 1e-9; d += 0.25) {
    const v = score(d);
    if (v > bestScore * 1.0001) {
      bestScore = v;
      best = d;
    }
  }
  const coarse = best;
  for (let d = coarse - 0.2; d <= coarse + 0.2 + 1e-9; d += 0.05) {
    const v = score(d);
    if (v > bestScore * 1.0001) {
      bestScore = v;
      best = d;
    }
  }
  return Math.round(best * 100) / 100;
}

/**
 * Upscale factor for OCR. Tesseract's LSTM reads Hangul much better when glyphs are ~50 px tall:
 * target ~400 dpi when the resolution is known, else a page width of ~3300 px; never shrink,
 * never more than 2.5x.
 */
export function chooseScale(width: number, height: number, density?: number): number {
  let s: number;
  if (density) s = 400 / density;
  else s = 3300 / Math.max(width, height * 0.72);
  return Math.min(2.5, Math.max(1, Math.round(s * 100) / 100));
}

/**
 * tesseract.js looks for an EXIF orientation tag by matching this pattern against the first 500
 * bytes of ANY input image (worker-script/utils/setImage.js) and then rotates the page. Raw pixels
 * that happen to match would turn the page; such an image goes as PNG instead (never seen in practice).
 */
const TESSJS_EXIF = /1 18 0 3 0 0 0 1 0 (\d)/;

/** Binary PGM of grey pixels (what leptonica reads without a decoder), or PNG when the bytes would trip tesseract.js's EXIF sniffing. */
export async function tesseractInput(pixels: Buffer, width: number, height: number): Promise<Buffer> {
  const pgm = Buffer.concat([Buffer.from(`P5\n${width} ${height}\n255\n`, "latin1"), pixels]);
  if (!TESSJS_EXIF.test(Array.from(pgm.subarray(0, 500)).join(" "))) return pgm;
  return sharp(pixels, { raw: { width, height, channels: 1 } }).png({ compressionLevel: 1 }).toBuffer();
}

/** A page's tesseract input and its grey pixels, the pixels a view into the input when that is a PGM (one copy in memory). */
async function encodedPage(pixels: Buffer, width: number, height: number): Promise<{ image: Buffer; pixels: Buffer }> {
  const image = await tesseractInput(pixels, width, height);
  return { image, pixels: image[0] === 0x50 ? image.subarray(image.length - pixels.length) : pixels };
}

/** Cut a rectangle out of a prepared page (for word re-reads), encoded for tesseract. */
export async function cropPrepared(img: PreparedImage, left: number, top: number, width: number, height: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(width * height);
  for (let y = 0; y < height; y++) img.pixels.copy(out, y * width, (top + y) * img.width + left, (top + y) * img.width + left + width);
  return tesseractInput(out, width, height);
}

/**
 * Whether a page has coloured marks (stamps, highlighter, coloured text): share of pixels of a
 * small copy whose channels differ by 60 or more, at least 0.2%. Grey images answer false at once.
 */
export async function hasColour(bytes: Uint8Array, info: ImageInfo, page = 0): Promise<boolean> {
  if (info.format === "bmp") return false;
  try {
    const { data, info: raw } = await sharp(bytes, { limitInputPixels: false, page, failOn: "truncated" })
      .resize({ width: Math.min(600, info.width), fit: "inside" })
      .flatten({ background: "#ffffff" })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (raw.channels < 3) return false;
    let coloured = 0;
    const c = raw.channels;
    for (let j = 0; j < data.length; j += c) {
      const r = data[j]!, g = data[j + 1]!, b = data[j + 2]!;
      if (Math.max(r, g, b) - Math.min(r, g, b) >= 60) coloured++;
    }
    return coloured / (raw.width * raw.height) >= 0.002;
  } catch {
    return false;
  }
}

/** One page decoded (BMP by our decoder), turned upright by its EXIF orientation, on white. */
function decodedPage(bytes: Uint8Array, info: ImageInfo, page: number, maxInputPixels: number): Sharp {
  let pipeline: Sharp;
  if (info.format === "bmp") {
    const raw = decodeBmp(bytes, maxInputPixels);
    pipeline = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: maxInputPixels });
  } else {
    // failOn "truncated": a cut-off file is an error (not a half-blank page read silently).
    pipeline = sharp(bytes, { limitInputPixels: maxInputPixels, page, failOn: "truncated" });
  }
  return pipeline.rotate().flatten({ background: "#ffffff" });
}

/** Decode one page and produce the image tesseract reads. */
export async function prepareForOcr(bytes: Uint8Array, info: ImageInfo, options: PrepareOptions = {}): Promise<PreparedImage> {
  const l = limitsOf(options.limits);
  const rotate = options.rotate ?? 0;
  let pipeline: Sharp;
  try {
    pipeline = decodedPage(bytes, info, options.page ?? 0, l.maxInputPixels);
    if (options.dropColour) {
      const { data, info: raw } = await pipeline.raw().toBuffer({ resolveWithObject: true });
      const c = raw.channels;
      const grey = Buffer.allocUnsafe(raw.width * raw.height);
      for (let i = 0, j = 0; i < grey.length; i++, j += c) {
        let v = data[j]!;
        for (let k = 1; k < c; k++) if (data[j + k]! > v) v = data[j + k]!;
        grey[i] = v;
      }
      pipeline = sharp(grey, { raw: { width: raw.width, height: raw.height, channels: 1 }, limitInputPixels: l.maxInputPixels });
    } else {
      pipeline = pipeline.grayscale();
    }
    let faxCleaned: FaxCleaning | undefined;
    if (options.faxClean) {
      const { data, info: raw } = await pipeline.extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      if (isBilevel(data)) faxCleaned = cleanFaxPage(data, raw.width, raw.height);
      pipeline = sharp(data, { raw: { width: raw.width, height: raw.height, channels: 1 }, limitInputPixels: l.maxInputPixels });
    }
    // sharp applies the median after the resize (its fixed order of operations).
    if (options.median && options.median > 1) pipeline = pipeline.median(options.median);
    if (rotate) pipeline = pipeline.rotate(rotate);
    // Size after the 90° turn.
    const turned = rotate === 90 || rotate === 270;
    const w0 = turned ? info.height : info.width;
    const h0 = turned ? info.width : info.height;
    let scale: number;
    if (options.maxSide) scale = Math.min(1, options.maxSide / Math.max(w0, h0));
    else scale = options.scale ?? chooseScale(info.width, info.height, info.density);
    if (w0 * h0 * scale * scale > l.maxOcrPixels) scale = Math.sqrt(l.maxOcrPixels / (w0 * h0));
    const width = Math.max(1, Math.round(w0 * scale));
    const height = Math.max(1, Math.round(h0 * scale));
    if (width !== w0 || height !== h0) pipeline = pipeline.resize({ width, height, kernel: "lanczos3", fit: "fill" });
    if (options.normalize !== false) pipeline = pipeline.normalize();
    let pixels = await pipeline.extractChannel(0).raw().toBuffer();
    if (pixels.length !== width * height) throw new Error(`unexpected pixel buffer (${pixels.length} bytes for ${width}x${height})`);
    let w = width;
    let h = height;
    const skew = options.skew ?? (options.deskew === false ? 0 : estimateSkew(pixels, width, height));
    if (Math.abs(skew) >= MIN_DESKEW_DEGREES) {
      const turned = await sharp(pixels, { raw: { width, height, channels: 1 } })
        .rotate(-skew, { background: { r: 255, g: 255, b: 255 } })
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      pixels = turned.data;
      w = turned.info.width;
      h = turned.info.height;
    }
    return {
      ...(await encodedPage(pixels, w, h)),
      width: w,
      height: h,
      scale,
      skew,
      ...(options.median && options.median > 1 ? { median: options.median } : {}),
      ...(faxCleaned ? { faxCleaned } : {}),
    };
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw sharpError(err, "image");
  }
}

/**
 * Erases the check boxes of a form (in place) and returns how many it erased. A check box is read as
 * a letter or bracket glued to the word beside it ("[cash", "0 Cash", "Mcontactor"), so the word
 * is lost. A box is a hollow square `minSide`…`maxSide` pixels wide: a dark top edge (a run of
 * dark pixels, gaps of 2 pixels allowed, no longer than `maxSide`, so ruled lines and table cells do
 * not count), dark left and right sides and a bottom edge at about the same distance, and a mostly
 * light inside (a tick covers some of it), and space left and right of it and right below it (a letter has
 * neighbours closer than that, the stem of a P goes on under its bowl; the word of a check box
 * starts about half a side off). The box's dark pixels and everything dark joined to them
 * close around it (the tick running out of the box) are painted white; words start further off.
 * Letters are not hollow squares, except Hangul ㅁ: not for pages with Hangul.
 */
export function eraseCheckBoxes(pixels: Buffer, width: number, height: number, minSide: number, maxSide: number): number {
  const dark = (x: number, y: number) => pixels[y * width + x]! < 128;
  const share = (x0: number, y0: number, x1: number, y1: number, thick: number, horizontal: boolean): number => {
    // Share of positions along the edge with a dark pixel within `thick` pixels across it.
    let hit = 0;
    let n = 0;
    if (horizontal) {
      for (let x = x0; x <= x1; x++, n++) {
        for (let t = 0; t < thick; t++) if (y0 + t < height && dark(x, y0 + t)) { hit++; break; }
      }
    } else {
      for (let y = y0; y <= y1; y++, n++) {
        for (let t = 0; t < thick; t++) if (x0 + t < width && dark(x0 + t, y)) { hit++; break; }
      }
    }
    return n ? hit / n : 0;
  };
  const thick = Math.max(3, Math.round(minSide / 8));
  let erased = 0;
  for (let y = 0; y < height - minSide; y++) {
    let x = 0;
    while (x < width) {
      if (!dark(x, y)) {
        x++;
        continue;
      }
      // A run of dark pixels with gaps of at most 2.
      const x0 = x;
      let last = x;
      while (x < width && x - last <= 2) {
        if (dark(x, y)) last = x;
        x++;
      }
      const x1 = last;
      const side = x1 - x0;
      if (side < minSide || side > maxSide) continue;
      // Left and right sides, then the bottom edge about one side lower.
      if (share(x0, y, x0, Math.min(height - 1, y + side), thick, false) < 0.8) continue;
      if (share(x1 - thick + 1, y, x1 - thick + 1, Math.min(height - 1, y + side), thick, false) < 0.8) continue;
      let bottom = -1;
      for (let yb = y + Math.round(side * 0.8); yb <= Math.min(height - 1, y + Math.round(side * 1.2)); yb++) {
        if (share(x0, yb, x1, yb, 1, true) >= 0.8) {
          bottom = yb;
          break;
        }
      }
      if (bottom < 0) continue;
      // Square corners (an O or a 0 has light corners).
      const corner = (cx: number, cy: number, dx: number, dy: number) => {
        for (let t = 0; t < thick; t++) for (let u = 0; u < thick; u++) if (dark(cx + dx * t, cy + dy * u)) return true;
        return false;
      };
      if (!corner(x0, y, 1, 1) || !corner(x1, y, -1, 1) || !corner(x0, bottom, 1, -1) || !corner(x1, bottom, -1, -1)) continue;
      // Space on both sides (letters have neighbours close by; a box's word starts half a side off).
      // Nothing right below it either (the stem of a P or b goes on under its bowl).
      const light = (ax: number, bx: number, ay = y, by = bottom) => {
        if (ax < 0 || bx >= width || bx < ax || ay < 0 || by >= height || by < ay) return false;
        let d = 0;
        for (let yy = ay; yy <= by; yy++) for (let xx = ax; xx <= bx; xx++) if (dark(xx, yy)) d++;
        return d <= 0.03 * (bx - ax + 1) * (by - ay + 1);
      };
      if (!light(x0 - Math.round(side * 0.4), x0 - Math.round(side * 0.1)) || !light(x1 + Math.round(side * 0.25), x1 + Math.round(side * 0.4))) continue;
      if (!light(x0, x1, bottom + Math.round(side * 0.2), bottom + Math.round(side * 0.4))) continue;
      // Mostly light inside (a tick covers part of it).
      const m = Math.round(side * 0.2);
      let inside = 0;
      let total = 0;
      for (let yy = y + m; yy < bottom - m; yy++) for (let xx = x0 + m; xx < x1 - m; xx++, total++) if (dark(xx, yy)) inside++;
      if (total === 0 || inside / total > 0.4) continue;
      // Paint the box and what is joined to it within a window around it white.
      const wx0 = Math.max(0, x0 - Math.round(side * 0.15));
      const wx1 = Math.min(width - 1, x1 + Math.round(side * 0.3));
      const wy0 = Math.max(0, y - Math.round(side * 0.5));
      const wy1 = Math.min(height - 1, bottom + Math.round(side * 0.15));
      const stack: number[] = [];
      for (let xx = x0; xx <= x1; xx++) if (dark(xx, y)) stack.push(y * width + xx);
      while (stack.length) {
        const i = stack.pop()!;
        if (pixels[i]! >= 128) continue;
        pixels[i] = 255;
        const px = i % width;
        const py = (i - px) / width;
        if (px > wx0) stack.push(i - 1);
        if (px < wx1) stack.push(i + 1);
        if (py > wy0) stack.push(i - width);
        if (py < wy1) stack.push(i + width);
      }
      erased++;
    }
  }
  return erased;
}

/** A copy of a prepared page with its check boxes erased (eraseCheckBoxes: boxes 0.08–0.3 inch at `dpi`), or the page itself when it has none. */
export async function withoutCheckBoxes(img: PreparedImage, dpi: number): Promise<{ image: PreparedImage; erased: number }> {
  const pixels = Buffer.from(img.pixels);
  const erased = eraseCheckBoxes(pixels, img.width, img.height, Math.max(8, Math.round(dpi * 0.08)), Math.round(dpi * 0.3));
  if (erased === 0) return { image: img, erased };
  return { image: { ...img, ...(await encodedPage(pixels, img.width, img.height)) }, erased };
}
