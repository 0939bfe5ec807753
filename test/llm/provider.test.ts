/**
 * The node-llama-cpp provider against the real tiny GGUF (stories260K). Asserts behaviour, not
 * the babble. Timing-sensitive tests run with 1 thread: on a small, busy CI machine llama.cpp's
 * spin-waiting worker threads make multi-threaded decoding of a tiny model very slow.
 */
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlmBusyError, LlmClosedError, LlmTimeoutError, loadLlm, toChatHistory, type LlmProvider } from "../../src/models/llm.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./fixtures.ts";

if (!HAS_GGUF) console.warn(NO_GGUF_REASON);

const quiet = { info() {}, warn() {} };
const msgs = (content: string) => [
  { role: "system" as const, content: "You tell short stories." },
  { role: "user" as const, content },
];

describe("toChatHistory", () => {
  it("maps roles and ends with an empty model turn", () => {
    expect(
      toChatHistory([
        { role: "system", content: "s" },
        { role: "user", content: "u" },
        { role: "assistant", content: "a" },
        { role: "user", content: "u2" },
      ]),
    ).toEqual([
      { type: "system", text: "s" },
      { type: "user", text: "u" },
      { type: "model", response: ["a"] },
      { type: "user", text: "u2" },
      { type: "model", response: [] },
    ]);
  });
});

describe.skipIf(!HAS_GGUF)("loadLlm (stories260K)", () => {
  let llm: LlmProvider;

  beforeAll(async () => {
    llm = await loadLlm({ modelPath: GGUF, gpu: false, gpuLayers: 0, threads: 1, contextSize: 512, sequences: 1, maxQueue: 1, logger: quiet });
  });
  afterAll(async () => {
    await llm?.close();
  });

  it("reports the CPU backend and its settings", () => {
    expect(llm.info()).toMatchObject({ model: "stories260K.gguf", backend: "cpu", gpuLayers: 0, contextSize: 512, threads: 1, sequences: 1, maxQueue: 1 });
    expect(llm.info().totalLayers).toBeGreaterThan(0);
    expect(llm.info().chatWrapper).toBeTruthy(); // stories260K has no chat template: a fallback wrapper
    expect(llm.info().gpuFallback).toBeUndefined(); // the CPU was asked for
  });

  it("defaults to threads = core count; gpu auto ends on a working backend (the CPU, with a note, when there is no GPU)", async () => {
    const auto = await loadLlm({ modelPath: GGUF, gpu: "auto", gpuLayers: "auto", contextSize: 256, logger: quiet });
    try {
      const info = auto.info();
      expect(info.threads).toBe(os.availableParallelism());
      expect(["cpu", "cuda", "vulkan", "metal"]).toContain(info.backend);
      if (info.backend === "cpu") expect(info.gpuFallback).toMatch(/CPU/);
      else expect(info.gpuLayers).toBeGreaterThan(0);
    } finally {
      await auto.close();
    }
  });

  it("rejects a missing model file", async () => {
    await expect(loadLlm({ modelPath: "/nonexistent/model.gguf", gpu: false, gpuLayers: 0, logger: quiet })).rejects.toThrow(/not found/);
  });

  it("streams tokens through onToken and returns the same text", async () => {
    const pieces: string[] = [];
    const res = await llm.generate({ messages: msgs("Tell me a story about a cat."), maxTokens: 12, onToken: (t) => pieces.push(t) });
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(res.text);
    expect(res.tokens).toBeGreaterThan(0);
    expect(res.tokens).toBeLessThanOrEqual(12);
    expect(["maxTokens", "eos", "stop"]).toContain(res.stopReason);
    expect(res.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
    expect(res.durationMs).toBeGreaterThanOrEqual(res.timeToFirstTokenMs!);
    expect(llm.countTokens("Once upon a time")).toBeGreaterThan(0);
  });

  it("generates exactly maxTokens with ignoreEos", async () => {
    const res = await llm.generate({ messages: msgs("Go."), maxTokens: 20, ignoreEos: true });
    expect(res.tokens).toBe(20);
    expect(res.stopReason).toBe("maxTokens");
  });

  it("stops within a second of the abort and keeps the text so far", async () => {
    const ac = new AbortController();
    let abortedAt = 0;
    let tokensAtAbort = 0;
    let tokens = 0;
    const res = await llm.generate({
      messages: msgs("Tell a very long story."),
      maxTokens: 100_000,
      ignoreEos: true,
      signal: ac.signal,
      onToken: () => {
        tokens++;
        if (tokens === 5) {
          abortedAt = performance.now();
          tokensAtAbort = tokens;
          ac.abort();
        }
      },
    });
    const stopMs = performance.now() - abortedAt;
    expect(res.stopReason).toBe("abort");
    expect(stopMs).toBeLessThan(1000);
    expect(res.tokens).toBeGreaterThanOrEqual(tokensAtAbort);
    expect(res.tokens).toBeLessThan(1000);
    // The slot is free again.
    const after = await llm.generate({ messages: msgs("Hi"), maxTokens: 3 });
    expect(after.tokens).toBeGreaterThan(0);
  });

  it("queues up to maxQueue and rejects beyond it with LlmBusyError + retryAfterSeconds", async () => {
    const ac = new AbortController();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = llm.generate({ messages: msgs("Long."), maxTokens: 100_000, ignoreEos: true, signal: ac.signal, onToken: () => started() });
    await running;
    const queued = llm.generate({ messages: msgs("Queued."), maxTokens: 3, signal: ac.signal });
    expect(llm.stats()).toMatchObject({ active: 1, queued: 1, sequences: 1, maxQueue: 1 });
    expect(() => llm.assertCapacity()).toThrow(LlmBusyError);
    const err = await llm.generate({ messages: msgs("One too many."), maxTokens: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmBusyError);
    expect((err as LlmBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    ac.abort();
    expect((await first).stopReason).toBe("abort");
    // Aborted while waiting: resolves empty, never ran.
    expect(await queued).toMatchObject({ text: "", tokens: 0, stopReason: "abort" });
    expect(llm.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it("times out while generating (LlmTimeoutError with the partial text) and while queued", async () => {
    const t0 = performance.now();
    const err = await llm.generate({ messages: msgs("Long."), maxTokens: 100_000, ignoreEos: true, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmTimeoutError);
    expect((err as LlmTimeoutError).timeoutMs).toBe(300);
    expect(performance.now() - t0).toBeLessThan(1300);

    const ac = new AbortController();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = llm.generate({ messages: msgs("Long."), maxTokens: 100_000, ignoreEos: true, signal: ac.signal, onToken: () => started() });
    await running;
    const queuedErr = await llm.generate({ messages: msgs("Waiting."), maxTokens: 3, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(queuedErr).toBeInstanceOf(LlmTimeoutError);
    ac.abort();
    await first;
  });

  it("runs `sequences` generations in parallel; close() aborts running ones and refuses new ones", async () => {
    const two = await loadLlm({ modelPath: GGUF, gpu: false, gpuLayers: 0, threads: 1, contextSize: 256, sequences: 2, maxQueue: 0, logger: quiet });
    try {
      const a = two.generate({ messages: msgs("A"), maxTokens: 8, ignoreEos: true });
      const b = two.generate({ messages: msgs("B"), maxTokens: 8, ignoreEos: true });
      expect(two.stats()).toMatchObject({ active: 2, queued: 0 });
      await expect(two.generate({ messages: msgs("C"), maxTokens: 2 })).rejects.toBeInstanceOf(LlmBusyError);
      const [ra, rb] = await Promise.all([a, b]);
      expect(ra.tokens).toBe(8);
      expect(rb.tokens).toBe(8);
      // close() aborts what is running and refuses what comes after.
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const inFlight = two.generate({ messages: msgs("Long."), maxTokens: 100_000, ignoreEos: true, onToken: () => started() }).catch((e: unknown) => e);
      await running;
      await two.close();
      expect(await inFlight).toBeInstanceOf(LlmClosedError);
      await expect(two.generate({ messages: msgs("Hi"), maxTokens: 2 })).rejects.toBeInstanceOf(LlmClosedError);
    } finally {
      await two.close();
    }
  });
});
