/**
 * Extraction in child processes: detect → extract → normalize → chunk → analyze
 * (`prepareDocument`) runs in a small pool of forked Node processes, never on the server's
 * event loop. A hostile file (an XML bomb that is small on disk but costs gigabytes and minutes
 * to parse, a decompression bomb, a parser stuck in a loop) can then only hurt its own child:
 *
 * - each child runs with `--max-old-space-size` (V8 heap) and an RSS watchdog in the parent
 *   (/proc/<pid>/status, else what the child reports), because Buffers, ArrayBuffers and WASM
 *   memory are outside the V8 heap limit (worker threads' `resourceLimits` do not cap them);
 * - each file has a time limit; time the child spends waiting for OCR does not count (OCR pages
 *   have their own limit, and they wait in the parent's shared queue);
 * - a child over a limit is killed (SIGKILL), its file fails with a named error
 *   (`extract_timeout`, `extract_memory`, `extract_crashed`), a fresh child takes the next file;
 * - every file also has a wall-clock limit from the moment a child takes it, OCR waits included
 *   (`extract_stalled`): whatever the child waits for (an OCR reply that never comes), the file's
 *   promise settles, its child is killed and the job goes on;
 * - a child that goes away by any route (exit, a failed start that emits only `error` and
 *   `close`, a kill) fails the file it held; one that cannot be started fails the queued files
 *   when no other child is left to take them.
 *
 * OCR stays in the parent: children send page images over IPC and the parent's one tesseract
 * pool (ingest/ocr/engine.ts, KB_OCR_WORKERS) reads them, so N children never start N pools.
 *
 * A long PDF is read by two children: the child extracting it asks for the back half of its pages
 * (ingest/extractors/pdf.ts, PdfPageHelper), the parent puts that page range at the head of the
 * queue, and the next child to be free reads it (from the PDF's bytes, which the first sends: the
 * file's own, or those of a PDF attached inside it) while the first reads the front half. If no
 * child has taken the range when the first is done with its half, the first takes it back.
 * Without this, one 600-page file kept one child busy for seconds while the other idled, and its
 * chunks reached the writer last (docs/benchmarks.md, "Ingestion throughput"). A range has the
 * same time and memory limits as a file; when it fails, the child that asked reads it itself.
 *
 * Children start on first use, stop after a minute without work, and exit when the parent's IPC
 * channel closes (the parent died). Results are plain data; an extractor's IngestError comes back
 * with its code.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packagePath, RUNS_BUNDLED } from "../../paths.ts";
import type { PreparedDocument } from "../../../ingest/pipeline.ts";
import { IngestError, type ContainerLimits } from "../../../ingest/types.ts";
import { extractionSettings } from "../../../ingest/extraction-settings.ts";
import { getImageDescriber } from "../../../ingest/image-description.ts";
import type { OcrEngine, RecognizeOptions } from "../../../ingest/ocr/engine.ts";

// From the sources, the child registers tsx and loads the TypeScript entry; from the bundle, it
// runs the bundled entry beside this chunk (build/cli/extract-child.js) with plain node.
const BOOT = RUNS_BUNDLED ? fileURLToPath(new URL("./extract-child.js", import.meta.url)) : packagePath("src", "services", "jobs", "extract-child-boot.mjs");
// The argument layout is the same either way (extract-child.ts reads its settings from argv[3]).
const ENTRY = RUNS_BUNDLED ? "bundled" : pathToFileURL(packagePath("src", "services", "jobs", "extract-child.ts")).href;
const IDLE_MS = 60_000;
const WATCH_MS = 100;
/** A child that is still this far into its RSS cap after a file is replaced (its heap stays grown). */
const RECYCLE_SHARE = 0.5;
/** V8 young-generation semi-space of a child, in MiB (Node 20's default is 16). */
const SEMI_SPACE_MB = 32;
/** Starting a child (tsx, extractor modules) may take long on a busy machine, but not forever. */
const START_TIMEOUT_MS = 120_000;

export interface ExtractProcessOptions {
  /** Child processes (files extracted at once). */
  size: number;
  /** Wall-clock limit for one file, OCR waits excluded, in ms. */
  timeoutMs: number;
  /**
   * Wall-clock limit for one file from the moment a child takes it (extraction and OCR waits
   * together), in ms (KB_EXTRACT_WALL_S). Default: 10 × timeoutMs.
   */
  wallMs?: number;
  /** The Node executable of the children (default: this process's). */
  execPath?: string;
  /** Resident memory a child may reach before it is killed, in bytes. */
  maxRssBytes: number;
  /** `--max-old-space-size` of each child, in MiB. */
  heapMb: number;
  /** Decompression caps passed to the extractors. */
  limits?: ContainerLimits;
  /** The OCR engine that serves the children (default: this process's shared engine). */
  ocr?: () => Promise<OcrEngine>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Task {
  id: number;
  /** A whole file, or a range of pages of a PDF another child is extracting. */
  kind: "file" | "pages";
  source: string;
  bytes: Uint8Array;
  title?: string;
  password?: string;
  /** kind "pages": the range, and the child (with its file) that asked for it. */
  range?: { first: number; last: number };
  owner?: { child: Child; rid: number; task: Task };
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
  /** Settled already (by its child, its wall-clock limit, a lost child or close). */
  done: boolean;
  wall: NodeJS.Timeout | null;
}

interface Child {
  proc: ChildProcess;
  ready: boolean;
  task: Task | null;
  /** Why the parent killed it (the error its task fails with). */
  killedFor: IngestError | null;
  idleTimer: NodeJS.Timeout | null;
  startTimer: NodeJS.Timeout | null;
  /** Time limit accounting: ms used by the current task, and since when the clock runs (null: paused for OCR). */
  spentMs: number;
  runningSince: number | null;
  deadline: NodeJS.Timeout | null;
  ocrInFlight: number;
  ocrAbort: AbortController;
  reportedRss: number;
  stderrTail: string;
  /** Its exit (or failed start) was handled: gone from the pool. */
  gone: boolean;
}

type FromChild =
  | { type: "ready" }
  | { type: "rss"; rss: number }
  | { type: "result"; id: number; prepared: PreparedDocument }
  | { type: "pages-done"; id: number; pages: unknown }
  | { type: "pages"; rid: number; first: number; last: number; bytes: Uint8Array; password?: string }
  | { type: "pages-reclaim"; rid: number }
  | { type: "error"; id: number; code: string | null; message: string }
  | { type: "ocr"; rid: number; bytes: Uint8Array; options: Omit<RecognizeOptions, "signal"> }
  | { type: "describe"; rid: number; bytes: Uint8Array };

/** Resident set size of a process from /proc (Linux); null elsewhere or when it is gone. */
export function procRss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export class ExtractProcessPool {
  private readonly children: Child[] = [];
  private readonly queue: Task[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private nextId = 1;
  private closed = false;
  /** Counters for diagnostics and benches. */
  readonly stats = { started: 0, killedTimeout: 0, killedMemory: 0, crashed: 0, ocrPages: 0, peakChildRss: 0, pageRanges: 0, pageRangesReclaimed: 0, pageRangesFailed: 0 };

  constructor(readonly options: ExtractProcessOptions) {
    this.watchdog = setInterval(() => this.watch(), WATCH_MS);
    this.watchdog.unref();
  }

  get size(): number {
    return this.options.size;
  }

  /** The children and the queue, for diagnostics (the "no file finished" log of a job). */
  state(): { queued: number; children: { pid: number | null; ready: boolean; file: string | null; waitingForOcr: number; killed: string | null }[] } {
    return {
      queued: this.queue.length,
      children: this.children.map((c) => ({ pid: c.proc.pid ?? null, ready: c.ready, file: c.task ? describeTask(c.task) : null, waitingForOcr: c.ocrInFlight, killed: c.killedFor?.code ?? null })),
    };
  }

  /** Process ids of the running children. */
  pids(): number[] {
    return this.children.flatMap((c) => (c.proc.pid ? [c.proc.pid] : []));
  }

  prepare(source: string, bytes: Uint8Array, opts: { title?: string; password?: string } = {}): Promise<PreparedDocument> {
    if (this.closed) return Promise.reject(new Error("extraction pool is closed"));
    return new Promise<PreparedDocument>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, kind: "file", source, bytes, title: opts.title, password: opts.password, resolve: (v) => resolve(v as PreparedDocument), reject, done: false, wall: null });
      this.pump();
    });
  }

  /** Settles a task once (its child, its wall-clock limit, a lost child and close may all try). */
  private settle(task: Task, outcome: { value: unknown } | { error: unknown }): void {
    if (task.done) return;
    task.done = true;
    if (task.wall) clearTimeout(task.wall);
    task.wall = null;
    if ("value" in outcome) task.resolve(outcome.value);
    else task.reject(outcome.error);
  }

  /** A file past its wall-clock limit: it fails, and the child holding it (if any) is killed. */
  private stalled(task: Task, wallMs: number): void {
    if (task.done) return;
    const holder = this.children.find((c) => c.task === task);
    const where = holder ? (holder.ocrInFlight > 0 ? "waiting for OCR" : "extracting") : "no longer held by an extraction process";
    const err = new IngestError("extract_stalled", `the file was not extracted within ${Math.round(wallMs / 1000)} s (KB_EXTRACT_WALL_S; it was ${where}); the file was not ingested`);
    this.options.log?.("extraction stalled", { source: task.source, where, children: this.children.length, queued: this.queue.length });
    const i = this.queue.indexOf(task);
    if (i >= 0) this.queue.splice(i, 1);
    this.settle(task, { error: err });
    if (holder) {
      const dead = holder.proc.pid === undefined || holder.proc.exitCode !== null || holder.proc.signalCode !== null;
      if (dead) this.onExit(holder, holder.proc.exitCode, holder.proc.signalCode); // no exit event will come: free its place
      else this.kill(holder, err); // its exit finds the task settled already
    }
  }

  private pump(): void {
    // Ranges whose file has ended (its child finished, failed or was killed) are dropped.
    for (const t of this.queue.filter((t) => t.owner?.task.done)) {
      this.queue.splice(this.queue.indexOf(t), 1);
      this.settle(t, { error: new RangeWithdrawn("the file ended") });
    }
    while (this.queue.length && !this.closed) {
      const ready = this.children.find((c) => c.ready && c.task === null && !c.killedFor);
      if (ready) {
        ready.task = this.queue.shift()!;
        this.send(ready);
        continue;
      }
      // A child still starting takes its task when it is ready; page ranges wait for a ready child
      // (a start takes longer than the child that asked needs to read its own half).
      const file = this.queue.findIndex((t) => t.kind === "file");
      if (file < 0) return;
      let starting = this.children.find((c) => !c.ready && c.task === null && !c.killedFor) ?? null;
      if (!starting && this.children.length < this.options.size) {
        try {
          starting = this.spawn();
        } catch (err) {
          // fork threw (ENOMEM and the like): the children still alive take the queue; with none
          // left, the next file fails now (each later one tries a fresh process again).
          this.options.log?.("could not start an extraction process", { err: String(err) });
          if (this.children.length > 0) return;
          this.settle(this.queue.splice(file, 1)[0]!, { error: new IngestError("extract_crashed", `could not start an extraction process: ${(err as Error).message}`) });
          continue;
        }
      }
      if (!starting) return;
      starting.task = this.queue.splice(file, 1)[0]!;
    }
  }

  private send(child: Child): void {
    const t = child.task!;
    if (child.idleTimer) clearTimeout(child.idleTimer);
    child.idleTimer = null;
    child.spentMs = 0;
    child.ocrInFlight = 0;
    child.ocrAbort = new AbortController();
    child.proc.ref();
    child.proc.channel?.ref();
    if (!t.wall) {
      const wallMs = this.options.wallMs ?? 10 * this.options.timeoutMs;
      t.wall = setTimeout(() => this.stalled(t, wallMs), wallMs);
      t.wall.unref();
    }
    try {
      if (t.kind === "pages") child.proc.send({ type: "pages-task", id: t.id, bytes: t.bytes, password: t.password, first: t.range!.first, last: t.range!.last });
      // `helpers`: a sibling may read part of a long PDF (see the top of this file).
      else child.proc.send({ type: "task", id: t.id, source: t.source, bytes: t.bytes, title: t.title, password: t.password, limits: this.options.limits ?? {}, helpers: this.options.size > 1 });
    } catch (err) {
      // The child died after saying it was ready: its exit fails the task.
      this.kill(child, new IngestError("extract_crashed", `the extraction process could not take the file: ${(err as Error).message}`));
      return;
    }
    this.resumeClock(child);
  }

  private spawn(): Child {
    const heap = Math.max(16, Math.floor(this.options.heapMb));
    // The child's configuration is this process's, handed over explicitly (it reads no environment).
    const proc = fork(BOOT, [ENTRY, JSON.stringify(extractionSettings())], {
      ...(this.options.execPath ? { execPath: this.options.execPath } : {}),
      // A larger young generation: parsers allocate many short-lived objects, and fewer
      // scavenges cut extraction CPU (measured 10–20% on the text PDFs of bench:ingest).
      execArgv: [`--max-old-space-size=${heap}`, `--max-semi-space-size=${SEMI_SPACE_MB}`],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.stats.started++;
    const child: Child = {
      proc,
      ready: false,
      task: null,
      killedFor: null,
      idleTimer: null,
      startTimer: null,
      spentMs: 0,
      runningSince: null,
      deadline: null,
      ocrInFlight: 0,
      ocrAbort: new AbortController(),
      reportedRss: 0,
      stderrTail: "",
      gone: false,
    };
    proc.stdout?.resume();
    proc.stderr?.on("data", (d: Buffer) => (child.stderrTail = (child.stderrTail + d.toString("utf8")).slice(-2000)));
    child.startTimer = setTimeout(() => this.kill(child, new IngestError("extract_crashed", `the extraction process did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    child.startTimer.unref();
    proc.on("message", (m: FromChild) => this.onMessage(child, m));
    proc.on("error", (err) => {
      const why = new IngestError("extract_crashed", `the extraction process failed: ${err.message}`);
      // A process that never started (spawn ENOENT, EAGAIN, EMFILE…) emits `error` and `close`
      // but never `exit`: it is gone now, and its file fails with the reason.
      if (proc.pid === undefined) {
        child.killedFor ??= why;
        this.onExit(child, null, null);
      } else this.kill(child, why);
    });
    proc.on("exit", (code, signal) => this.onExit(child, code, signal));
    // `close` follows `exit` (or a failed start); whichever comes first settles the child's file.
    proc.on("close", (code, signal) => this.onExit(child, code, signal));
    this.children.push(child);
    return child;
  }

  private onMessage(child: Child, m: FromChild): void {
    switch (m.type) {
      case "ready":
        child.ready = true;
        if (child.startTimer) clearTimeout(child.startTimer);
        if (child.task) this.send(child);
        else this.idle(child);
        this.pump();
        return;
      case "rss":
        child.reportedRss = m.rss;
        return;
      case "ocr":
        void this.ocr(child, m.rid, m.bytes, m.options);
        return;
      case "describe":
        void this.describe(child, m.rid, m.bytes);
        return;
      case "pages":
        this.readPagesFor(child, m.rid, { bytes: m.bytes, password: m.password }, m.first, m.last);
        return;
      case "pages-reclaim": {
        // Not started by any child yet: the asking child reads the range itself.
        const i = this.queue.findIndex((t) => t.owner?.child === child && t.owner.rid === m.rid);
        if (i >= 0) {
          this.settle(this.queue.splice(i, 1)[0]!, { error: new RangeWithdrawn("taken back") });
          this.stats.pageRangesReclaimed++;
        }
        this.reply(child, child.task, { type: "pages-reclaimed", rid: m.rid, reclaimed: i >= 0 });
        return;
      }
      case "result":
      case "pages-done":
      case "error": {
        const t = child.task;
        if (!t || t.id !== m.id) return;
        this.stopClock(child);
        child.task = null;
        child.ocrAbort.abort();
        if (m.type === "result") this.settle(t, { value: m.prepared });
        else if (m.type === "pages-done") this.settle(t, { value: m.pages });
        else this.settle(t, { error: m.code ? new IngestError(m.code, m.message) : new Error(m.message) });
        const rss = this.rssOf(child);
        if (rss !== null && rss > this.options.maxRssBytes * RECYCLE_SHARE) this.retire(child);
        else this.idle(child);
        this.pump();
        return;
      }
    }
  }

  /**
   * A range of pages of a PDF `child` is extracting (its file, or a PDF inside it, whose bytes the
   * child sent), queued first for the next free child.
   */
  private readPagesFor(child: Child, rid: number, pdf: { bytes: Uint8Array; password?: string }, first: number, last: number): void {
    const file = child.task;
    if (!file || file.kind !== "file") return;
    this.stats.pageRanges++;
    this.queue.unshift({
      id: this.nextId++,
      kind: "pages",
      source: file.source,
      bytes: pdf.bytes,
      password: pdf.password,
      range: { first, last },
      owner: { child, rid, task: file },
      resolve: (pages) => this.reply(child, file, { type: "pages-result", rid, pages }),
      reject: (err) => {
        if (!(err instanceof RangeWithdrawn)) this.stats.pageRangesFailed++;
        this.reply(child, file, { type: "pages-error", rid, message: err instanceof Error ? err.message : String(err) });
      },
      done: false,
      wall: null,
    });
    // No child free or starting, and room for one: start it (a start costs less than reading half
    // of a long PDF); it takes the range when ready if the asking child has not taken it back.
    const free = this.children.some((c) => c.task === null && !c.killedFor);
    if (!free && this.children.length < this.options.size && !this.closed) {
      try {
        this.spawn();
      } catch {
        /* the asking child reads the range itself */
      }
    }
    this.pump();
  }

  /** A message to a child about its file, dropped when that file has ended or the child is gone. */
  private reply(child: Child, file: Task | null, message: Record<string, unknown>): void {
    if (!file || child.task !== file || child.gone || !child.proc.connected) return;
    try {
      child.proc.send(message);
    } catch {
      /* the child is gone; its exit settles the file */
    }
  }

  /** One OCR page for a child, on this process's shared engine. */
  private async ocr(child: Child, rid: number, bytes: Uint8Array, options: Omit<RecognizeOptions, "signal">): Promise<void> {
    const signal = child.ocrAbort.signal;
    if (++child.ocrInFlight === 1) this.pauseClock(child);
    let reply: Record<string, unknown>;
    try {
      const engine = this.options.ocr ? await this.options.ocr() : (await import("../../../ingest/ocr/engine.ts")).getOcrEngine();
      const page = await engine.recognizeImage(bytes, { ...options, signal });
      this.stats.ocrPages++;
      reply = { type: "ocr-result", rid, page };
    } catch (err) {
      reply = { type: "ocr-error", rid, code: err instanceof IngestError ? err.code : "ocr_failed", message: err instanceof Error ? err.message : String(err) };
    }
    if (signal.aborted || !child.proc.connected) return; // the child's file ended (or the child died)
    if (--child.ocrInFlight === 0) this.resumeClock(child);
    try {
      child.proc.send(reply);
    } catch {
      /* the child is gone; its exit settles the file */
    }
  }

  /**
   * One picture description for a child, by this process's describer (KB_IMAGE_MODEL: the model
   * is loaded once, here). Its time does not count against the file's limit, like OCR's: each
   * description has its own (KB_IMAGE_TIMEOUT_S).
   */
  private async describe(child: Child, rid: number, bytes: Uint8Array): Promise<void> {
    const signal = child.ocrAbort.signal;
    if (++child.ocrInFlight === 1) this.pauseClock(child);
    let text: string | null = null;
    try {
      const describer = getImageDescriber();
      text = describer ? await describer.describe(bytes, { signal }) : null;
    } catch {
      text = null; // aborted: the file ended
    }
    if (signal.aborted || !child.proc.connected) return;
    if (--child.ocrInFlight === 0) this.resumeClock(child);
    try {
      child.proc.send({ type: "describe-result", rid, text });
    } catch {
      /* the child is gone; its exit settles the file */
    }
  }

  private resumeClock(child: Child): void {
    if (!child.task || child.runningSince !== null) return;
    child.runningSince = Date.now();
    const left = Math.max(0, this.options.timeoutMs - child.spentMs);
    child.deadline = setTimeout(() => {
      this.stats.killedTimeout++;
      this.kill(child, new IngestError("extract_timeout", `extraction took longer than ${Math.round(this.options.timeoutMs / 1000)} s (KB_EXTRACT_TIMEOUT_S); the file was not ingested`));
    }, left);
    child.deadline.unref();
  }

  private pauseClock(child: Child): void {
    if (child.runningSince === null) return;
    child.spentMs += Date.now() - child.runningSince;
    child.runningSince = null;
    if (child.deadline) clearTimeout(child.deadline);
    child.deadline = null;
  }

  private stopClock(child: Child): void {
    this.pauseClock(child);
    child.spentMs = 0;
  }

  private rssOf(child: Child): number | null {
    const rss = child.proc.pid ? procRss(child.proc.pid) : null;
    return rss ?? (child.reportedRss || null);
  }

  /** The RSS watchdog: a busy child over the cap is killed (a sync parse loop cannot stop itself). */
  private watch(): void {
    for (const child of this.children) {
      if (!child.task || child.killedFor) continue;
      const rss = this.rssOf(child);
      if (rss === null) continue;
      if (rss > this.stats.peakChildRss) this.stats.peakChildRss = rss;
      if (rss > this.options.maxRssBytes) {
        this.stats.killedMemory++;
        const mb = (n: number) => Math.round(n / (1024 * 1024));
        this.kill(child, new IngestError("extract_memory", `extraction used ${mb(rss)} MiB of memory, over the limit of ${mb(this.options.maxRssBytes)} MiB (KB_EXTRACT_MAX_RSS_MB); the file was not ingested`));
      }
    }
  }

  private kill(child: Child, why: IngestError): void {
    if (child.killedFor) return;
    child.killedFor = why;
    child.ocrAbort.abort();
    child.proc.kill("SIGKILL");
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (child.gone) return;
    child.gone = true;
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    this.clearTimers(child);
    child.ocrAbort.abort();
    const t = child.task;
    child.task = null;
    if (t) {
      let err = child.killedFor;
      if (!err) {
        // V8 aborts a process whose heap reached --max-old-space-size ("Reached heap limit").
        const heapOut = /heap limit|out of memory/i.test(child.stderrTail);
        if (heapOut) this.stats.killedMemory++;
        else this.stats.crashed++;
        err = heapOut
          ? new IngestError("extract_memory", `extraction ran out of memory (heap limit ${this.options.heapMb} MiB); the file was not ingested`)
          : new IngestError("extract_crashed", `the extraction process exited (${signal ?? `code ${code}`}) while reading this file`);
        this.options.log?.("extraction process died", { source: t.source, code, signal, stderr: child.stderrTail.slice(-500) });
      }
      this.settle(t, { error: err });
    }
    this.pump();
  }

  private idle(child: Child): void {
    child.proc.unref();
    child.proc.channel?.unref();
    if (child.idleTimer) clearTimeout(child.idleTimer);
    child.idleTimer = setTimeout(() => this.retire(child), IDLE_MS);
    child.idleTimer.unref();
  }

  private clearTimers(child: Child): void {
    for (const t of [child.idleTimer, child.startTimer, child.deadline]) if (t) clearTimeout(t);
    child.idleTimer = child.startTimer = child.deadline = null;
  }

  /** Stops an idle child (its task, if any, was settled already). */
  private retire(child: Child): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    this.clearTimers(child);
    if (child.proc.connected) child.proc.disconnect(); // the child exits when its channel closes
    const hard = setTimeout(() => child.proc.kill("SIGKILL"), 5000);
    hard.unref();
    child.proc.once("exit", () => clearTimeout(hard));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const t of this.queue.splice(0)) this.settle(t, { error: new Error("extraction pool closed") });
    // `close` also comes for a process that never started (no `exit` then).
    const exits = this.children.map((c) => new Promise<void>((res) => (c.gone || c.proc.exitCode !== null || c.proc.signalCode !== null ? res() : (c.proc.once("exit", () => res()), c.proc.once("close", () => res())))));
    for (const c of [...this.children]) {
      if (c.task) {
        const t = c.task;
        c.task = null;
        this.settle(t, { error: new Error("extraction pool closed") });
      }
      c.killedFor ??= new IngestError("aborted", "extraction pool closed");
      this.clearTimers(c);
      c.proc.ref(); // an idle child is unref'd: its exit must still keep this process waiting for it
      c.proc.kill("SIGKILL");
    }
    this.children.length = 0;
    await Promise.all(exits);
  }
}

/** A page range no longer wanted (taken back, or its file ended): not a failure. */
class RangeWithdrawn extends Error {}

function describeTask(t: Task): string {
  return t.kind === "pages" ? `${t.source} (pages ${t.range!.first}–${t.range!.last}, for another process)` : t.source;
}
