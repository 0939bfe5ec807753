/**
 * Extraction for jobs and restores: in child processes with time and memory limits
 * (extract-processes.ts), or in this process when none are configured. Also the limits every
 * extracted document must meet before it is written.
 */
import { prepareDocument, type PreparedDocument } from "../../../ingest/pipeline.ts";
import { IngestError, type ContainerLimits } from "../../../ingest/types.ts";
import { ExtractProcessPool } from "./extract-processes.ts";

const TEXT_MAX_PAGES = 5000;

export class Extractor {
  private readonly pool: ExtractProcessPool | null;

  constructor(
    private readonly config: { processes: number; timeoutMs: number; wallMs?: number; maxRssBytes: number; limits?: ContainerLimits } | undefined,
    log?: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    const x = config;
    this.pool =
      x && x.processes > 0
        ? new ExtractProcessPool({
            size: x.processes,
            timeoutMs: x.timeoutMs,
            wallMs: x.wallMs,
            maxRssBytes: x.maxRssBytes,
            // The V8 heap stops short of the RSS cap, so a plain heap blow-up ends as a heap-limit
            // abort; the watchdog catches what lives outside the heap (Buffers, WASM).
            heapMb: Math.floor((x.maxRssBytes * 0.75) / (1024 * 1024)),
            limits: x.limits,
            log,
          })
        : null;
  }

  /** Child processes extracting at once (0: in this process). */
  get processes(): number {
    return this.pool?.size ?? 0;
  }

  async prepare(source: string, bytes: Buffer, opts: { title?: string; password?: string }): Promise<PreparedDocument> {
    const prepared = this.pool
      ? await this.pool.prepare(source, bytes, { title: opts.title, password: opts.password })
      : await prepareDocument({ source, bytes, password: opts.password }, { title: opts.title, password: opts.password, limits: this.config?.limits });
    if (prepared.pages.length > TEXT_MAX_PAGES) throw new IngestError("too_many_pages", `document has ${prepared.pages.length} pages (limit ${TEXT_MAX_PAGES})`);
    if (prepared.chunks.length === 0) throw new IngestError("no_text", "no text could be extracted from this file");
    return prepared;
  }

  /** What extraction is doing now (diagnostics: the "no file finished" log of a job). */
  state(): Record<string, unknown> {
    return this.pool ? this.pool.state() : { inProcess: true };
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
