/**
 * Extraction on other cores: a small pool of worker threads running `prepareDocument`
 * (detect → extract → normalize → chunk → analyze), so that extracting the next files runs in
 * parallel with embedding and writing the current ones on the main thread. Threads start on
 * first use and stop after a minute without work. Results are plain data (structured clone);
 * an extractor's IngestError comes back with its code.
 */
import { Worker } from "node:worker_threads";
import type { PreparedDocument } from "../../../ingest/pipeline.ts";
import { IngestError } from "../../../ingest/types.ts";

const BOOT = new URL("./extract-thread-boot.mjs", import.meta.url);
const ENTRY = new URL("./extract-thread.ts", import.meta.url).href;
const IDLE_MS = 60_000;

interface Pending {
  resolve: (p: PreparedDocument) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  busy: number | null;
  idleTimer: NodeJS.Timeout | null;
}

export class ExtractPool {
  private readonly slots: Slot[] = [];
  private readonly queue: { id: number; task: Record<string, unknown>; transfer: ArrayBuffer[] }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {}

  prepare(source: string, bytes: Uint8Array, opts: { title?: string; password?: string } = {}): Promise<PreparedDocument> {
    if (this.closed) return Promise.reject(new Error("extraction pool is closed"));
    const id = this.nextId++;
    // A copy: the caller keeps its bytes (blob store, hashing); the copy is moved to the thread.
    const copy = new Uint8Array(bytes);
    return new Promise<PreparedDocument>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, task: { id, source, bytes: copy, title: opts.title, password: opts.password }, transfer: [copy.buffer] });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => s.busy === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.busy = job.id;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      slot.worker.ref(); // keeps the process alive while the thread works
      slot.worker.postMessage(job.task, job.transfer);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(BOOT, { workerData: { entry: ENTRY } });
    worker.unref();
    const slot: Slot = { worker, busy: null, idleTimer: null };
    worker.on("message", (m: { id: number; prepared?: PreparedDocument; error?: { code: string | null; message: string } }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      slot.busy = null;
      worker.unref();
      if (p) {
        if (m.error) p.reject(m.error.code ? new IngestError(m.error.code, m.error.message) : new Error(m.error.message));
        else p.resolve(m.prepared!);
      }
      slot.idleTimer = setTimeout(() => this.retire(slot), IDLE_MS);
      slot.idleTimer.unref();
      this.pump();
    });
    const fail = (err: unknown) => {
      this.retire(slot);
      if (slot.busy !== null) {
        const p = this.pending.get(slot.busy);
        this.pending.delete(slot.busy);
        p?.reject(new IngestError("extraction_crashed", `the extraction thread failed: ${err instanceof Error ? err.message : String(err)}`));
      }
      this.pump();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (this.slots.includes(slot)) fail(new Error(`exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private retire(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.slots]) this.retire(s);
    for (const p of this.pending.values()) p.reject(new Error("extraction pool closed"));
    this.pending.clear();
    this.queue.length = 0;
  }
}
