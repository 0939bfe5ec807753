/**
 * npx tsx bench/llm-raw.ts [model.gguf] [maxTokens] [threads…] — raw node-llama-cpp
 * generation speed of a GGUF model on this machine: prompt → greedy tokens straight from a context
 * sequence (no chat template, no queue), end-of-generation tokens suppressed so every run makes
 * exactly `maxTokens` tokens. Reports time to first token (prompt evaluation + first token) and
 * decode tokens/s (tokens after the first, over the time after the first), median of `runs`,
 * plus the same request through the provider's chat path (src/models/llm.ts) for comparison.
 *
 * Default model: $KB_TEST_GGUF or ../shared/models/stories260K/stories260K.gguf.
 * `threads` defaults to os.availableParallelism(); pass several ("1 2") to compare.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadLlm } from "../src/models/llm.ts";

export interface RawGenerationOptions {
  threads?: number;
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /** Measured runs (after one warm-up run); the median is reported. Default 3. */
  runs?: number;
  contextSize?: number;
}

export interface RawGenerationResult {
  model: string;
  backend: string;
  threads: number;
  promptTokens: number;
  generatedTokens: number;
  /** Prompt evaluation + first generated token, ms (median). */
  timeToFirstTokenMs: number;
  /** Tokens after the first / time after the first (median). */
  tokensPerSecond: number;
  /** Whole run, ms (median). */
  totalMs: number;
  runs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Raw generation speed of `modelPath` for `prompt` (see the file comment). */
export async function measureRawGeneration(modelPath: string, prompt: string, maxTokens: number, options: RawGenerationOptions = {}): Promise<RawGenerationResult> {
  const { getLlama, LlamaLogLevel, TokenBias } = await import("node-llama-cpp");
  const threads = options.threads ?? os.availableParallelism();
  const llama = await getLlama({
    gpu: options.gpu ?? "auto",
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    maxThreads: threads,
    logLevel: LlamaLogLevel.error,
  });
  try {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: Math.min(options.contextSize ?? 2048, model.trainContextSize), threads });
    const sequence = context.getSequence();
    const input = model.tokenize(prompt, false);
    const bias = new TokenBias(model.tokenizer);
    for (const t of [model.tokens.eos, model.tokens.eot]) if (t != null) bias.set(t, "never");
    const limit = Math.max(1, Math.min(maxTokens, context.contextSize - input.length - 1));

    const runs = Math.max(1, options.runs ?? 3);
    const ttft: number[] = [];
    const tps: number[] = [];
    const totals: number[] = [];
    let generated = 0;
    for (let r = 0; r <= runs; r++) {
      await sequence.clearHistory();
      const t0 = performance.now();
      let first = 0;
      let n = 0;
      for await (const _token of sequence.evaluate(input, { temperature: 0, tokenBias: bias })) {
        if (n === 0) first = performance.now() - t0;
        n++;
        if (n >= limit) break;
      }
      const total = performance.now() - t0;
      if (r === 0) continue; // warm-up
      generated = n;
      ttft.push(first);
      totals.push(total);
      tps.push(n > 1 ? ((n - 1) * 1000) / (total - first) : 0);
    }
    return {
      model: path.basename(modelPath),
      backend: llama.gpu === false ? "cpu" : llama.gpu,
      threads: context.idealThreads,
      promptTokens: input.length,
      generatedTokens: generated,
      timeToFirstTokenMs: median(ttft),
      tokensPerSecond: median(tps),
      totalMs: median(totals),
      runs,
    };
  } finally {
    await llama.dispose();
  }
}

/** The same request through the provider (chat template, queue, streaming callback). */
export async function measureProviderGeneration(modelPath: string, prompt: string, maxTokens: number, threads?: number) {
  const llm = await loadLlm({ modelPath, gpu: "auto", gpuLayers: "auto", contextSize: 2048, ...(threads ? { threads } : {}), logger: { info() {}, warn: (m) => console.warn(m) } });
  try {
    await llm.generate({ messages: [{ role: "user", content: prompt }], maxTokens: 8, ignoreEos: true }); // warm-up
    const res = await llm.generate({ messages: [{ role: "user", content: prompt }], maxTokens, ignoreEos: true });
    const decodeMs = res.durationMs - (res.timeToFirstTokenMs ?? 0);
    return {
      threads: llm.info().threads,
      chatWrapper: llm.info().chatWrapper,
      tokens: res.tokens,
      timeToFirstTokenMs: res.timeToFirstTokenMs ?? NaN,
      tokensPerSecond: res.tokens > 1 ? ((res.tokens - 1) * 1000) / decodeMs : 0,
      totalMs: res.durationMs,
    };
  } finally {
    await llm.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const modelPath = path.resolve(process.argv[2] || process.env.KB_TEST_GGUF || "../shared/models/stories260K/stories260K.gguf");
  const maxTokens = Number.parseInt(process.argv[3] ?? "128", 10);
  const threadList = process.argv.slice(4).map((t) => Number.parseInt(t, 10)).filter((t) => t > 0);
  if (!fs.existsSync(modelPath)) {
    console.error(`model not found: ${modelPath}`);
    process.exit(1);
  }
  const prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";
  console.log(`cpu: ${os.cpus()[0]?.model ?? "?"} × ${os.availableParallelism()}, load avg ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  for (const threads of threadList.length ? threadList : [os.availableParallelism()]) {
    const raw = await measureRawGeneration(modelPath, prompt, maxTokens, { threads });
    console.log(
      `raw      ${raw.model} ${raw.backend} threads=${raw.threads}: prompt ${raw.promptTokens} tok, ${raw.generatedTokens} generated, ` +
        `TTFT ${raw.timeToFirstTokenMs.toFixed(1)} ms, ${raw.tokensPerSecond.toFixed(0)} tok/s, total ${raw.totalMs.toFixed(0)} ms (median of ${raw.runs})`,
    );
    const chat = await measureProviderGeneration(modelPath, prompt, maxTokens, threads);
    console.log(
      `provider ${chat.chatWrapper} threads=${chat.threads}: ${chat.tokens} generated, TTFT ${chat.timeToFirstTokenMs.toFixed(1)} ms, ` +
        `${chat.tokensPerSecond.toFixed(0)} tok/s, total ${chat.totalMs.toFixed(0)} ms`,
    );
  }
}
