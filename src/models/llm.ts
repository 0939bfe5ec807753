/**
 * Local LLM provider on top of node-llama-cpp (llama.cpp bindings), for the "llm" answer mode.
 *
 * Never builds, never downloads: `getLlama` runs with `build: "never"`, `skipDownload: true` and
 * `usePrebuiltBinaries: true`, so only the prebuilt binaries shipped in node_modules
 * (@node-llama-cpp/linux-x64, -cuda, -vulkan, mac-arm64-metal …) or an existing local build can be
 * used; a machine with none that fits fails with NoBinaryFoundError instead of compiling
 * llama.cpp or fetching anything. The model is a GGUF file on disk.
 *
 * GPU: "auto" lets node-llama-cpp try CUDA, then Vulkan, then CPU (Metal on Apple Silicon),
 * testing each binary before use. When the auto-picked GPU backend then fails to load the model or
 * create the context (driver trouble, not enough VRAM), we retry on the CPU and say so in
 * `info().gpuFallback` and the log. An explicitly named GPU ("cuda", "vulkan", "metal") that fails
 * is an error, never a silent CPU fallback.
 *
 * Threads: node-llama-cpp's default on a CPU build is max(4, cpuMathCores) for the Llama
 * instance, and a context's threads default to that: 4 threads on a 2-core machine, where the
 * llama.cpp worker threads spin-wait on each other and generation runs tens of times slower.
 * We cap the Llama instance (`maxThreads`) and set the context's `threads` explicitly to
 * `os.availableParallelism()` unless told otherwise. (The context value is a hint clamped to
 * maxThreads and shared out by node-llama-cpp's ThreadsSplitter between contexts that evaluate at
 * the same time; we only ever create one context per model.)
 *
 * Concurrency: one context with `sequences` context sequences; each sequence is a slot that runs
 * one generation at a time. Requests beyond the free slots wait in a FIFO queue of at most
 * `maxQueue`; beyond that `generate` rejects with LlmBusyError (→ 429 + Retry-After). Each request
 * has a timeout (queue wait + generation) after which it rejects with LlmTimeoutError; the
 * caller's AbortSignal stops generation between tokens (well under a second) and resolves with
 * `stopReason: "abort"` and the text so far.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaChat, LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
export { LlmBusyError, LlmClosedError, LlmTimeoutError, LlmUpstreamError } from "./llm-errors.ts";
import { LlmBusyError, LlmClosedError, LlmTimeoutError } from "./llm-errors.ts";
import { requestControl, waitInLine, type Waiter } from "./request-control.ts";

export type LlmGpu = "auto" | "cuda" | "vulkan" | "metal" | false;
/** "remote": an OpenAI-compatible server on the network (src/models/remote-llm.ts). */
export type LlmBackend = "cuda" | "vulkan" | "metal" | "cpu" | "remote";

export interface LoadLlmOptions {
  /** Absolute path of the GGUF file. */
  modelPath: string;
  gpu: LlmGpu;
  /** Layers to offload to the GPU ("auto": as many as fit next to the context; ignored on CPU). */
  gpuLayers: "auto" | "max" | number;
  /** CPU threads for evaluation (default: os.availableParallelism()). */
  threads?: number;
  /** Tokens per sequence (default 4096, capped at the model's training context). */
  contextSize?: number;
  /** Tokens decoded per batch (default: node-llama-cpp's, 512 or contextSize when smaller). */
  batchSize?: number;
  /** Parallel generations (context sequences), default 1. */
  sequences?: number;
  /** Requests allowed to wait for a free sequence, default 8. */
  maxQueue?: number;
  /** Per-request limit in ms, queue wait included (default 120000). */
  timeoutMs?: number;
  /** Where warnings (GPU fallback, llama.cpp errors) go; pino loggers fit. Default: console. */
  logger?: { info(msg: string): void; warn(msg: string): void };
  /**
   * Debug/audit hook: sees the messages of every request that reaches the model (answers and
   * follow-up rewrites alike), before it waits for a slot. Tests use it to prove what a prompt
   * contained; it must not throw or block.
   */
  onGenerate?: (messages: readonly LlmMessage[]) => void;
}

export interface LlmInfo {
  /** GGUF file name (local), or the model name on the server (remote). */
  model: string;
  backend: LlmBackend;
  /** The model server's host[:port] (remote only). */
  host?: string;
  /** Local only. */
  gpuLayers?: number;
  totalLayers?: number;
  contextSize: number;
  /** Local only. */
  threads?: number;
  /** Generations at once (local: context sequences; remote: KB_LLM_MAX_CONCURRENT). */
  sequences: number;
  maxQueue: number;
  /** The chat template in use (e.g. "JinjaTemplate", "Llama3_1", "General" when the model has none); local only (a server applies its own). */
  chatWrapper?: string;
  /** Set when gpu "auto" found a GPU backend that failed and we run on the CPU instead. */
  gpuFallback?: string;
}

export interface LlmMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface GenerateRequest {
  messages: LlmMessage[];
  maxTokens: number;
  /** 0 = greedy (default). */
  temperature?: number;
  signal?: AbortSignal;
  /** Called with each piece of generated text as it arrives. */
  onToken?: (text: string) => void;
  /** Overrides the provider's per-request timeout. */
  timeoutMs?: number;
  /** Never stop at end-of-generation tokens (benchmarks and tests that need a fixed length). */
  ignoreEos?: boolean;
}

export type StopReason = "eos" | "maxTokens" | "stop" | "abort";

export interface GenerateResult {
  text: string;
  /** Generated tokens. */
  tokens: number;
  stopReason: StopReason;
  /** Time from the request to the first generated text (queue wait + prompt evaluation), if any. */
  timeToFirstTokenMs?: number;
  /** Time from the request to the end. */
  durationMs: number;
}

export interface LlmQueueStats {
  active: number;
  queued: number;
  sequences: number;
  maxQueue: number;
}

export interface LlmProvider {
  info(): LlmInfo;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Tokens of a text in this model's vocabulary (for prompt budgeting). */
  countTokens(text: string): number;
  stats(): LlmQueueStats;
  /** Throws LlmBusyError when a request made now would be rejected (check before streaming starts). */
  assertCapacity(): void;
  close(): Promise<void>;
}

const DEFAULT_CONTEXT = 4096;
const DEFAULT_QUEUE = 8;
const DEFAULT_TIMEOUT_MS = 120_000;

function backendOf(gpu: Llama["gpu"]): LlmBackend {
  return gpu === false ? "cpu" : gpu;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
}

interface Slot {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
  busy: boolean;
}


/**
 * Loads the GGUF model and returns a provider. Throws when the file is missing, no usable binary
 * exists, or an explicitly requested GPU backend fails.
 */
export async function loadLlm(opts: LoadLlmOptions): Promise<LlmProvider> {
  if (!fs.existsSync(opts.modelPath)) throw new Error(`LLM model file not found: ${opts.modelPath}`);
  const nlc = await import("node-llama-cpp");
  const log = opts.logger ?? { info: (m: string) => console.info(m), warn: (m: string) => console.warn(m) };
  const threads = Math.max(1, Math.floor(opts.threads ?? os.availableParallelism()));
  const sequences = Math.max(1, Math.floor(opts.sequences ?? 1));
  const maxQueue = Math.max(0, Math.floor(opts.maxQueue ?? DEFAULT_QUEUE));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function attempt(gpu: LlmGpu): Promise<Loaded> {
    const llama = await nlc.getLlama({
      gpu,
      build: "never", // use a prebuilt (or existing local) binary; never compile
      usePrebuiltBinaries: true,
      skipDownload: true, // never fetch llama.cpp sources
      progressLogs: false,
      maxThreads: threads,
      logLevel: nlc.LlamaLogLevel.error,
      logger: (level, message) => {
        const m = message.trim();
        if (m) log.warn(`llama.cpp ${level}: ${m}`);
      },
    });
    try {
      const model = await llama.loadModel({
        modelPath: opts.modelPath,
        gpuLayers: resolveGpuLayers(opts.gpuLayers, opts.contextSize ?? DEFAULT_CONTEXT, sequences),
      });
      try {
        const contextSize = Math.min(opts.contextSize ?? DEFAULT_CONTEXT, model.trainContextSize || Infinity);
        const context = await model.createContext({
          contextSize,
          sequences,
          threads,
          ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
        });
        return { llama, model, context };
      } catch (err) {
        await model.dispose();
        throw err;
      }
    } catch (err) {
      await llama.dispose();
      throw err;
    }
  }

  let loaded: Loaded;
  let gpuFallback: string | undefined;
  try {
    loaded = await attempt(opts.gpu);
  } catch (err) {
    if (opts.gpu !== "auto") throw err;
    // Only a GPU backend can fail here in a way the CPU would not (the model file is the same).
    gpuFallback = `GPU backend failed (${(err as Error).message}); running on the CPU`;
    log.warn(`LLM: ${gpuFallback}`);
    loaded = await attempt(false);
  }
  const { llama, model, context } = loaded;
  if (opts.gpu === "auto" && llama.gpu === false && !gpuFallback) {
    gpuFallback = "no usable GPU backend found (CUDA/Vulkan/Metal); running on the CPU";
    log.info(`LLM: ${gpuFallback}`);
  }

  let chatWrapper: ChatWrapper;
  try {
    chatWrapper = nlc.resolveChatWrapper(model, { warningLogs: false, fallbackToOtherWrappersOnJinjaError: true });
  } catch {
    chatWrapper = new nlc.GeneralChatWrapper();
  }

  const slots: Slot[] = [];
  for (let i = 0; i < sequences; i++) {
    const sequence = context.getSequence();
    slots.push({ sequence, chat: new nlc.LlamaChat({ contextSequence: sequence, chatWrapper }), busy: false });
  }

  const info: LlmInfo = {
    model: path.basename(opts.modelPath),
    backend: backendOf(llama.gpu),
    gpuLayers: model.gpuLayers,
    totalLayers: model.fileInsights.totalLayers,
    contextSize: context.contextSize,
    threads: context.idealThreads,
    sequences,
    maxQueue,
    chatWrapper: chatWrapper.wrapperName,
    ...(gpuFallback ? { gpuFallback } : {}),
  };

  const queue: Waiter<Slot>[] = [];
  let closed = false;
  /** Per-request abort controllers, aborted on close(). */
  const controllers = new Set<AbortController>();
  const running = new Set<Promise<unknown>>();
  // Running average of request durations, for Retry-After.
  let avgDurationMs = 5_000;

  function freeSlot(): Slot | undefined {
    return slots.find((s) => !s.busy);
  }

  function retryAfterSeconds(): number {
    const rounds = Math.ceil((queue.length + 1) / sequences);
    return Math.min(120, Math.max(1, Math.ceil((rounds * avgDurationMs) / 1000)));
  }

  function assertCapacity(): void {
    if (closed) throw new LlmClosedError();
    if (!freeSlot() && queue.length >= maxQueue) throw new LlmBusyError(retryAfterSeconds());
  }

  function release(slot: Slot): void {
    slot.busy = false;
    const next = queue.shift();
    if (next) {
      slot.busy = true;
      next.grant(slot);
    }
  }

  async function generate(req: GenerateRequest): Promise<GenerateResult> {
    assertCapacity();
    opts.onGenerate?.(req.messages);
    const started = performance.now();
    const control = requestControl(req, timeoutMs, controllers);
    const { signal, limitMs } = control;
    const aborted = (): GenerateResult => ({ text: "", tokens: 0, stopReason: "abort", durationMs: performance.now() - started });

    try {
      if (signal.aborted) {
        if (control.timedOut()) throw new LlmTimeoutError(limitMs);
        if (closed) throw new LlmClosedError();
        return aborted();
      }
      // Take a free slot or wait in line.
      let slot = freeSlot();
      if (slot) slot.busy = true;
      else {
        slot = (await waitInLine(queue, control)) ?? undefined;
        if (!slot) return aborted();
      }

      const p = run(slot, req, signal, started, control.timedOut, limitMs);
      running.add(p);
      try {
        return await p;
      } finally {
        running.delete(p);
        release(slot);
      }
    } finally {
      control.dispose();
    }
  }

  async function run(
    slot: Slot,
    req: GenerateRequest,
    signal: AbortSignal,
    started: number,
    isTimedOut: () => boolean,
    limitMs: number,
  ): Promise<GenerateResult> {
    if (closed) throw new LlmClosedError();
    let text = "";
    let tokens = 0;
    let firstAt: number | undefined;
    const history = toChatHistory(req.messages);
    const tokenBias = req.ignoreEos ? eosBias() : undefined;
    try {
      const res = await slot.chat.generateResponse(history, {
        maxTokens: Math.max(1, Math.floor(req.maxTokens)),
        temperature: req.temperature ?? 0,
        signal,
        stopOnAbortSignal: true,
        ...(tokenBias ? { tokenBias } : {}),
        onToken: (t) => {
          tokens += t.length;
        },
        onTextChunk: (chunk) => {
          if (!chunk) return;
          firstAt ??= performance.now() - started;
          text += chunk;
          req.onToken?.(chunk);
        },
      });
      const durationMs = performance.now() - started;
      avgDurationMs = avgDurationMs * 0.8 + durationMs * 0.2;
      if (isTimedOut()) throw new LlmTimeoutError(limitMs, res.response);
      if (closed && res.metadata.stopReason === "abort") throw new LlmClosedError();
      return {
        text: res.response,
        tokens,
        stopReason: mapStopReason(res.metadata.stopReason),
        ...(firstAt !== undefined ? { timeToFirstTokenMs: firstAt } : {}),
        durationMs,
      };
    } catch (err) {
      // Aborted before the first token (node-llama-cpp throws signal.reason), or a real failure.
      // Either way the sequence state may be half-written: start the next request clean.
      await slot.sequence.clearHistory().catch(() => {});
      if (isTimedOut()) throw new LlmTimeoutError(limitMs, text);
      if (closed) throw new LlmClosedError();
      if (req.signal?.aborted) {
        return { text, tokens, stopReason: "abort", durationMs: performance.now() - started };
      }
      throw err;
    }
  }

  let eosBiasCache: InstanceType<typeof nlc.TokenBias> | undefined;
  function eosBias(): InstanceType<typeof nlc.TokenBias> {
    if (!eosBiasCache) {
      const bias = new nlc.TokenBias(model.tokenizer);
      for (const t of [model.tokens.eos, model.tokens.eot]) if (t != null) bias.set(t, "never");
      eosBiasCache = bias;
    }
    return eosBiasCache;
  }

  return {
    info: () => ({ ...info }),
    generate,
    countTokens: (text: string) => (text ? model.tokenize(text).length : 0),
    stats: () => ({ active: slots.filter((s) => s.busy).length, queued: queue.length, sequences, maxQueue }),
    assertCapacity,
    async close() {
      if (closed) return;
      closed = true;
      for (const w of queue.splice(0)) w.cancel(new LlmClosedError());
      for (const c of controllers) c.abort(new LlmClosedError());
      await Promise.allSettled([...running]);
      for (const s of slots) s.chat.dispose();
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

function resolveGpuLayers(gpuLayers: LoadLlmOptions["gpuLayers"], contextSize: number, sequences: number) {
  // "auto": offload as many layers as fit while leaving room for the context we will create.
  if (gpuLayers === "auto") return { fitContext: { contextSize: contextSize * sequences } };
  return gpuLayers;
}

function mapStopReason(r: string): StopReason {
  switch (r) {
    case "eogToken":
      return "eos";
    case "maxTokens":
      return "maxTokens";
    case "abort":
      return "abort";
    default:
      return "stop"; // stopGenerationTrigger, customStopTrigger, functionCalls
  }
}

/** Chat messages → node-llama-cpp history ending with an empty model turn to be generated. */
export function toChatHistory(messages: LlmMessage[]): ChatHistoryItem[] {
  const out: ChatHistoryItem[] = messages.map((m): ChatHistoryItem =>
    m.role === "system" ? { type: "system", text: m.content } : m.role === "user" ? { type: "user", text: m.content } : { type: "model", response: [m.content] },
  );
  out.push({ type: "model", response: [] });
  return out;
}
