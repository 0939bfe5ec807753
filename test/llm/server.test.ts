/**
 * The LLM wired into the server, with the real tiny GGUF (stories260K): /readyz, JSON and SSE
 * answers, the OpenAI endpoint through the `openai` client, conversations, what reaches the prompt,
 * and load behaviour (cancel on disconnect, queue full → 429, timeouts, the server staying
 * responsive during generation). Asserts structure and behaviour, not the babble.
 *
 * Two servers: A loads the model from the configuration (KB_LLM_* → openKb) and sees every prompt
 * through the provider's onGenerate hook; B answers through a provider that never stops on its
 * own (the real provider, with every request made endless via ignoreEos), so cancellation,
 * queueing and timeouts can be observed on the provider's own counters (stats()).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { loadLlm, type LlmMessage, type LlmProvider } from "../../src/models/llm.ts";
import { openKb } from "../../src/services/container.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "../helpers/kb.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./fixtures.ts";
import { readSse } from "../helpers/sse.ts";

if (!HAS_GGUF) console.warn(NO_GGUF_REASON);

const SECRET = "The senior engineer salary band starts at 90 million won per year.";
const DOCS = {
  "vpn.txt": "VPN setup\n\nInstall the VPN client from the software center. If the VPN connection drops, switch to a wired connection and reconnect.\n",
  "leave.md": "# Annual leave\n\nEmployees receive 15 days of paid annual leave per year. Leave is requested in the HR system.\n",
  "salaries.txt": `Salary bands 2026\n\n${SECRET} The salary band is reviewed every spring.\n`,
};
const post = (body: unknown, headers: Record<string, string> = {}) => ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

async function seed(t: TestServer): Promise<string> {
  const files = writeFiles(`${t.dir}/docs`, DOCS);
  const { documents } = await ingestNow(t.kb, [
    { source: "vpn.txt", path: files[0]! },
    { source: "leave.md", path: files[1]! },
    { source: "salaries.txt", path: files[2]!, allow: ["group:hr"] },
  ]);
  return documents.find((d: { source: string }) => d.source === "salaries.txt")!.id;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

describe("LLM configuration", () => {
  it("defaults KB_LLM_THREADS to cores - 1 (at least 1) and honours an explicit value", () => {
    expect(loadConfig({}).llmThreads).toBe(Math.max(1, os.availableParallelism() - 1));
    expect(loadConfig({ KB_LLM_THREADS: "3" }).llmThreads).toBe(3);
    expect(loadConfig({ KB_LLM_MAX_TOKENS: "64" }).llmMaxTokens).toBe(64);
  });

  it("fails the start clearly when KB_LLM_MODEL names a file that does not exist", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-llm-missing-"));
    try {
      const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", llmModel: "nope.gguf" });
      await expect(openKb(config, { logger: pino({ level: "silent" }) })).rejects.toThrow(/KB_LLM_MODEL.*not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!HAS_GGUF)("server with the LLM from the configuration (stories260K)", () => {
  let t: TestServer;
  let kim: string; // hr
  let lee: string; // not hr
  let secretId: string;
  const prompts: LlmMessage[][] = [];
  const promptText = (from = 0) =>
    prompts
      .slice(from)
      .flat()
      .map((m) => m.content)
      .join("\n");

  beforeAll(async () => {
    t = await startTestServer(
      { llmModel: GGUF, llmGpu: false, llmGpuLayers: 0, llmThreads: 1, llmContextSize: 2048, llmMaxTokens: 24, llmQueue: 4 },
      // One delta per token callback here (the default coalesces to one per 25 ms: stream-interval.test.ts).
      { llm: { onGenerate: (m) => prompts.push([...m]) }, llmAnswer: { streamIntervalMs: 0 } },
    );
    kim = await t.tokenFor("kim", "viewer", ["hr"]);
    lee = await t.tokenFor("lee", "viewer");
    secretId = await seed(t);
  });
  afterAll(async () => t?.close());

  it("reports the LLM in /readyz to admins", async () => {
    const ready = (await (await t.fetchAs(await t.tokenFor("root", "admin"), "/readyz")).json()) as any;
    expect(ready.answer).toBe("llm");
    expect(ready.llm).toMatchObject({ model: "stories260K.gguf", backend: "cpu", gpuLayers: 0, threads: 1, contextSize: 2048, sequences: 1, maxQueue: 4 });
    expect(ready.notes.join(" ")).not.toMatch(/no LLM/);
  });

  it("answers JSON with mode llm and only citations of readable documents", async () => {
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?" }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ mode: "llm", retrieval: "lexical" });
    expect(typeof body.answer).toBe("string");
    expect(body.answer.length).toBeGreaterThan(0);
    expect(body.conversationId).toMatch(/^conv_/);
    for (const c of body.citations) expect(["vpn.txt", "leave.md", "salaries.txt"]).toContain(c.source);
  });

  it("streams sources, token deltas and a checked done over SSE", async () => {
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave do employees get?", stream: true }));
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(res);
    const kinds = events.map((e) => e.event).join(" ").replace(/(delta )+/g, "delta+ ");
    expect(kinds).toBe("sources delta+ done");
    const sources = events[0]!.data.sources as { n: number; documentId: string }[];
    expect(sources.length).toBeGreaterThan(0);
    const deltas = events.filter((e) => e.event === "delta").map((e) => e.data.text as string);
    expect(deltas.length).toBeGreaterThan(1);
    const done = events.at(-1)!.data;
    expect(done.mode).toBe("llm");
    for (const c of done.citations) expect(sources.map((s) => s.n)).toContain(c.n);
  });

  it("never puts a document the asker may not read into the prompt", async () => {
    const question = "What is the salary band, and what if the VPN connection drops?";
    const before = prompts.length;
    const res = await t.fetchAs(lee, "/api/v1/ask", post({ question, stream: true }));
    const events = await readSse(res);
    expect(prompts.length).toBeGreaterThan(before); // the model was asked (about the VPN document)
    const seen = promptText(before);
    expect(seen).toContain("wired connection");
    expect(seen).not.toContain("90 million");
    expect(seen).not.toContain("Salary bands");
    const sources = events.find((e) => e.event === "sources")!.data.sources as { documentId: string }[];
    expect(sources.map((s) => s.documentId)).not.toContain(secretId);
    expect(JSON.stringify(events)).not.toContain("90 million");

    // The same question from a reader does reach the document: the check above can fail.
    const mark = prompts.length;
    await (await t.fetchAs(kim, "/api/v1/ask", post({ question }))).json();
    expect(promptText(mark)).toContain(SECRET);
  });

  it("rewrites a follow-up with the LLM and answers with the conversation as context", async () => {
    const first = (await (await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave do employees get?" }))).json()) as any;
    const mark = prompts.length;
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "And how is it requested?", conversationId: first.conversationId }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.conversationId).toBe(first.conversationId);
    expect(typeof body.retrievalQuery).toBe("string");
    const asked = prompts.slice(mark);
    // One rewrite prompt (the follow-up looks elliptical), then the answer prompt with the history.
    expect(asked.some((m) => m[0]!.content.includes("standalone search query"))).toBe(true);
    const answerPrompt = asked.find((m) => m.some((x) => x.content.includes("<source id=")))!;
    expect(answerPrompt.some((x) => x.role === "user" && x.content === "How many days of annual leave do employees get?")).toBe(true);
    // Another user cannot continue it.
    expect((await t.fetchAs(lee, "/api/v1/ask", post({ question: "And then?", conversationId: first.conversationId }))).status).toBe(404);
  });

  it("serves the OpenAI-compatible API with the LLM (openai client, streaming and not)", async () => {
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: kim, maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["private-kb-llm"]);
    const res = await client.chat.completions.create({ model: "private-kb-llm", messages: [{ role: "user", content: "What should I do if the VPN connection drops?" }] });
    expect(res.model).toBe("private-kb-llm");
    expect(typeof res.choices[0]!.message.content).toBe("string");
    expect((res as any).private_kb).toMatchObject({ mode: "llm" });
    expect(Array.isArray((res as any).citations)).toBe(true);

    const stream = await client.chat.completions.create({ model: "private-kb-llm", stream: true, messages: [{ role: "user", content: "How many days of annual leave do employees get?" }] });
    const chunks: any[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1); // token deltas
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toBe("stop");
    expect(Array.isArray(last.citations)).toBe(true);
    expect(last.private_kb.mode).toBe("llm");
  });
});

describe.skipIf(!HAS_GGUF)("server under load: cancel, queue, timeouts (stories260K, endless generation)", () => {
  let t: TestServer;
  let real: LlmProvider;
  let kim: string;
  let forcedTimeoutMs: number | undefined;

  beforeAll(async () => {
    // One sequence, no waiting room: a second request while one generates is refused (429).
    real = await loadLlm({ modelPath: GGUF, gpu: false, gpuLayers: 0, threads: 1, contextSize: 2048, sequences: 1, maxQueue: 0, logger: { info() {}, warn() {} } });
    const endless: LlmProvider = {
      ...real,
      generate: (req) => real.generate({ ...req, maxTokens: 1_000_000, ignoreEos: true, ...(forcedTimeoutMs ? { timeoutMs: forcedTimeoutMs } : {}) }),
    };
    t = await startTestServer({}, { llmProvider: endless });
    kim = await t.tokenFor("kim", "viewer", ["hr"]);
    await seed(t);
  });
  afterEach(async () => {
    forcedTimeoutMs = undefined;
    await waitFor(() => real.stats().active === 0, 5000);
  });
  afterAll(async () => {
    await t?.close();
    await real?.close();
  });

  /** Starts a streaming ask and returns once the first token arrived. */
  async function startGeneration() {
    const ac = new AbortController();
    const res = await t.fetchAs(kim, "/api/v1/ask", { ...post({ question: "What should I do if the VPN connection drops?", stream: true }), signal: ac.signal });
    expect(res.status).toBe(200);
    await readSse(res, (e) => e.event === "delta");
    expect(real.stats().active).toBe(1);
    return ac;
  }

  it("stops generation within a second of the client disconnecting", async () => {
    const ac = await startGeneration();
    ac.abort();
    const ms = await waitFor(() => real.stats().active === 0, 5000);
    expect(ms).toBeLessThan(1000);
  });

  it("keeps health and search answering while a generation runs", async () => {
    const ac = await startGeneration();
    try {
      for (const [p, init] of [
        ["/healthz", {}],
        ["/readyz", {}],
        ["/api/v1/search", post({ query: "annual leave" })],
      ] as const) {
        const t0 = performance.now();
        const res = await t.fetchAs(kim, p, init);
        expect(res.status).toBe(200);
        await res.json();
        expect(performance.now() - t0).toBeLessThan(2000);
      }
      expect(real.stats().active).toBe(1); // still generating: nothing above waited for it
    } finally {
      ac.abort();
    }
  });

  it("answers 429 with Retry-After when the queue is full (JSON, SSE and OpenAI API), before any stream starts", async () => {
    const ac = await startGeneration();
    try {
      const json = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?" }));
      expect(json.status).toBe(429);
      expect(Number(json.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await json.json()) as any).error.code).toBe("llm_busy");

      const sse = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?", stream: true }));
      expect(sse.status).toBe(429);
      expect(sse.headers.get("content-type")).toContain("application/json");
      expect(sse.headers.get("retry-after")).toBeTruthy();
      await sse.body?.cancel();

      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: kim, maxRetries: 0 });
      await expect(client.chat.completions.create({ model: "m", stream: true, messages: [{ role: "user", content: "How many days of annual leave?" }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
      expect(real.stats()).toMatchObject({ active: 1, queued: 0 });
    } finally {
      ac.abort();
    }
  });

  it("answers 504 on a timeout before the answer, and an error event once streaming started", async () => {
    forcedTimeoutMs = 300;
    const json = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?" }));
    expect(json.status).toBe(504);
    expect(((await json.json()) as any).error.code).toBe("llm_timeout");

    await waitFor(() => real.stats().active === 0, 5000);
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?", stream: true }));
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events[0]!.event).toBe("sources");
    expect(events.at(-1)).toMatchObject({ event: "error", data: { error: { code: "llm_timeout" } } });
    expect(events.some((e) => e.event === "done")).toBe(false);
    // The 200 went out before the failure: /metrics counts it by the code the stream sent.
    const metrics = (await t.kb.metrics.render()).body;
    expect(metrics).toMatch(/^kb_answer_stream_errors_total\{route="\/api\/v1\/ask",code="llm_timeout"\} 1$/m);

    // The OpenAI-compatible stream says it in its last chunk, and is counted under its own route.
    await waitFor(() => real.stats().active === 0, 5000);
    const chat = await t.fetchAs(kim, "/v1/chat/completions", post({ model: "m", stream: true, messages: [{ role: "user", content: "What should I do if the VPN connection drops?" }] }));
    expect(chat.status).toBe(200);
    const chunks = await readSse(chat);
    expect(chunks.at(-1)).toMatchObject({ data: { error: { code: "llm_timeout", type: "server_error" } } });
    expect((await t.kb.metrics.render()).body).toMatch(/^kb_answer_stream_errors_total\{route="\/v1\/chat\/completions",code="llm_timeout"\} 1$/m);
  });
});
