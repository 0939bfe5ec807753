import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlmBusyError, loadLlm, type GenerateRequest, type GenerateResult, type LlmInfo, type LlmProvider } from "../../src/models/llm.ts";
import { NO_ANSWER } from "../../src/services/answer/extractive.ts";
import { LlmAnswerer, type AnswerLlm } from "../../src/services/answer/llm-answerer.ts";
import type { AnswerEvent, AnswerRequest } from "../../src/services/answer/types.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON, SOURCES_EN, SOURCES_KO } from "./fixtures.ts";

if (!HAS_GGUF) console.warn(NO_GGUF_REASON);

const INFO: LlmInfo = { model: "fake.gguf", backend: "cpu", gpuLayers: 0, contextSize: 4096, threads: 1, sequences: 1, maxQueue: 1, chatWrapper: "General" };

/** A scripted model: streams `reply` in small pieces and records what it was asked. */
class FakeLlm implements AnswerLlm {
  calls: GenerateRequest[] = [];
  busy = false;
  constructor(private readonly reply: string) {}
  info() {
    return INFO;
  }
  countTokens(text: string) {
    return Math.ceil(text.length / 3);
  }
  assertCapacity() {
    if (this.busy) throw new LlmBusyError(7);
  }
  async generate(req: GenerateRequest): Promise<GenerateResult> {
    this.calls.push(req);
    let text = "";
    for (const piece of this.reply.match(/.{1,6}/gsu) ?? []) {
      if (req.signal?.aborted) return { text, tokens: text.length, stopReason: "abort", durationMs: 1 };
      await new Promise((r) => setTimeout(r, 1));
      text += piece;
      req.onToken?.(piece);
    }
    return { text, tokens: text.length, stopReason: "eos", durationMs: 1 };
  }
}

async function collect(events: AsyncIterable<AnswerEvent>): Promise<AnswerEvent[]> {
  const out: AnswerEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function shape(events: AnswerEvent[]): string {
  // "sources delta+ done"
  return events
    .map((e) => e.type)
    .join(" ")
    .replace(/(delta )+/g, "delta+ ");
}

const ask = (question: string, sources = SOURCES_EN, extra: Partial<AnswerRequest> = {}): AnswerRequest => ({ question, language: "en", sources, ...extra });

describe("LlmAnswerer (scripted model)", () => {
  it("answers 'no answer' in the question's language without calling the model when there are no sources", async () => {
    const llm = new FakeLlm("should not be used");
    const answerer = new LlmAnswerer(llm);
    for (const [language, question] of [["en", "What is the budget?"], ["ko", "예산은 얼마인가요?"]] as const) {
      const events = await collect(answerer.answer({ question, language, sources: [] }));
      expect(events).toEqual([
        { type: "sources", sources: [] },
        { type: "delta", text: NO_ANSWER[language] },
        { type: "done", answer: NO_ANSWER[language], citations: [], mode: "llm", found: false },
      ]);
    }
    expect(llm.calls).toHaveLength(0);
  });

  it("streams sources → deltas → done, with citations checked and bad ones flagged", async () => {
    const reply = "Acme's revenue reached $5.2 billion in fiscal 2023 [1]. The CEO resigned in May [2]. Leave can be carried over [9].";
    const llm = new FakeLlm(reply);
    const events = await collect(new LlmAnswerer(llm, { maxTokens: 64 }).answer(ask("What was Acme's revenue?")));
    expect(shape(events)).toBe("sources delta+ done");
    expect(events[0]).toEqual({ type: "sources", sources: SOURCES_EN });
    const streamed = events.filter((e) => e.type === "delta").map((e) => (e as { text: string }).text).join("");
    expect(streamed).toBe(reply);
    const done = events.at(-1) as Extract<AnswerEvent, { type: "done" }>;
    expect(done.mode).toBe("llm");
    expect(done.found).toBe(true);
    expect(done.answer).toBe("Acme's revenue reached $5.2 billion in fiscal 2023 [1]. The CEO resigned in May. Leave can be carried over.");
    expect(done.citations).toEqual([
      { n: 1, documentId: "doc-1", title: "Acme annual report 2023", source: "doc-1.pdf", page: 1, quote: "In fiscal 2023, Acme's revenue reached $5.2 billion, up 12% from the previous year." },
    ]);
    expect(done.flagged).toEqual([
      { n: 2, reason: "unsupported-claim" },
      { n: 9, reason: "nonexistent-source" },
    ]);
    // The model got the grounded prompt with these sources, the answer budget and greedy decoding.
    expect(llm.calls).toHaveLength(1);
    expect(llm.calls[0]!.maxTokens).toBe(64);
    expect(llm.calls[0]!.temperature).toBe(0);
    expect(llm.calls[0]!.messages[0]!.role).toBe("system");
    expect(llm.calls[0]!.messages.at(-1)!.content).toContain('<source id="2" title="HR handbook"');
  });

  it("is not 'found' when the model says it does not know, or cites nothing that holds", async () => {
    const dunno = await collect(new LlmAnswerer(new FakeLlm("제공된 문서에서 답을 찾을 수 없습니다.")).answer(ask("사장은 누구인가요?", SOURCES_KO, { language: "ko" })));
    expect(dunno.at(-1)).toMatchObject({ type: "done", found: false, citations: [], answer: "제공된 문서에서 답을 찾을 수 없습니다." });
    const uncited = await collect(new LlmAnswerer(new FakeLlm("Mars has two moons.")).answer(ask("Moons?")));
    expect(uncited.at(-1)).toMatchObject({ type: "done", found: false, citations: [] });
  });

  it("throws LlmBusyError before the first event when the model's queue is full", async () => {
    const llm = new FakeLlm("x");
    llm.busy = true;
    const it = new LlmAnswerer(llm).answer(ask("q?"))[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toBeInstanceOf(LlmBusyError);
    expect(llm.calls).toHaveLength(0);
  });

  it("ends with done carrying the partial answer when the caller aborts", async () => {
    const ac = new AbortController();
    const llm = new FakeLlm("Acme's revenue reached $5.2 billion in fiscal 2023 [1]. ".repeat(20));
    const events: AnswerEvent[] = [];
    for await (const e of new LlmAnswerer(llm).answer(ask("Revenue?", SOURCES_EN, { signal: ac.signal }))) {
      events.push(e);
      if (events.length === 3) ac.abort();
    }
    expect(events.at(-1)!.type).toBe("done");
    const done = events.at(-1) as Extract<AnswerEvent, { type: "done" }>;
    expect(done.answer.length).toBeLessThan(200);
  });

  it("stops the model when the consumer stops reading", async () => {
    const llm = new FakeLlm("word ".repeat(200));
    for await (const e of new LlmAnswerer(llm).answer(ask("q?"))) {
      if (e.type === "delta") break;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(llm.calls[0]!.signal?.aborted).toBe(true);
  });
});

describe.skipIf(!HAS_GGUF)("LlmAnswerer (stories260K)", () => {
  let llm: LlmProvider;
  beforeAll(async () => {
    llm = await loadLlm({ modelPath: GGUF, gpu: false, gpuLayers: 0, threads: 1, contextSize: 2048, maxQueue: 2, logger: { info() {}, warn() {} } });
  });
  afterAll(async () => {
    await llm?.close();
  });

  it("emits sources, streamed deltas and a checked done from the real model, showing it only the given sources", async () => {
    const seen: GenerateRequest[] = [];
    const spy: AnswerLlm = {
      info: () => llm.info(),
      countTokens: (t) => llm.countTokens(t),
      assertCapacity: () => llm.assertCapacity(),
      generate: (req) => {
        seen.push(req);
        return llm.generate(req);
      },
    };
    const events = await collect(new LlmAnswerer(spy, { maxTokens: 24 }).answer(ask("What was Acme's revenue?")));
    expect(shape(events)).toBe("sources delta+ done");
    const done = events.at(-1) as Extract<AnswerEvent, { type: "done" }>;
    expect(done.mode).toBe("llm");
    expect(typeof done.answer).toBe("string");
    // Whatever the tiny model babbles, every citation that survives points at a given source.
    for (const c of done.citations) expect(SOURCES_EN.map((s) => s.n)).toContain(c.n);
    const prompt = seen[0]!.messages.map((m) => m.content).join("\n");
    expect([...prompt.matchAll(/<source id="(\d+)"/g)].map((m) => m[1])).toEqual(["1", "2"]);
    expect(prompt).toContain(SOURCES_EN[0]!.text);
    expect(prompt).toContain(SOURCES_EN[1]!.text);
  });
});
