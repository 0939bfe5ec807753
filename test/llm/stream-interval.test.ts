/** The LLM answerer's delta coalescing (streamIntervalMs), with a scripted token source. */
import { describe, expect, it } from "vitest";
import type { GenerateRequest, GenerateResult, LlmInfo } from "../../src/models/llm.ts";
import { DEFAULT_STREAM_INTERVAL_MS, LlmAnswerer, type AnswerLlm } from "../../src/services/answer/llm-answerer.ts";
import type { AnswerEvent } from "../../src/services/answer/types.ts";
import { SOURCES_EN } from "./fixtures.ts";

const INFO: LlmInfo = { model: "fake.gguf", backend: "cpu", gpuLayers: 0, contextSize: 4096, threads: 1, sequences: 1, maxQueue: 1, chatWrapper: "General" };

/** Emits `count` tokens, one every `gapMs`. */
function tokenSource(count: number, gapMs: number): AnswerLlm {
  return {
    info: () => INFO,
    countTokens: (t) => Math.ceil(t.length / 3),
    assertCapacity: () => {},
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      let text = "";
      for (let i = 0; i < count; i++) {
        await new Promise((r) => setTimeout(r, gapMs));
        const tok = ` t${i}`;
        text += tok;
        req.onToken?.(tok);
      }
      return { text, tokens: count, stopReason: "maxTokens", durationMs: count * gapMs };
    },
  };
}

async function deltas(llm: AnswerLlm, streamIntervalMs?: number) {
  const out: { text: string; at: number }[] = [];
  const t0 = performance.now();
  const answerer = new LlmAnswerer(llm, streamIntervalMs === undefined ? {} : { streamIntervalMs });
  for await (const e of answerer.answer({ question: "What was Acme's revenue?", language: "en", sources: SOURCES_EN }) as AsyncIterable<AnswerEvent>) {
    if (e.type === "delta") out.push({ text: e.text, at: performance.now() - t0 });
  }
  return out;
}

describe("delta coalescing", () => {
  it("sends the first token at once and fast tokens together, at most one delta per interval", async () => {
    const fast = await deltas(tokenSource(60, 1));
    const text = fast.map((d) => d.text).join("");
    expect(text).toBe(Array.from({ length: 60 }, (_, i) => ` t${i}`).join(""));
    expect(fast[0]!.text).toBe(" t0");
    expect(fast.length).toBeLessThan(30); // 60 tokens, far fewer events
    for (let i = 1; i < fast.length; i++) expect(fast[i]!.at - fast[i - 1]!.at).toBeGreaterThanOrEqual(DEFAULT_STREAM_INTERVAL_MS - 2);
  });

  it("never holds back a model slower than the interval, and can be turned off", async () => {
    const slow = await deltas(tokenSource(5, DEFAULT_STREAM_INTERVAL_MS + 15));
    expect(slow.map((d) => d.text)).toEqual([" t0", " t1", " t2", " t3", " t4"]);
    const off = await deltas(tokenSource(20, 3), 0);
    expect(off.length).toBeGreaterThan(10);
  });
});
