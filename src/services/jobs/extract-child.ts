/**
 * An extraction child process (see extract-processes.ts): runs `prepareDocument` for its parent,
 * one file at a time. OCR is not done here: the process-wide OCR engine is replaced by one that
 * sends each image to the parent, whose single tesseract pool serves every child.
 */
import { configureExtraction, extractionSettings, type ExtractionSettings } from "../../../ingest/extraction-settings.ts";
import { setImageDescriber, type ImageDescriber } from "../../../ingest/image-description.ts";
import { OcrEngine, setOcrEngine, type OcrPage, type RecognizeOptions } from "../../../ingest/ocr/engine.ts";
import { loadExtractors, prepareDocument } from "../../../ingest/pipeline.ts";
import { readPdfTextLayer, setPdfPageHelper, type PdfPageHelper, type PdfPageText } from "../../../ingest/extractors/pdf.ts";
import { IngestError, type ContainerLimits } from "../../../ingest/types.ts";

interface Task {
  type: "task";
  id: number;
  source: string;
  bytes: Uint8Array;
  title?: string;
  password?: string;
  limits: ContainerLimits;
  /** Another child may read part of a long PDF for this one (the pool has more than one). */
  helpers?: boolean;
}

/** Pages of a PDF another child is extracting (extract-processes.ts). */
interface PagesTask {
  type: "pages-task";
  id: number;
  bytes: Uint8Array;
  password?: string;
  first: number;
  last: number;
}

type FromParent =
  | Task
  | PagesTask
  | { type: "pages-result"; rid: number; pages: PdfPageText[] }
  | { type: "pages-error"; rid: number; message: string }
  | { type: "pages-reclaimed"; rid: number; reclaimed: boolean }
  | { type: "ocr-result"; rid: number; page: OcrPage }
  | { type: "ocr-error"; rid: number; code: string; message: string }
  | { type: "describe-result"; rid: number; text: string | null };

const send = (m: unknown) => {
  if (process.connected) process.send!(m);
};

/** Same pool size and limits as the parent's engine (same settings), but the pages are read there. */
class ParentOcrEngine extends OcrEngine {
  private nextRid = 1;
  readonly pending = new Map<number, { resolve: (p: OcrPage) => void; reject: (e: unknown) => void }>();

  override recognizeImage(bytes: Uint8Array, options: RecognizeOptions = {}): Promise<OcrPage> {
    const { signal, ...rest } = options;
    if (signal?.aborted) return Promise.reject(new IngestError("aborted", "OCR aborted"));
    const rid = this.nextRid++;
    return new Promise<OcrPage>((resolve, reject) => {
      this.pending.set(rid, { resolve, reject });
      signal?.addEventListener("abort", () => {
        this.pending.delete(rid);
        reject(new IngestError("aborted", "OCR aborted"));
      }, { once: true });
      send({ type: "ocr", rid, bytes, options: rest });
    });
  }

  settle(m: Extract<FromParent, { type: "ocr-result" | "ocr-error" }>): void {
    const p = this.pending.get(m.rid);
    if (!p) return;
    this.pending.delete(m.rid);
    if (m.type === "ocr-result") p.resolve(m.page);
    else p.reject(new IngestError(m.code, m.message));
  }

  override async close(): Promise<void> {
    for (const p of this.pending.values()) p.reject(new IngestError("ocr_unavailable", "OCR engine is closed"));
    this.pending.clear();
  }
}

/** Picture descriptions (KB_IMAGE_MODEL) are made by the parent, which holds the model (once). */
class ParentImageDescriber implements ImageDescriber {
  private nextRid = 1;
  readonly pending = new Map<number, (text: string | null) => void>();

  describe(bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<string | null> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new IngestError("aborted", "description aborted"));
    const rid = this.nextRid++;
    return new Promise<string | null>((resolve, reject) => {
      this.pending.set(rid, resolve);
      signal?.addEventListener("abort", () => {
        this.pending.delete(rid);
        reject(new IngestError("aborted", "description aborted"));
      }, { once: true });
      send({ type: "describe", rid, bytes });
    });
  }

  settle(m: Extract<FromParent, { type: "describe-result" }>): void {
    const resolve = this.pending.get(m.rid);
    this.pending.delete(m.rid);
    resolve?.(m.text);
  }
}

/** Asks the parent for a page range of the PDF this child is extracting, read by a sibling. */
class ParentPdfPages implements PdfPageHelper {
  private nextRid = 1;
  readonly pending = new Map<number, { resolve: (p: PdfPageText[]) => void; reject: (e: unknown) => void }>();
  readonly reclaims = new Map<number, (reclaimed: boolean) => void>();

  read(pdf: { bytes: Uint8Array; password?: string }, first: number, last: number): ReturnType<PdfPageHelper["read"]> {
    const rid = this.nextRid++;
    const pages = new Promise<PdfPageText[]>((resolve, reject) => this.pending.set(rid, { resolve, reject }));
    send({ type: "pages", rid, first, last, bytes: pdf.bytes, password: pdf.password });
    const reclaim = () =>
      new Promise<boolean>((resolve) => {
        this.reclaims.set(rid, resolve);
        send({ type: "pages-reclaim", rid });
      });
    return { pages, reclaim };
  }

  settle(m: Extract<FromParent, { type: "pages-result" | "pages-error" | "pages-reclaimed" }>): void {
    if (m.type === "pages-reclaimed") {
      this.reclaims.get(m.rid)?.(m.reclaimed);
      this.reclaims.delete(m.rid);
      if (!m.reclaimed) return;
    }
    const p = this.pending.get(m.rid);
    this.pending.delete(m.rid);
    if (m.type === "pages-result") p?.resolve(m.pages);
    else p?.reject(new Error(m.type === "pages-error" ? m.message : "taken back"));
  }
}

// The parent's extraction settings (fork arguments): set before anything is built with them.
configureExtraction(JSON.parse(process.argv[3] ?? "{}") as Partial<ExtractionSettings>);
const ocr = new ParentOcrEngine();
setOcrEngine(ocr);
const describer = extractionSettings().describeImages ? new ParentImageDescriber() : null;
setImageDescriber(describer);

const pdfPages = new ParentPdfPages();

process.on("message", (m: FromParent) => {
  if (m.type === "describe-result") {
    describer?.settle(m);
    return;
  }
  if (m.type === "pages-result" || m.type === "pages-error" || m.type === "pages-reclaimed") {
    pdfPages.settle(m);
    return;
  }
  if (m.type === "pages-task") {
    readPdfTextLayer(new Uint8Array(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), { password: m.password, range: { first: m.first, last: m.last } }).then(
      (layer) => send({ type: "pages-done", id: m.id, pages: layer.pages }),
      (err: unknown) => send({ type: "error", id: m.id, code: err instanceof IngestError ? err.code : null, message: err instanceof Error ? err.message : String(err) }),
    );
    return;
  }
  if (m.type !== "task") {
    ocr.settle(m);
    return;
  }
  setPdfPageHelper(m.helpers ? pdfPages : null);
  const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  prepareDocument({ source: m.source, bytes, password: m.password }, { title: m.title, password: m.password, limits: m.limits }).then(
    (prepared) => send({ type: "result", id: m.id, prepared }),
    (err: unknown) => send({ type: "error", id: m.id, code: err instanceof IngestError ? err.code : null, message: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent died or let this child go: nothing else will come.
process.on("disconnect", () => process.exit(0));

// Where /proc is missing, the parent's RSS watchdog uses what the child reports.
setInterval(() => send({ type: "rss", rss: process.memoryUsage.rss() }), 250).unref();

await loadExtractors();
send({ type: "ready" });
