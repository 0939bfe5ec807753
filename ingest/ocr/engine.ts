/**
 * OCR engine: a lazily started pool of tesseract.js workers (Korean + English, LSTM "best_int"
 * models from the npm data packages, fully offline).
 *
 * One pool slot reads one page at a time, running up to a few tesseract passes:
 *
 *   1. language pass. languages "auto" (default): read with `kor` first; a page whose text is
 *      mostly Hangul with confidence ≥ 75 (koreanAcceptConfidence) is done. Otherwise read again with `kor+eng` and keep the
 *      more confident result. Measured: `kor` alone reads Korean pages better than `kor+eng`
 *      (tesseract's per-word language retry turns short Hangul words into Latin letters) and
 *      handles embedded Latin words/acronyms fine, but cannot read an English page; `kor+eng`
 *      reads English pages as well as `eng`. A page of a document whose earlier pages were read
 *      as English (`scriptHint` "latin", from pdf-ocr.ts) is read with `kor+eng` first and kept,
 *      without the `kor` pass, when confident and (almost) without Hangul.
 *      Korean pages then get a word-level retry: words with Latin letters/digits that `kor` read
 *      with low confidence are re-read alone with kor+eng (acronyms such as KBO/ABS/GS25).
 *   2. orientation: tesseract's OSD needs osd.traineddata, which is not packaged. When the page's
 *      confidence is below `orientationMinConfidence`, the page is probed at 0/90/180/270 degrees
 *      on a downscaled copy (kor+eng) and, if another orientation is clearly more confident, read
 *      again turned that way; the more confident reading wins.
 *
 * Page segmentation: PSM 3 (automatic layout) by default; paragraphs come from tesseract's layout
 * analysis (blocks → paragraphs → lines), with blocks in the reading order of reading-order.ts
 * (captions and pull quotes do not cut a column's text off from the next column).
 *
 * Workers are `unref`'d while idle so an idle pool never keeps the process alive, terminated after
 * `idleTimeoutMs`, and `close()` terminates them all. A page that runs past `pageTimeoutMs` kills
 * its worker (a fresh one is started for the next page) and fails with IngestError("ocr_timeout").
 */
import { availableParallelism } from "node:os";
import Tesseract from "tesseract.js";
import { extractionSettings } from "../extraction-settings.ts";
import { IngestError } from "../types.ts";
import {
  cropPrepared,
  type FaxCleaning,
  hasColour,
  inspectImage,
  isBilevelPage,
  prepareForOcr,
  type ImageInfo,
  type ImageLimits,
  type PreparedImage,
  type PrepareOptions,
  type Rotation,
  withoutCheckBoxes,
} from "./preprocess.ts";
import { readingOrder, type LayoutBlock } from "./reading-order.ts";
import { resolveLangPath } from "./tessdata.ts";

type TWorker = Tesseract.Worker;

export interface OcrEngineOptions {
  /** Concurrent pages (tesseract workers). Default: env KB_OCR_WORKERS, else os.availableParallelism(). */
  poolSize?: number;
  /** "auto" (kor, then kor+eng when the page is not clearly Korean) or a fixed tesseract language string such as "kor+eng". */
  languages?: string;
  /** Tesseract page segmentation mode. Default 3 (fully automatic layout). */
  psm?: number;
  /** Wall-clock limit for one page (all passes). Default 180 s. */
  pageTimeoutMs?: number;
  /** Try other orientations when a page reads poorly. Default true. */
  detectOrientation?: boolean;
  /** Below this confidence (0..100) orientation probing runs. Default 70. */
  orientationMinConfidence?: number;
  /** Folder with <lang>.traineddata.gz files; default: the @tesseract.js-data npm packages. */
  langPath?: string;
  /** Pixel limits (decompression bombs, tesseract input size). */
  limits?: ImageLimits;
  /** Terminate workers idle this long. Default 120 s; 0 keeps them until close(). */
  idleTimeoutMs?: number;
  /** Limit for starting one worker (loading models). Default 60 s. */
  workerStartTimeoutMs?: number;
  /**
   * languages "auto": a `kor` reading that is mostly Hangul is kept without a `kor+eng` pass when its
   * confidence is at least this. Default 75 (Korean pages read at 85–90; the kor model reading an
   * English line produces Hangul-looking garbage at 50–65).
   */
  koreanAcceptConfidence?: number;
  /** Re-read low-confidence Latin/digit words of Korean pages with kor+eng (see retryLatinWords). Default true. */
  latinRetry?: boolean;
  /**
   * An upscaled page read with a confidence below this is read again at its own size (scale 1) and
   * the more confident reading is kept (noisy and fax-like scans: upscaling turns specks into blobs
   * that tesseract's layout analysis takes for pictures). Default 80; 0 turns it off.
   */
  nativeScaleBelow?: number;
  /** Read pages that are not clearly Korean a second time as sparse text (PSM 11) and add the words the layout pass lost (see recoverSparseWords). Default true. */
  sparseRecovery?: boolean;
  /** Smallest word confidence (0..100) for a word found only by the sparse pass. Default 60. */
  sparseMinConfidence?: number;
  /** Turn skewed pages straight before reading (ingest/ocr/preprocess.ts estimateSkew). Default true. */
  deskew?: boolean;
  /** The sparse pass reads pages with coloured marks with the colours dropped (stamps). Default true. */
  dropStampColour?: boolean;
  /** The sparse pass reads pages without Hangul with their check boxes erased (preprocess.ts eraseCheckBoxes). Default true. */
  eraseCheckBoxes?: boolean;
  /**
   * languages "auto": a bilevel page (a fax) that the `kor` pass did not accept as clearly Korean is
   * read from then on with the fax line's specks, streaks and drop-outs removed (preprocess.ts
   * cleanFaxPage). Clearly Korean pages are read as before. Default true.
   */
  faxClean?: boolean;
}

export interface OcrPage {
  /** Full page text, paragraphs separated by blank lines. */
  text: string;
  /** Paragraphs from tesseract's layout analysis; lines joined by "\n". */
  paragraphs: string[];
  /** Mean word confidence 0..100. */
  confidence: number;
  /** Clockwise rotation applied to read the page. */
  rotation: Rotation;
  /** Tesseract language string of the reading kept. */
  languages: string;
  /** Upscale factor applied before OCR. */
  scale: number;
  width: number;
  height: number;
  /** Milliseconds spent on this page (all passes). */
  ms: number;
  /**
   * Diagnostics: the whole-page tesseract passes run for this page, in order. "read" passes read the
   * page (a `kor` pass, a `kor+eng` pass when the page is not clearly Korean, the turned page after
   * an orientation search); "orientation-probe" passes are the downscaled 0/90/180/270° probes,
   * run only when the upright reading is not confident.
   */
  passes: OcrPassInfo[];
  /** Diagnostics: Latin/digit words of a Korean page re-read alone (`tried`) and replaced (`replaced`). */
  wordRetries: { tried: number; replaced: number };
  /** Skew measured on the page in degrees (clockwise positive); turned straight when ≥ 0.5° off. */
  skew: number;
  /** Diagnostics: words added by the sparse-text pass (words the layout pass lost). */
  sparseWords: number;
  /** Diagnostics: low-confidence words of the layout pass replaced by a confident sparse-pass reading in the same place. */
  sparseReplaced: number;
  /** Diagnostics: check boxes erased from the sparse pass's copy of the page. */
  checkBoxes: number;
  /** Diagnostics: what was cleaned off a bilevel (fax) page before the passes after the `kor` one, if anything. */
  faxCleaned?: FaxCleaning;
}

export interface OcrPassInfo {
  kind: "read" | "orientation-probe";
  languages: string;
  /** Clockwise rotation of the image read. */
  rotation: Rotation;
  /** Tesseract page segmentation mode of this pass. */
  psm?: number;
  /** Mean word confidence 0..100 of this pass. */
  confidence: number;
  ms: number;
}

export interface RecognizeOptions {
  /** Page of a multi-page image (0-based). */
  page?: number;
  /** Header info from inspectImage (saves a second metadata read). */
  info?: ImageInfo;
  /** Known resolution of the image in dpi (e.g. a rendered PDF page). */
  density?: number;
  /** Force an upscale factor. */
  scale?: number;
  /** Override the engine's language setting for this page. */
  languages?: string;
  /** Override orientation detection for this page. */
  detectOrientation?: boolean;
  /**
   * With languages "auto": what the earlier pages of the same document turned out to be
   * (`pageScript`). "latin": the page is read with `kor+eng` first, and that reading is kept when
   * it is confident (≥ 70) and has (almost) no Hangul, without the `kor` pass an English page
   * cannot use; otherwise the `kor` pass follows and the page is decided as without the hint.
   */
  scriptHint?: "latin";
  signal?: AbortSignal;
}

interface Slot {
  workers: Map<string, Promise<TWorker>>;
  busy: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface OcrWord {
  text: string;
  confidence: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
}

interface OcrLine {
  text: string;
  words: OcrWord[];
}

interface PassResult {
  /** The page was read by the `kor` pass alone (clearly Korean). */
  korean?: boolean;
  text: string;
  paragraphs: string[];
  confidence: number;
  languages: string;
  words: number;
  /** Layout: paragraphs of lines of words (empty when tesseract gave no layout). */
  layout: OcrLine[][];
}

const HANGUL = /[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]/gu;
const LATIN = /[A-Za-z]/g;
const HAS_LATIN = /[A-Za-z]/;

/** A reading of kor+eng kept without a kor pass (scriptHint "latin") needs at least this confidence. */
const LATIN_FIRST_ACCEPT_CONFIDENCE = 70;
/** ... and at most this share of Hangul among its letters. */
const LATIN_FIRST_MAX_HANGUL = 0.05;

/**
 * "latin" when a page was read as a confident page of (almost) no Hangul (an English page): the
 * hint for the next pages of its document (RecognizeOptions.scriptHint); undefined otherwise.
 */
export function pageScript(page: Pick<OcrPage, "text" | "confidence" | "languages">): "latin" | undefined {
  return page.languages !== "kor" && page.confidence >= LATIN_FIRST_ACCEPT_CONFIDENCE && hangulShare(page.text) < LATIN_FIRST_MAX_HANGUL && HAS_LATIN.test(page.text) ? "latin" : undefined;
}

function hangulShare(text: string): number {
  const h = text.match(HANGUL)?.length ?? 0;
  const l = text.match(LATIN)?.length ?? 0;
  return h + l === 0 ? 0 : h / (h + l);
}

function cleanLine(s: string): string {
  return s.replace(/[ \t\u00a0]+/g, " ").trim();
}

function paragraphsOf(layout: OcrLine[][]): string[] {
  const out: string[] = [];
  for (const para of layout) {
    const lines = para.map((l) => cleanLine(l.text)).filter((l) => l.length > 0);
    if (lines.length) out.push(lines.join("\n"));
  }
  return out;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

type Box = OcrWord["bbox"];

/** Share of `a`'s area covered by `b`. */
function overlapShare(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  const area = (a.x1 - a.x0) * (a.y1 - a.y0);
  return w <= 0 || h <= 0 || area <= 0 ? 0 : (w * h) / area;
}

/** Bounding box of some words (a huge empty box when there are none, which sorts last). */
function boxOf(words: readonly OcrWord[]): Box {
  if (words.length === 0) return { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  return {
    x0: Math.min(...words.map((w) => w.bbox.x0)),
    y0: Math.min(...words.map((w) => w.bbox.y0)),
    x1: Math.max(...words.map((w) => w.bbox.x1)),
    y1: Math.max(...words.map((w) => w.bbox.y1)),
  };
}

function layoutBlockOf(block: Tesseract.Block): LayoutBlock {
  const words = (block.paragraphs ?? []).flatMap((p) => (p.lines ?? []).flatMap((l) => l.words ?? []));
  return {
    bbox: block.bbox,
    blockType: Number(block.blocktype),
    wordHeight: median(words.map((w) => w.bbox.y1 - w.bbox.y0)),
    chars: block.text?.trim().length ?? 0,
  };
}

function toPass(data: Tesseract.Page, languages: string): PassResult {
  const layout: OcrLine[][] = [];
  const blocks = data.blocks ?? [];
  for (const index of readingOrder(blocks.map(layoutBlockOf))) {
    for (const para of blocks[index]!.paragraphs ?? []) {
      layout.push(
        (para.lines ?? []).map((l) => ({
          text: l.text,
          words: (l.words ?? []).map((w) => ({ text: w.text, confidence: w.confidence, bbox: w.bbox })),
        })),
      );
    }
  }
  const paragraphs = paragraphsOf(layout);
  if (paragraphs.length === 0 && data.text.trim()) {
    for (const p of data.text.split(/\n\s*\n/)) {
      const t = p.split("\n").map(cleanLine).filter(Boolean).join("\n");
      if (t) paragraphs.push(t);
    }
  }
  const words = paragraphs.join(" ").split(/\s+/).filter(Boolean).length;
  return { text: paragraphs.join("\n\n"), paragraphs, confidence: words ? data.confidence : 0, languages, words, layout };
}

interface Trace {
  passes: OcrPassInfo[];
  wordRetries: { tried: number; replaced: number };
  sparseWords: number;
  sparseReplaced: number;
  checkBoxes: number;
}

/** Last parameters set on each worker (see pass()). */
const workerParams = new WeakMap<TWorker, string>();

function abortError(): IngestError {
  return new IngestError("aborted", "OCR aborted");
}

export class OcrEngine {
  readonly poolSize: number;
  private readonly opts: Required<Omit<OcrEngineOptions, "langPath" | "limits" | "poolSize">> & Pick<OcrEngineOptions, "langPath" | "limits">;
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private closed = false;
  private langPaths = new Map<string, string>();

  constructor(options: OcrEngineOptions = {}) {
    const configured = extractionSettings().ocrWorkers;
    this.poolSize = Math.max(1, Math.floor(options.poolSize ?? (configured > 0 ? configured : availableParallelism())));
    this.opts = {
      languages: options.languages ?? "auto",
      psm: options.psm ?? 3,
      pageTimeoutMs: options.pageTimeoutMs ?? 180_000,
      detectOrientation: options.detectOrientation ?? true,
      orientationMinConfidence: options.orientationMinConfidence ?? 70,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      workerStartTimeoutMs: options.workerStartTimeoutMs ?? 60_000,
      koreanAcceptConfidence: options.koreanAcceptConfidence ?? 75,
      latinRetry: options.latinRetry ?? true,
      nativeScaleBelow: options.nativeScaleBelow ?? 80,
      sparseRecovery: options.sparseRecovery ?? true,
      sparseMinConfidence: options.sparseMinConfidence ?? 60,
      deskew: options.deskew ?? true,
      dropStampColour: options.dropStampColour ?? true,
      eraseCheckBoxes: options.eraseCheckBoxes ?? true,
      faxClean: options.faxClean ?? true,
      langPath: options.langPath,
      limits: options.limits,
    };
  }

  get limits(): ImageLimits | undefined {
    return this.opts.limits;
  }

  /** Number of workers currently started (for tests/diagnostics). */
  get startedWorkers(): number {
    return this.slots.reduce((n, s) => n + s.workers.size, 0);
  }

  /** OCR one page of an encoded image (PNG, JPEG, TIFF, WebP, GIF, BMP). */
  async recognizeImage(bytes: Uint8Array, options: RecognizeOptions = {}): Promise<OcrPage> {
    if (this.closed) throw new IngestError("ocr_unavailable", "OCR engine is closed");
    if (options.signal?.aborted) throw abortError();
    const info = options.info ?? (await inspectImage(bytes, this.opts.limits));
    const slot = await this.acquire(options.signal);
    const started = Date.now();
    const deadline = started + this.opts.pageTimeoutMs;
    try {
      // Set once the page is known not to be clearly Korean and is bilevel: every later preparation cleans it.
      let faxClean = false;
      const prep = (rotate: Rotation, maxSide?: number, extra: Partial<PrepareOptions> = {}) =>
        prepareForOcr(bytes, info, {
          page: options.page,
          rotate,
          deskew: this.opts.deskew,
          faxClean,
          ...(maxSide ? { maxSide } : { scale: options.scale ?? defaultScale(info, options.density) }),
          limits: this.opts.limits,
          ...extra,
        });
      const dpiOf = (p: PreparedImage) => Math.round((options.density ?? info.density ?? 300) * p.scale);
      const langs = options.languages ?? this.opts.languages;
      const trace: Trace = { passes: [], wordRetries: { tried: 0, replaced: 0 }, sparseWords: 0, sparseReplaced: 0, checkBoxes: 0 };

      let prepared = await prep(0);
      // A fax page that is not clearly Korean is read cleaned by the `kor+eng` pass and every pass after it.
      let faxCleaned: FaxCleaning | undefined;
      const cleanedPage = async (): Promise<PreparedImage> => {
        if (!(await isBilevelPage(bytes, info, options.page ?? 0, this.opts.limits))) return prepared;
        const cleaned = await prep(0, undefined, { faxClean: true });
        if (!cleaned.faxCleaned) return prepared;
        faxClean = true;
        faxCleaned = cleaned.faxCleaned;
        return cleaned;
      };
      let best = await this.readPage(slot, prepared, langs, dpiOf(prepared), deadline, options.signal, trace, 0, this.opts.faxClean ? cleanedPage : undefined, options.scriptHint);
      if (best.image) prepared = best.image;
      let rotation: Rotation = 0;

      // A noisy scan read poorly after upscaling: read it at its own size too, keep the more confident.
      // (A page the `kor` pass accepted as clearly Korean is confident enough and keeps its path.)
      if (!best.korean && best.confidence < this.opts.nativeScaleBelow && prepared.scale > 1 && options.scale === undefined) {
        {
          const alt = await prep(0, undefined, { scale: 1 });
          const r = await this.readPage(slot, alt, best.languages, dpiOf(alt), deadline, options.signal, trace, 0);
          if (r.confidence > best.confidence) {
            best = r;
            prepared = alt;
          }
        }
      }

      const orient = options.detectOrientation ?? this.opts.detectOrientation;
      if (orient && best.confidence < this.opts.orientationMinConfidence) {
        const probes: Array<{ rot: Rotation; conf: number }> = [];
        for (const rot of [0, 90, 180, 270] as Rotation[]) {
          const small = await prep(rot, 1800);
          const t = Date.now();
          const r = await this.pass(slot, small.image, "kor+eng", dpiOf(small), deadline, options.signal);
          trace.passes.push({ kind: "orientation-probe", languages: "kor+eng", rotation: rot, confidence: r.confidence, ms: Date.now() - t });
          probes.push({ rot, conf: r.words >= 3 ? r.confidence : r.confidence / 2 });
        }
        probes.sort((a, b) => b.conf - a.conf);
        const upright = probes.find((p) => p.rot === 0)!;
        const top = probes[0]!;
        if (top.rot !== 0 && top.conf >= upright.conf + 8) {
          const turned = await prep(top.rot);
          const r = await this.readPage(slot, turned, langs, dpiOf(turned), deadline, options.signal, trace, top.rot, undefined, options.scriptHint);
          if (r.confidence > best.confidence) {
            best = r;
            rotation = top.rot;
            prepared = turned;
          }
        }
      }
      // Check boxes glue themselves to the word beside them ("[cash", "Mcontactor"): a page with
      // check boxes is read again without them, and that reading is kept unless it is clearly less
      // confident. Not on pages with Hangul (its ㅁ is a small hollow square too); clearly Korean
      // pages never come here.
      if (this.opts.eraseCheckBoxes && !best.korean && best.words > 0 && hangulShare(best.text) < 0.05) {
        const cleaned = await withoutCheckBoxes(prepared, dpiOf(prepared));
        if (cleaned.erased > 0) {
          trace.checkBoxes = cleaned.erased;
          const r = await this.readPage(slot, cleaned.image, best.languages, dpiOf(prepared), deadline, options.signal, trace, rotation);
          if (r.confidence >= best.confidence - 5) {
            best = r;
            prepared = cleaned.image;
          }
        }
      }
      // Text the layout analysis lost (boxed fields, words under stamps, small print beside rules).
      if (this.opts.sparseRecovery && !best.korean && best.words > 0) {
        // On a page with coloured marks the sparse pass reads the page with colours dropped (the
        // words under a red or blue stamp); the layout pass's reading keeps any coloured text.
        let sparseImage =
          this.opts.dropStampColour && (await hasColour(bytes, info, options.page ?? 0))
            ? await prep(rotation, undefined, { scale: prepared.scale, skew: prepared.skew, dropColour: true })
            : prepared;
        if (trace.checkBoxes > 0 && sparseImage !== prepared) sparseImage = (await withoutCheckBoxes(sparseImage, dpiOf(prepared))).image;
        best = await this.recoverSparseWords(slot, sparseImage, best, dpiOf(prepared), deadline, options.signal, trace, rotation);
      }
      return {
        text: best.text,
        paragraphs: best.paragraphs,
        confidence: best.confidence,
        rotation,
        languages: best.languages,
        scale: prepared.scale,
        width: prepared.width,
        height: prepared.height,
        ms: Date.now() - started,
        passes: trace.passes,
        wordRetries: trace.wordRetries,
        skew: prepared.skew,
        sparseWords: trace.sparseWords,
        sparseReplaced: trace.sparseReplaced,
        checkBoxes: trace.checkBoxes,
        ...(faxCleaned ? { faxCleaned } : {}),
      };
    } finally {
      this.release(slot);
    }
  }

  /** Terminate all workers. The engine cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const all: Promise<unknown>[] = [];
    for (const slot of this.slots) {
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      for (const w of slot.workers.values()) all.push(w.then((x) => x.terminate()).catch(() => undefined));
      slot.workers.clear();
    }
    this.slots.length = 0;
    await Promise.all(all);
  }

  // ---------------------------------------------------------------------------------------------

  private async readPage(
    slot: Slot,
    img: PreparedImage,
    langs: string,
    dpi: number,
    deadline: number,
    signal: AbortSignal | undefined,
    trace: Trace,
    rotation: Rotation,
    latinImage?: () => Promise<PreparedImage>,
    scriptHint?: RecognizeOptions["scriptHint"],
  ): Promise<PassResult & { image?: PreparedImage }> {
    const read = async (l: string, from = img) => {
      const t = Date.now();
      const r = await this.pass(slot, from.image, l, dpi, deadline, signal);
      trace.passes.push({ kind: "read", languages: l, rotation, psm: this.opts.psm, confidence: r.confidence, ms: Date.now() - t });
      return r;
    };
    if (langs !== "auto") return read(langs);
    // Earlier pages of the document were English: kor+eng first, kept if the page is too.
    let mixed: { other: PreparedImage; reading: PassResult } | undefined;
    if (scriptHint === "latin") {
      const other = latinImage ? await latinImage() : img;
      const reading = await read("kor+eng", other);
      if (pageScript(reading) === "latin") return other === img ? reading : { ...reading, image: other };
      mixed = { other, reading };
    }
    const kor = await read("kor");
    if (hangulShare(kor.text) >= 0.5 && kor.confidence >= this.opts.koreanAcceptConfidence) {
      const done = this.opts.latinRetry ? await this.retryLatinWords(slot, img, kor, dpi, deadline, signal, trace) : kor;
      return { ...done, korean: true };
    }
    // Not clearly Korean: the kor+eng pass may read a cleaned copy of the page (latinImage).
    if (!mixed) {
      const other = latinImage ? await latinImage() : img;
      mixed = { other, reading: await read("kor+eng", other) };
    }
    if (mixed.reading.confidence < kor.confidence) return kor;
    return mixed.other === img ? mixed.reading : { ...mixed.reading, image: mixed.other };
  }

  /**
   * Tesseract's automatic layout (PSM 3) drops regions it takes for pictures or rules: on forms the
   * text in ruled boxes and tables, words under a stamp, a column of small print beside a line. The
   * page is read again as sparse text (PSM 11: every piece of text, no layout) with the same
   * languages, and each word of that pass that is confident (≥ sparseMinConfidence), has a letter
   * or digit and does not overlap a word of the layout pass (by more than a third of its box) is
   * added, except a line of one short token that is not a number (≤ 2 characters: specks, box edges): the added words of one sparse line form a line, lines close below each other a
   * paragraph, each placed after the layout paragraph whose top is the last one above it.
   */
  private async recoverSparseWords(
    slot: Slot,
    img: PreparedImage,
    page: PassResult,
    dpi: number,
    deadline: number,
    signal: AbortSignal | undefined,
    trace: Trace,
    rotation: Rotation,
  ): Promise<PassResult> {
    const t = Date.now();
    const sparse = await this.pass(slot, img.image, page.languages, dpi, deadline, signal, 11);
    trace.passes.push({ kind: "read", languages: page.languages, rotation, psm: 11, confidence: sparse.confidence, ms: Date.now() - t });
    const layout0 = page.layout.map((p) => p.map((l) => ({ text: l.text, words: l.words.map((w) => ({ ...w })) })));
    const known = layout0.flatMap((p) => p.flatMap((line) => line.words.map((word) => ({ line, word }))));
    const fresh: OcrLine[] = [];
    let replaced = 0;
    await this.joinSplitNumbers(slot, img, sparse.layout, page.languages, dpi, deadline, signal);
    for (const para of sparse.layout) {
      for (const line of para) {
        const words: OcrWord[] = [];
        for (const w of line.words) {
          if (w.confidence < this.opts.sparseMinConfidence || !/[\p{L}\p{N}]/u.test(w.text)) continue;
          const hits = known.filter((k) => overlapShare(w.bbox, k.word.bbox) > 1 / 3);
          if (hits.length === 0) {
            words.push(w);
            continue;
          }
          // One layout word in the same place, read with low confidence (under a stamp, in noise):
          // the clearly more confident sparse reading replaces it.
          const k = hits[0]!;
          if (hits.length === 1 && overlapShare(k.word.bbox, w.bbox) > 1 / 3 && k.word.confidence < 60 && w.confidence >= k.word.confidence + 25 && k.word.text !== w.text) {
            const at = k.line.text.indexOf(k.word.text);
            if (at >= 0 && k.word.text) {
              k.line.text = k.line.text.slice(0, at) + w.text + k.line.text.slice(at + k.word.text.length);
              k.word.text = w.text;
              k.word.confidence = w.confidence;
              replaced++;
            }
          }
        }
        // A lone short token that is not a number is mostly a speck or a box edge read as letters ("oN", "LJ").
        if (words.length === 1 && !/^\p{N}+$/u.test(words[0]!.text) && (words[0]!.text.match(/[\p{L}\p{N}]/gu)?.length ?? 0) < 3) words.length = 0;
        if (words.length) fresh.push({ text: words.map((w) => w.text).join(" "), words });
      }
    }
    trace.sparseReplaced += replaced;
    if (fresh.length === 0 && replaced === 0) return page;
    trace.sparseWords += fresh.reduce((n, l) => n + l.words.length, 0);
    // Lines top to bottom, then left to right; a line starts a new paragraph unless it sits right
    // below the previous one (gap under one line height) and overlaps it horizontally.
    fresh.sort((a, b) => boxOf(a.words).y0 - boxOf(b.words).y0 || boxOf(a.words).x0 - boxOf(b.words).x0);
    const added: OcrLine[][] = [];
    for (const line of fresh) {
      const last = added[added.length - 1];
      const prev = last ? boxOf(last[last.length - 1]!.words) : undefined;
      const cur = boxOf(line.words);
      const h = cur.y1 - cur.y0;
      if (last && prev && cur.y0 - prev.y1 < h && Math.min(prev.x1, cur.x1) > Math.max(prev.x0, cur.x0)) last.push(line);
      else added.push([line]);
    }
    const layout = [...layout0];
    const tops = layout.map((p) => boxOf(p.flatMap((l) => l.words)).y0);
    for (const para of added.reverse()) {
      const y = boxOf(para[0]!.words).y0;
      let at = 0;
      for (let i = 0; i < tops.length; i++) if (tops[i]! <= y) at = i + 1;
      layout.splice(at, 0, para);
      tops.splice(at, 0, y);
    }
    const paragraphs = paragraphsOf(layout);
    const words = paragraphs.join(" ").split(/\s+/).filter(Boolean).length;
    return { ...page, layout, paragraphs, text: paragraphs.join("\n\n"), words };
  }

  /**
   * In sparse mode (PSM 11) tesseract drops the decimal point of an amount set in a monospaced font
   * (receipts: "44.16" comes back as two one-word lines "44" and "16", the point's cell a gap
   * between them), so neither half matches anything. Two number words side by side on one text
   * line (vertical overlap over half their height, gap under 1.5 digit heights, the second of 1–2
   * digits) are read again together from the page as one word (PSM 8); the re-read replaces them
   * only when it is confident (≥ 60) and has exactly their digits in order: it may only restore
   * the separators that were lost. Changes `layout` in place.
   */
  private async joinSplitNumbers(
    slot: Slot,
    img: PreparedImage,
    layout: OcrLine[][],
    langs: string,
    dpi: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const numbers = layout.flatMap((p) => p.flatMap((line) => line.words.filter((w) => /^\d[\d.,]*$/.test(w.text) && /\d$/.test(w.text)).map((word) => ({ line, word }))));
    const used = new Set<OcrWord>();
    for (const a of numbers) {
      if (used.has(a.word)) continue;
      const h = a.word.bbox.y1 - a.word.bbox.y0;
      const b = numbers.find(
        ({ word: w }) =>
          w !== a.word &&
          !used.has(w) &&
          /^\d{1,2}$/.test(w.text) &&
          w.bbox.x0 > a.word.bbox.x1 &&
          w.bbox.x0 - a.word.bbox.x1 < 1.5 * Math.max(h, w.bbox.y1 - w.bbox.y0) &&
          Math.min(w.bbox.y1, a.word.bbox.y1) - Math.max(w.bbox.y0, a.word.bbox.y0) > 0.5 * Math.min(h, w.bbox.y1 - w.bbox.y0),
      );
      if (!b || Date.now() > deadline - 1000) continue;
      const box = {
        x0: a.word.bbox.x0,
        y0: Math.min(a.word.bbox.y0, b.word.bbox.y0),
        x1: b.word.bbox.x1,
        y1: Math.max(a.word.bbox.y1, b.word.bbox.y1),
      };
      const pad = Math.max(4, Math.round((box.y1 - box.y0) * 0.25));
      const left = Math.max(0, box.x0 - pad);
      const top = Math.max(0, box.y0 - pad);
      const width = Math.min(img.width - left, box.x1 - box.x0 + 2 * pad);
      const height = Math.min(img.height - top, box.y1 - box.y0 + 2 * pad);
      const r = await this.pass(slot, await cropPrepared(img, left, top, width, height), langs, dpi, deadline, signal, 8);
      const text = r.text.replace(/\s+/g, "");
      if (r.confidence < 60 || !/^[\d.,]+$/.test(text) || text.replace(/\D/g, "") !== a.word.text.replace(/\D/g, "") + b.word.text) continue;
      used.add(a.word).add(b.word);
      a.line.text = a.line.text.replace(a.word.text, text);
      a.word.text = text;
      a.word.bbox = box;
      a.word.confidence = Math.min(r.confidence, a.word.confidence, b.word.confidence);
      b.line.words = b.line.words.filter((w) => w !== b.word);
      b.line.text = b.line.words.map((w) => w.text).join(" ");
    }
  }

  /**
   * The `kor` model reads Latin acronyms inside Korean text as digits or look-alikes ("KBO" → "×80",
   * "ABS" → "488") and garbles some times in table cells ("14:00" → "14500"), with low confidence.
   * Each word with a Latin letter or digit and confidence < 93 (at most 60 per page) is cropped and
   * read again alone with kor+eng (PSM 8); the new reading replaces it when it is clearly more
   * confident (≥ 80 and ≥ old + 15) and does not add or drop Hangul (the crop can catch a
   * neighbouring syllable), unless the old reading was garbage (< 30) and the new one is ≥ 90.
   */
  private async retryLatinWords(
    slot: Slot,
    img: PreparedImage,
    page: PassResult,
    dpi: number,
    deadline: number,
    signal: AbortSignal | undefined,
    trace: Trace,
  ): Promise<PassResult> {
    const candidates: Array<{ line: OcrLine; word: OcrWord }> = [];
    for (const para of page.layout) {
      for (const line of para) {
        for (const word of line.words) {
          if (candidates.length >= 60) break;
          if (word.confidence < 93 && /[A-Za-z0-9]/.test(word.text) && word.bbox.x1 > word.bbox.x0 && word.bbox.y1 > word.bbox.y0) {
            candidates.push({ line, word });
          }
        }
      }
    }
    if (candidates.length === 0) return page;
    let changed = 0;
    for (const { line, word } of candidates) {
      if (Date.now() > deadline - 1000) break;
      const pad = Math.max(4, Math.round((word.bbox.y1 - word.bbox.y0) * 0.15));
      const left = Math.max(0, word.bbox.x0 - pad);
      const top = Math.max(0, word.bbox.y0 - pad);
      const width = Math.min(img.width - left, word.bbox.x1 - word.bbox.x0 + 2 * pad);
      const height = Math.min(img.height - top, word.bbox.y1 - word.bbox.y0 + 2 * pad);
      if (width < 4 || height < 4) continue;
      const crop = await cropPrepared(img, left, top, width, height);
      trace.wordRetries.tried++;
      const r = await this.pass(slot, crop, "kor+eng", dpi, deadline, signal, 8);
      const text = r.text.replace(/\s+/g, " ").trim();
      if (!text || text.includes(" ")) continue;
      if (r.confidence < 80 || r.confidence < word.confidence + 15) continue;
      // The crop may catch a neighbouring syllable ("10" → "10월"): Hangul may only appear in the
      // new reading where the old one was (nearly) garbage.
      const hangulBefore = word.text.match(HANGUL)?.length ?? 0;
      const hangulAfter = text.match(HANGUL)?.length ?? 0;
      if (hangulAfter !== hangulBefore && !(word.confidence < 30 && r.confidence >= 90)) continue;
      const at = line.text.indexOf(word.text);
      if (at < 0) continue;
      line.text = line.text.slice(0, at) + text + line.text.slice(at + word.text.length);
      word.text = text;
      word.confidence = r.confidence;
      changed++;
    }
    trace.wordRetries.replaced += changed;
    if (changed === 0) return page;
    const paragraphs = paragraphsOf(page.layout);
    return { ...page, paragraphs, text: paragraphs.join("\n\n") };
  }

  private async pass(slot: Slot, image: Buffer, langs: string, dpi: number, deadline: number, signal?: AbortSignal, psm = this.opts.psm): Promise<PassResult> {
    if (signal?.aborted) throw abortError();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new IngestError("ocr_timeout", `OCR of one page took longer than ${this.opts.pageTimeoutMs} ms`);
    const worker = await this.worker(slot, langs);
    const thread = (worker as unknown as { worker?: { ref?: () => void; unref?: () => void } }).worker;
    thread?.ref?.();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const job = (async () => {
        const params = {
          tessedit_pageseg_mode: String(psm) as Tesseract.PSM,
          preserve_interword_spaces: "1",
          user_defined_dpi: String(Math.min(1200, Math.max(70, dpi))),
        };
        // One message round trip less per pass when nothing changed (word re-reads come in runs).
        const key = `${params.tessedit_pageseg_mode}/${params.user_defined_dpi}`;
        if (workerParams.get(worker) !== key) {
          workerParams.delete(worker);
          await worker.setParameters(params);
          workerParams.set(worker, key);
        }
        return worker.recognize(image, {}, { text: true, blocks: true });
      })();
      const stop = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new IngestError("ocr_timeout", `OCR of one page took longer than ${this.opts.pageTimeoutMs} ms`)), remaining);
        if (signal) {
          onAbort = () => reject(abortError());
          signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      const res = await Promise.race([job, stop]);
      return toPass(res.data, langs);
    } catch (err) {
      // A timed-out or aborted worker may still be busy: kill it, a fresh one starts next time.
      if (err instanceof IngestError && (err.code === "ocr_timeout" || err.code === "aborted")) {
        slot.workers.delete(langs);
        await worker.terminate().catch(() => undefined);
        throw err;
      }
      if (err instanceof IngestError) throw err;
      throw new IngestError("ocr_failed", `OCR failed: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      if (timer) clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      thread?.unref?.();
    }
  }

  private worker(slot: Slot, langs: string): Promise<TWorker> {
    let w = slot.workers.get(langs);
    if (!w) {
      w = this.startWorker(langs);
      slot.workers.set(langs, w);
      w.catch(() => slot.workers.delete(langs));
    }
    return w;
  }

  private async startWorker(langs: string): Promise<TWorker> {
    let langPath = this.langPaths.get(langs);
    if (!langPath) {
      try {
        langPath = resolveLangPath(langs.split("+"), this.opts.langPath);
      } catch (err) {
        throw new IngestError("ocr_unavailable", (err as Error).message);
      }
      this.langPaths.set(langs, langPath);
    }
    let timer: NodeJS.Timeout | undefined;
    const created = Tesseract.createWorker(langs, Tesseract.OEM.LSTM_ONLY, {
      langPath,
      cacheMethod: "none",
      gzip: true,
      logger: () => undefined,
      // Without an errorHandler tesseract.js rethrows worker errors asynchronously (process crash).
      errorHandler: () => undefined,
    });
    try {
      const worker = await Promise.race([
        created,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new IngestError("ocr_unavailable", `OCR worker for ${langs} did not start within ${this.opts.workerStartTimeoutMs} ms`)),
            this.opts.workerStartTimeoutMs,
          );
        }),
      ]);
      // Silence tesseract's console chatter ("Detected N diacritics", "Estimating resolution").
      await worker.setParameters({ debug_file: "/dev/null" } as Partial<Tesseract.WorkerParams>);
      (worker as unknown as { worker?: { unref?: () => void } }).worker?.unref?.();
      return worker;
    } catch (err) {
      created.then((w) => w.terminate()).catch(() => undefined);
      if (err instanceof IngestError) throw err;
      throw new IngestError("ocr_unavailable", `OCR worker for ${langs} failed to start: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private acquire(signal?: AbortSignal): Promise<Slot> {
    const free = this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      if (free.idleTimer) clearTimeout(free.idleTimer);
      return Promise.resolve(free);
    }
    if (this.slots.length < this.poolSize) {
      const slot: Slot = { workers: new Map(), busy: true };
      this.slots.push(slot);
      return Promise.resolve(slot);
    }
    return new Promise<Slot>((resolve, reject) => {
      const take = (slot: Slot) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(slot);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(abortError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(slot: Slot): void {
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next) {
      next(slot);
      return;
    }
    slot.busy = false;
    if (this.opts.idleTimeoutMs > 0) {
      slot.idleTimer = setTimeout(() => {
        if (slot.busy) return;
        for (const w of slot.workers.values()) w.then((x) => x.terminate()).catch(() => undefined);
        slot.workers.clear();
      }, this.opts.idleTimeoutMs);
      slot.idleTimer.unref();
    }
  }
}

function defaultScale(info: ImageInfo, density?: number): number | undefined {
  if (density) return Math.min(2.5, Math.max(1, Math.round((400 / density) * 100) / 100));
  return undefined; // prepareForOcr → chooseScale(info)
}

let shared: OcrEngine | undefined;

/** The process-wide engine (lazy; workers start on first use). */
export function getOcrEngine(options?: OcrEngineOptions): OcrEngine {
  shared ??= new OcrEngine(options);
  return shared;
}

/**
 * Replaces the process-wide engine. Extraction child processes install one that sends each image
 * to their parent, so all of them share the parent's single pool of tesseract workers.
 */
export function setOcrEngine(engine: OcrEngine): void {
  shared = engine;
}

/** Terminate the process-wide engine's workers (call on shutdown). */
export async function closeOcrEngine(): Promise<void> {
  const e = shared;
  shared = undefined;
  await e?.close();
}
