/**
 * The optional image-description model (KB_IMAGE_MODEL): loaded lazily, at the first picture to
 * describe (ingestion or a question with an image), and reported in /readyz. A model that fails
 * to load is a degraded mode, not an outage: the slot records why, /readyz says so, and pictures
 * keep only their OCR text. The slot is the process's `ImageDescriber` (ingest/image-description.ts):
 * each description is bounded by `timeoutMs` (KB_IMAGE_TIMEOUT_S); one that fails or runs over
 * gives null (the model's run is not interrupted: the next picture waits for it, one run at a time).
 */
import type { ImageDescriber } from "../../ingest/image-description.ts";
import { IngestError } from "../../ingest/types.ts";
import type { ImageCaptioner } from "../models/image-captioner.ts";

export type ImageModelState =
  | { status: "off" }
  | { status: "idle"; model: string }
  | { status: "loading"; model: string }
  | { status: "ready"; model: string }
  | { status: "failed"; model: string; error: string };

export class ImageDescriberSlot implements ImageDescriber {
  private loading: Promise<ImageCaptioner | null> | null = null;
  private loaded: ImageCaptioner | null = null;
  private state: ImageModelState;
  /** Descriptions made, failed (error or empty) and timed out, since start. */
  readonly counts = { described: 0, failed: 0, timedOut: 0 };

  constructor(
    /** KB_IMAGE_MODEL, or undefined (no descriptions). */
    private readonly model: string | undefined,
    private readonly loadModel: (model: string) => Promise<ImageCaptioner>,
    private readonly timeoutMs: number,
    private readonly log: (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.state = model ? { status: "idle", model } : { status: "off" };
  }

  get configured(): boolean {
    return this.model !== undefined;
  }

  /** The model, loading it on the first call; null when none is configured or it failed to load. Never throws. */
  get(): Promise<ImageCaptioner | null> {
    if (!this.model) return Promise.resolve(null);
    const model = this.model;
    if (!this.loading) {
      this.state = { status: "loading", model };
      this.loading = this.loadModel(model).then(
        (m) => {
          this.loaded = m;
          this.state = { status: "ready", model };
          this.log("info", "image-description model loaded", { model });
          return m;
        },
        (err: unknown) => {
          const error = err instanceof Error ? err.message : String(err);
          this.state = { status: "failed", model, error };
          this.log("warn", "image-description model failed to load: pictures keep their OCR text only", { model, error });
          return null;
        },
      );
    }
    return this.loading;
  }

  async describe(bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<string | null> {
    const { signal } = options;
    if (signal?.aborted) throw new IngestError("aborted", "description aborted");
    const captioner = await this.get();
    if (!captioner) return null;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const text = await Promise.race([
        captioner.caption(bytes),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DescribeTimeout()), this.timeoutMs);
          onAbort = () => reject(new IngestError("aborted", "description aborted"));
          signal?.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
      if (text) this.counts.described++;
      else this.counts.failed++;
      return text || null;
    } catch (err) {
      if (err instanceof IngestError && err.code === "aborted") throw err;
      if (err instanceof DescribeTimeout) this.counts.timedOut++;
      else this.counts.failed++;
      this.log("warn", "a picture could not be described", { model: this.model, error: err instanceof Error ? err.message : String(err) });
      return null;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  status(): ImageModelState {
    return this.state;
  }

  async close(): Promise<void> {
    await this.loading;
    await this.loaded?.close();
    this.loaded = null;
  }
}

class DescribeTimeout extends Error {
  constructor() {
    super("the image model took too long (KB_IMAGE_TIMEOUT_S)");
  }
}
