/**
 * Model servers on the network: the remote LLM and embedding providers (KB_LLM_URL, KB_EMBED_URL)
 * against a real OpenAI-compatible server on loopback (test/helpers/openai-compatible-server.ts:
 * node-llama-cpp with stories260K, transformers.js with the fixture embedder), which is first
 * validated with the official `openai` client. Then through the real HTTP API: streaming answers,
 * cancellation observed on the server's side, timeouts, the local queue's 429, the server's 429
 * passed through, upstream errors, redirects never followed, the allow-list (KB_MODEL_HOSTS)
 * refusing a host at start, and ingest + hybrid search with the remote embedder recorded in the
 * chunk table.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { checkModelHosts, hostAllowed, loadConfig, type Config } from "../src/config.ts";
import { loadEmbeddingProvider, type EmbeddingProvider } from "../src/models/embeddings.ts";
import { LlmBusyError, LlmTimeoutError, LlmUpstreamError } from "../src/models/llm.ts";
import { loadRemoteEmbeddingProvider } from "../src/models/remote-embeddings.ts";
import { createRemoteLlm } from "../src/models/remote-llm.ts";
import { ingestNow, startTestServer, storeForFolder, writeFiles, type TestServer } from "./helpers/kb.ts";
import { startModelServer, type ModelServer } from "./helpers/openai-compatible-server.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./llm/fixtures.ts";
import { readSse } from "./helpers/sse.ts";

if (!HAS_GGUF) console.warn(`${NO_GGUF_REASON} (remote chat-completion tests; the embedding tests still run)`);

const EMBED = { modelsDir: process.env.KB_TEST_EMBED_MODELS_DIR!, model: process.env.KB_TEST_EMBED_MODEL! };
const KEY = "sk-test-remote-key-3f9a";
const post = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** openKb's answer to a configuration made in code (its temporary folder removed afterwards). */
async function openRefused(overrides: Partial<Config>): Promise<unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-remote-refused-"));
  const store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  try {
    const { openKb } = await import("../src/services/container.ts");
    const pino = (await import("pino")).default;
    // Built past loadConfig (which would refuse it first), as a program embedding the server might.
    const config = { ...loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent", ...store.overrides }), ...overrides };
    const kb = await openKb(config, { logger: pino({ level: "silent" }) });
    await kb.close();
    return null;
  } catch (err) {
    return err;
  } finally {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function keyFile(dir: string): string {
  const file = path.join(dir, "llm-key");
  fs.writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
  return file;
}

const DOCS = {
  "vpn.txt": "VPN setup\n\nInstall the VPN client from the software center. If the VPN connection drops, switch to a wired connection and reconnect.\n",
  "leave.md": "# Annual leave\n\nEmployees receive 15 days of paid annual leave per year. Leave is requested in the HR system.\n",
};

async function seed(t: TestServer): Promise<void> {
  const files = writeFiles(`${t.dir}/docs`, DOCS);
  const { job } = await ingestNow(t.kb, [
    { source: "vpn.txt", path: files[0]! },
    { source: "leave.md", path: files[1]! },
  ]);
  expect(job.status).toBe("succeeded");
}

describe("the allow-list (KB_MODEL_HOSTS)", () => {
  const env = { KB_LLM_URL: "http://gpu1.corp:8000/v1", KB_LLM_REMOTE_MODEL: "qwen" };

  it("refuses at start a model URL whose host is not on it, naming the variables and the host", () => {
    expect(() => loadConfig(env)).toThrow(/KB_LLM_URL: host gpu1\.corp:8000 is not on KB_MODEL_HOSTS \(empty\)/);
    expect(() => loadConfig({ ...env, KB_MODEL_HOSTS: "gpu2.corp:8000, gpu1.corp:8001" })).toThrow(/gpu1\.corp:8000 is not on KB_MODEL_HOSTS \(gpu2\.corp:8000, gpu1\.corp:8001\)/);
    expect(() => loadConfig({ KB_EMBED_URL: "https://tei.corp/v1", KB_EMBED_REMOTE_MODEL: "bge-m3", KB_MODEL_HOSTS: "gpu1.corp" })).toThrow(/KB_EMBED_URL: host tei\.corp is not on KB_MODEL_HOSTS/);
  });

  it("allows a listed host: with a port only that port, without one any port; names are case-insensitive", () => {
    expect(loadConfig({ ...env, KB_MODEL_HOSTS: "GPU1.corp:8000" }).llmRemote).toEqual({ url: "http://gpu1.corp:8000/v1", model: "qwen", apiKey: undefined });
    expect(loadConfig({ ...env, KB_MODEL_HOSTS: "gpu1.corp" }).modelHosts).toEqual(["gpu1.corp"]);
    expect(hostAllowed(new URL("https://gpu1.corp/v1"), ["gpu1.corp:443"])).toBe(true);
    expect(hostAllowed(new URL("http://gpu1.corp/v1"), ["gpu1.corp:443"])).toBe(false);
    expect(hostAllowed(new URL("http://gpu1.corp.evil.example/v1"), ["gpu1.corp"])).toBe(false);
    expect(hostAllowed(new URL("http://[::1]:9000/v1"), ["[::1]:9000"])).toBe(true);
  });

  it("takes only http(s) URLs without credentials, and a remote model or a local one, not both", () => {
    expect(() => loadConfig({ KB_LLM_URL: "ftp://gpu1.corp/v1", KB_LLM_REMOTE_MODEL: "m", KB_MODEL_HOSTS: "gpu1.corp" })).toThrow(/only http and https/);
    expect(() => loadConfig({ KB_LLM_URL: "http://u:p@gpu1.corp/v1", KB_LLM_REMOTE_MODEL: "m", KB_MODEL_HOSTS: "gpu1.corp" })).toThrow(/credentials/);
    expect(() => loadConfig({ ...env, KB_MODEL_HOSTS: "gpu1.corp", KB_LLM_MODEL: "x.gguf" })).toThrow(/KB_LLM_URL and KB_LLM_MODEL are both set/);
    expect(() => loadConfig({ KB_LLM_URL: "http://gpu1.corp/v1", KB_MODEL_HOSTS: "gpu1.corp" })).toThrow(/KB_LLM_REMOTE_MODEL must name/);
    expect(() => loadConfig({ KB_MODEL_HOSTS: "http://gpu1.corp/v1" })).toThrow(/KB_MODEL_HOSTS: "http:\/\/gpu1.corp\/v1" is not a host/);
  });

  it("names the API key's file or variable, never its value; a key file others can read stops the start", async () => {
    const config = loadConfig({ ...env, KB_MODEL_HOSTS: "gpu1.corp", KB_LLM_API_KEY: KEY, KB_EMBED_URL: "http://gpu1.corp:8081/v1", KB_EMBED_REMOTE_MODEL: "e5", KB_EMBED_API_KEY_FILE: "/etc/kb/embed-key" });
    expect(config.llmRemote!.apiKey).toEqual({ env: "KB_LLM_API_KEY" });
    expect(config.embedRemote!.apiKey).toEqual({ file: "/etc/kb/embed-key" });
    expect(JSON.stringify(config)).not.toContain(KEY);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-remote-key-"));
    try {
      const loose = path.join(dir, "key");
      fs.writeFileSync(loose, KEY, { mode: 0o644 });
      fs.chmodSync(loose, 0o644);
      const llmRemote = { url: "http://gpu1.corp:8000/v1", model: "qwen", apiKey: { file: loose } };
      expect(String(await openRefused({ llmRemote, modelHosts: ["gpu1.corp"] }))).toContain(`KB_LLM_API_KEY: secret file ${loose} is readable by group or others (mode 644); chmod 600 it`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a configuration made in code too (openKb checks again) and contacts nothing", async () => {
    const ms = await startModelServer({});
    try {
      const remote = { url: ms.baseUrl, model: "m", apiKey: undefined };
      expect(() => checkModelHosts({ llmRemote: remote, embedRemote: undefined, modelHosts: ["127.0.0.2"] })).toThrow(/KB_LLM_URL: host 127\.0\.0\.1:\d+ is not on KB_MODEL_HOSTS/);
      expect(String(await openRefused({ llmRemote: remote, modelHosts: [] }))).toMatch(/KB_LLM_URL: host 127\.0\.0\.1:\d+ is not on KB_MODEL_HOSTS \(empty\)/);
      const embedRemote: Config["embedRemote"] = { ...remote, queryPrefix: undefined, passagePrefix: undefined, batchSize: 8, timeoutMs: 5000 };
      expect(String(await openRefused({ embedRemote, modelHosts: ["localhost"] }))).toMatch(/KB_EMBED_URL: host 127\.0\.0\.1:\d+ is not on KB_MODEL_HOSTS \(localhost\)/);
      // The provider checks each request as well (a second lock behind the start-up check).
      const llm = createRemoteLlm({ url: ms.baseUrl, model: "m", apiKey: undefined, allowedHosts: ["127.0.0.2"], contextSize: 2048 });
      await expect(llm.generate({ messages: [{ role: "user", content: "hi" }], maxTokens: 4 })).rejects.toThrow(/not on KB_MODEL_HOSTS; nothing was sent/);
      expect(ms.stats.authorizations).toEqual([]); // no request of any kind reached the server
    } finally {
      await ms.close();
    }
  });
});

describe("the test server, validated with the official openai client", () => {
  let ms: ModelServer;
  let local: EmbeddingProvider;
  beforeAll(async () => {
    ms = await startModelServer({ gguf: HAS_GGUF ? GGUF : undefined, embed: EMBED, apiKey: KEY });
    local = (await loadEmbeddingProvider({ ...EMBED, log: () => {} }))!;
  });
  afterAll(async () => {
    await ms?.close();
    await local?.close();
  });

  it("serves /v1/embeddings: the fixture model's vectors, in order", async () => {
    const client = new OpenAI({ baseURL: ms.baseUrl, apiKey: KEY, maxRetries: 0 });
    const texts = ["연차 휴가는 며칠인가요?", "VPN connection drops"];
    const res = await client.embeddings.create({ model: ms.embedModel, input: texts, encoding_format: "float" });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    const want = await local.embedPassages(texts);
    for (const [i, d] of res.data.entries()) {
      expect(d.embedding).toHaveLength(32);
      d.embedding.forEach((x, k) => expect(x).toBeCloseTo(want[i]![k]!, 5));
    }
    await expect(new OpenAI({ baseURL: ms.baseUrl, apiKey: "wrong", maxRetries: 0 }).embeddings.create({ model: ms.embedModel, input: "x" })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("answers injected 429s as the openai client expects (RateLimitError)", async () => {
    ms.knobs.fail = { status: 429, times: 1, retryAfter: "3" };
    const client = new OpenAI({ baseURL: ms.baseUrl, apiKey: KEY, maxRetries: 0 });
    await expect(client.embeddings.create({ model: ms.embedModel, input: "x" })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    ms.resetKnobs();
  });

  it.skipIf(!HAS_GGUF)("serves /v1/chat/completions, streaming token by token and not", async () => {
    const client = new OpenAI({ baseURL: ms.baseUrl, apiKey: KEY, maxRetries: 0 });
    const messages = [{ role: "user" as const, content: "Once upon a time" }];
    const res = await client.chat.completions.create({ model: ms.chatModel, messages, max_tokens: 16 });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(res.choices[0]!.finish_reason);
    const stream = await client.chat.completions.create({ model: ms.chatModel, messages, max_tokens: 16, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
    expect(text).toBe(res.choices[0]!.message.content); // greedy: the same text both ways
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(true);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBeGreaterThan(0);
    // ignore_eos with a token limit: exactly that many tokens, finish_reason "length".
    const fixed = await client.chat.completions.create({ model: ms.chatModel, messages, max_tokens: 40, ignore_eos: true } as any);
    expect(fixed.choices[0]!.finish_reason).toBe("length");
    expect(fixed.usage!.completion_tokens).toBe(40);
  });
});

describe("the remote embedding provider (KB_EMBED_URL)", () => {
  let ms: ModelServer;
  let other: ModelServer;
  let t: TestServer;
  let local: EmbeddingProvider;
  const remoteConfig = (server: ModelServer): Partial<Config> => ({
    embedRemote: { url: server.baseUrl, model: server.embedModel, apiKey: undefined, queryPrefix: undefined, passagePrefix: undefined, batchSize: 2, timeoutMs: 10_000 },
    modelHosts: [server.host],
  });

  beforeAll(async () => {
    ms = await startModelServer({ embed: EMBED });
    other = await startModelServer({ embed: EMBED });
    local = (await loadEmbeddingProvider({ ...EMBED, log: () => {} }))!;
    t = await startTestServer(remoteConfig(ms));
    await seed(t);
  });
  afterAll(async () => {
    await t?.close();
    await ms?.close();
    await other?.close();
    await local?.close();
  });
  afterEach(() => ms.resetKnobs());

  it("serves hybrid retrieval with vectors from the server, and the table records host/model and dimension", async () => {
    const id = `${ms.host}/${ms.embedModel}`;
    expect(t.kb.retriever.mode).toBe("hybrid");
    expect(t.kb.index.info()).toMatchObject({ model: id, dimension: 32 });
    const ready = (await (await t.fetchAs(await t.tokenFor("root", "admin"), "/readyz")).json()) as any;
    expect(ready).toMatchObject({ retrieval: "hybrid", embedding: { model: id, dimension: 32 } });
    expect(ready.modelServers).toEqual({ allowedHosts: [ms.host], inUse: [{ role: "embedding", host: ms.host, model: ms.embedModel }] });
    expect(ready.notes.join(" ")).toContain(`only hosts on KB_MODEL_HOSTS (${ms.host}) are contacted`);

    const before = ms.stats.embeddings;
    const viewer = await t.tokenFor("kim", "viewer");
    const res = (await (await t.fetchAs(viewer, "/api/v1/search", post({ query: "wired connection" }))).json()) as any;
    expect(res.results.length).toBeGreaterThan(0);
    expect(ms.stats.embeddings).toBe(before + 1); // the query was embedded by the server
    // Scores are shown to the operator only (a viewer gets ranks).
    const retrieved = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "wired connection", { topK: 5 });
    expect(retrieved.mode).toBe("hybrid");
    expect(retrieved.chunks.some((c) => typeof c.vectorScore === "number")).toBe(true);
  });

  it("sends the same vectors as the model run in-process (family prefixes: none for this model), batched", async () => {
    const remote = t.kb.index.embedder()!;
    const texts = ["one", "two", "three", "넷", "five"];
    const before = ms.stats.embeddings;
    const got = await remote.embedPassages(texts);
    expect(ms.stats.embeddings - before).toBe(3); // batch size 2
    const want = await local.embedPassages(texts);
    got.forEach((v, i) => v.forEach((x, k) => expect(x).toBeCloseTo(want[i]![k]!, 5)));
  });

  it("refuses vectors of another dimension than the model produced before", async () => {
    ms.knobs.embedDimension = 16;
    await expect(t.kb.index.embedder()!.embedQueries(["x"])).rejects.toThrow(/16-dimensional vectors .* produced 32 before/);
  });

  it("applies configured prefixes, or the model family's (e5: query:/passage:)", async () => {
    const spy = await startModelServer({ embed: EMBED, embedModel: "intfloat/multilingual-e5-small" });
    try {
      const base = { url: spy.baseUrl, apiKey: undefined, allowedHosts: [spy.host] };
      const e5 = await loadRemoteEmbeddingProvider({ ...base, model: "intfloat/multilingual-e5-small" });
      expect(e5.modelId).toBe(`${spy.host}/intfloat/multilingual-e5-small`);
      expect(e5.info).toMatchObject({ queryPrefix: "query: ", passagePrefix: "passage: ", settingsSource: "family:e5" });
      const custom = await loadRemoteEmbeddingProvider({ ...base, model: "intfloat/multilingual-e5-small", queryPrefix: "", passagePrefix: "doc: " });
      expect(custom.info).toMatchObject({ queryPrefix: "", passagePrefix: "doc: ", settingsSource: "configuration" });
      // What arrives at the server: the prefixed text (compared through the vectors of the same model).
      const [q] = await e5.embedQueries(["annual leave"]);
      const [want] = await local.embedPassages(["query: annual leave"]);
      q!.forEach((x, k) => expect(x).toBeCloseTo(want![k]!, 5));
    } finally {
      await spy.close();
    }
  });

  it("never follows a redirect, to another host or any", async () => {
    ms.knobs.redirectTo = other.url;
    await expect(t.kb.index.embedder()!.embedQueries(["x"])).rejects.toThrow(new RegExp(`model server ${ms.host} answered a redirect to ${other.host} \\(307\\), which is never followed`));
    expect(other.stats.embeddings).toBe(0);
  });

  it("when the server is down at start: queries run lexically, ingestion fails the file (no rows without vectors), both resume when it answers", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-remote-down-"));
    const store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
    const { openKb } = await import("../src/services/container.ts");
    const pino = (await import("pino")).default;
    const open = () => openKb(loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "silent", extractProcesses: 0, ...remoteConfig(ms), ...store.overrides }), { logger: pino({ level: "silent" }) });
    const files = writeFiles(path.join(dataDir, "docs"), DOCS);
    try {
      await (await open()).close(); // first start: the table is made with the server's model
      ms.knobs.fail = { status: 503, times: 1_000_000 };
      const kb = await open();
      try {
        expect(kb.index.info()).toMatchObject({ model: `${ms.host}/tiny-embed`, dimension: 32 });
        expect(kb.retriever.mode).toBe("lexical");
        expect(kb.models.embeddingNote).toContain("did not answer when the index was opened");
        const down = await ingestNow(kb, [{ source: "vpn.txt", path: files[0]! }]);
        expect(down.job.status).toBe("failed");
        expect(down.job.files).toEqual([expect.objectContaining({ source: "vpn.txt", status: "failed", errorCode: "embedding_failed" })]);
        expect(await kb.chunks.count()).toBe(0);

        ms.resetKnobs();
        const up = await ingestNow(kb, [{ source: "leave.md", path: files[1]! }]);
        expect(up.job.status).toBe("succeeded");
        const rows = await kb.chunks.rowsOf([up.documents[0]!.id], true);
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.every((r) => r.vector?.length === 32)).toBe(true);
        await kb.index.retryRemoteEmbedder(true); // the watcher does this every 30 s
        expect(kb.retriever.mode).toBe("hybrid");
        expect(kb.models.embeddingNote).toBeUndefined();
      } finally {
        await kb.close();
      }
    } finally {
      ms.resetKnobs();
      await store.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("keeps a table written by a remote model tied to it: another host serves it lexically until a re-embed", async () => {
    const dataDir = t.dir;
    // A second knowledge base on the same data folder, configured with the other server (another host:port).
    const { openKb } = await import("../src/services/container.ts");
    const pino = (await import("pino")).default;
    const config = loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "silent", ...remoteConfig(other), databaseUrl: t.kb.config.databaseUrl });
    const kb2 = await openKb(config, { logger: pino({ level: "silent" }) });
    try {
      expect(kb2.index.info()).toMatchObject({ model: `${ms.host}/${ms.embedModel}`, dimension: 32 });
      expect(kb2.retriever.mode).toBe("lexical");
      expect(kb2.models.embeddingNote).toMatch(new RegExp(`the index holds vectors of ${ms.host}/tiny-embed \\(32d\\), not of ${other.host}/tiny-embed; run \`kb reembed\``));
      expect(kb2.models.embeddingNote).toContain(`the index holds vectors of ${ms.host}/tiny-embed (32d) but its model server is not the one configured`);
    } finally {
      await kb2.close();
    }
  });
});

describe.skipIf(!HAS_GGUF)("the remote LLM provider (KB_LLM_URL) through the HTTP API (stories260K)", () => {
  let ms: ModelServer;
  let other: ModelServer;
  let t: TestServer;
  let kim: string;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-remote-"));
    ms = await startModelServer({ gguf: GGUF, apiKey: KEY });
    other = await startModelServer({});
    t = await startTestServer(
      {
        llmRemote: { url: ms.baseUrl, model: ms.chatModel, apiKey: { file: keyFile(dir) } },
        modelHosts: [ms.host],
        llmContextSize: 2048,
        llmMaxTokens: 24,
        llmMaxConcurrent: 2,
        llmQueue: 4,
      },
      { llmAnswer: { streamIntervalMs: 0 } },
    );
    kim = await t.tokenFor("kim", "viewer");
    await seed(t);
  });
  afterAll(async () => {
    await t?.close();
    await ms?.close();
    await other?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    ms.resetKnobs();
    await waitFor(() => ms.stats.active === 0 && t.kb.llm!.stats().active === 0, 10_000, "generations ended");
  });

  it("reports the remote model and the allow-list in /readyz", async () => {
    const ready = (await (await t.fetchAs(await t.tokenFor("root", "admin"), "/readyz")).json()) as any;
    expect(ready.answer).toBe("llm");
    expect(ready.llm).toEqual({ model: "stories260K", backend: "remote", host: ms.host, contextSize: 2048, sequences: 2, maxQueue: 4 });
    expect(ready.modelServers).toEqual({ allowedHosts: [ms.host], inUse: [{ role: "llm", host: ms.host, model: "stories260K" }] });
    expect(JSON.stringify(ready)).not.toContain(KEY);
  });

  it("streams a grounded answer over SSE: sources, token deltas from the server, a checked done", async () => {
    const before = ms.stats.chat;
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?", stream: true }));
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(res);
    expect(events.map((e) => e.event).join(" ").replace(/(delta )+/g, "delta+ ")).toBe("sources delta+ done");
    expect(events.filter((e) => e.event === "delta").length).toBeGreaterThan(1);
    const sources = events[0]!.data.sources as { n: number }[];
    const done = events.at(-1)!.data;
    expect(done.mode).toBe("llm");
    for (const c of done.citations) expect(sources.map((s) => s.n)).toContain(c.n);
    // What the server received: the grounded prompt with the readable source, streamed, with our key.
    expect(ms.stats.chat).toBe(before + 1);
    const body = ms.stats.chatBodies.at(-1);
    expect(body).toMatchObject({ model: "stories260K", stream: true, max_tokens: 24, temperature: 0 });
    expect(JSON.stringify(body.messages)).toContain("<source id=");
    expect(JSON.stringify(body.messages)).toContain("wired connection");
    expect(ms.stats.authorizations.at(-1)).toBe(`Bearer ${KEY}`);
  });

  it("answers JSON through the OpenAI-compatible API of the knowledge base too", async () => {
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: kim, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: "private-kb-llm", messages: [{ role: "user", content: "How many days of annual leave do employees get?" }] });
    expect(typeof res.choices[0]!.message.content).toBe("string");
    expect((res as any).private_kb).toMatchObject({ mode: "llm" });
  });

  it("aborts the upstream request when the client disconnects (seen by the model server)", async () => {
    ms.knobs.forceIgnoreEos = true;
    ms.knobs.forceMaxTokens = 1_000_000;
    const cancelled = ms.stats.cancelled;
    const ac = new AbortController();
    const res = await t.fetchAs(kim, "/api/v1/ask", { ...post({ question: "What should I do if the VPN connection drops?", stream: true }), signal: ac.signal });
    await readSse(res, (e) => e.event === "delta");
    expect(ms.stats.active).toBe(1);
    ac.abort();
    await waitFor(() => ms.stats.cancelled === cancelled + 1 && ms.stats.active === 0, 10_000, "the server saw the request go away");
    await waitFor(() => t.kb.llm!.stats().active === 0, 5000, "the provider freed its slot");
  });

  it("passes the server's 429 through as busy: 429 + its Retry-After before the answer, an llm_busy event once streaming", async () => {
    ms.knobs.fail = { status: 429, times: 2, retryAfter: "7" };
    const json = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?" }));
    expect(json.status).toBe(429);
    expect(json.headers.get("retry-after")).toBe("7");
    expect(((await json.json()) as any).error).toMatchObject({ code: "llm_busy", message: expect.stringContaining(`model server ${ms.host} is busy (429)`) });
    const sse = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?", stream: true }));
    const events = await readSse(sse);
    expect(events.map((e) => e.event)).toEqual(["sources", "error"]);
    expect(events[1]!.data.error.code).toBe("llm_busy");
  });

  it("maps the server's errors to 502 llm_upstream naming host and status, never the key", async () => {
    ms.knobs.fail = { status: 500, times: 1, body: { error: { message: "CUDA out of memory" } } };
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?" }));
    expect(res.status).toBe(502);
    const body = (await res.json()) as any;
    expect(body.error).toEqual({ code: "llm_upstream", message: `model server ${ms.host} answered 500: CUDA out of memory`, requestId: expect.any(String) });
    expect(JSON.stringify(body)).not.toContain(KEY);
  });

  it("treats a stream the server cut mid-answer as an upstream failure, not a short answer", async () => {
    ms.knobs.dropAfterTokens = 3;
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?", stream: true }));
    const events = await readSse(res);
    expect(events.map((e) => e.event).join(" ")).toMatch(/^sources( delta){1,3} error$/); // the pieces that came, then the failure
    expect(events.at(-1)!.data.error.code).toBe("llm_upstream");
    expect(events.some((e) => e.event === "done")).toBe(false);
  });

  it("never follows a redirect: the other host gets nothing", async () => {
    ms.knobs.redirectTo = other.url;
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?" }));
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.message).toBe(`model server ${ms.host} answered a redirect to ${other.host} (307), which is never followed`);
    expect(other.stats.authorizations).toEqual([]);
  });

  it("provider: a wrong model name, a server that is down, a timeout, and its own queue", async () => {
    const base = { url: ms.baseUrl, apiKey: KEY, allowedHosts: [ms.host], contextSize: 2048 };
    const msg = [{ role: "user" as const, content: "Once upon a time" }];
    await expect(createRemoteLlm({ ...base, model: "nope" }).generate({ messages: msg, maxTokens: 4 })).rejects.toThrow(
      new LlmUpstreamError(`model server ${ms.host} answered 404: The model \`nope\` does not exist`, 404),
    );
    const gone = await startModelServer({}); // a port where nothing listens any more
    await gone.close();
    const down = createRemoteLlm({ ...base, url: gone.baseUrl, allowedHosts: [gone.host], model: "m" });
    await expect(down.generate({ messages: msg, maxTokens: 4 })).rejects.toThrow(`model server ${gone.host} could not be reached (ECONNREFUSED)`);

    // A server that answers a streaming request in one piece: the whole text as one token, same result.
    const oneShot = createRemoteLlm({ ...base, model: ms.chatModel });
    const streamed = await oneShot.generate({ messages: msg, maxTokens: 12 });
    ms.knobs.ignoreStream = true;
    const pieces: string[] = [];
    const whole = await oneShot.generate({ messages: msg, maxTokens: 12, onToken: (t) => pieces.push(t) });
    expect(whole).toMatchObject({ text: streamed.text, tokens: streamed.tokens, stopReason: streamed.stopReason });
    expect(pieces).toEqual([streamed.text]);
    ms.knobs.ignoreStream = false;

    ms.knobs.delayMs = 3000;
    const llm = createRemoteLlm({ ...base, model: ms.chatModel, maxConcurrent: 1, maxQueue: 0, timeoutMs: 500 });
    const first = llm.generate({ messages: msg, maxTokens: 4 });
    await waitFor(() => llm.stats().active === 1, 1000, "first request sent");
    expect(() => llm.assertCapacity()).toThrow(LlmBusyError);
    await expect(llm.generate({ messages: msg, maxTokens: 4 })).rejects.toBeInstanceOf(LlmBusyError);
    await expect(first).rejects.toBeInstanceOf(LlmTimeoutError);
    expect(llm.stats()).toMatchObject({ active: 0, queued: 0 });
  });
});

describe.skipIf(!HAS_GGUF)("the remote LLM's limits through the HTTP API (stories260K)", () => {
  let ms: ModelServer;
  let t: TestServer;
  let kim: string;

  beforeAll(async () => {
    ms = await startModelServer({ gguf: GGUF });
    t = await startTestServer({ llmRemote: { url: ms.baseUrl, model: ms.chatModel, apiKey: undefined }, modelHosts: ["127.0.0.1"], llmMaxConcurrent: 1, llmQueue: 0, llmTimeoutMs: 1500, llmContextSize: 2048, llmMaxTokens: 24 });
    kim = await t.tokenFor("kim", "viewer");
    await seed(t);
  });
  afterAll(async () => {
    await t?.close();
    await ms?.close();
  });

  it("answers 429 llm_busy while KB_LLM_MAX_CONCURRENT requests are at the server and the queue is full", async () => {
    ms.knobs.delayMs = 1000;
    const first = t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?" }));
    const sent = ms.stats.chat;
    await waitFor(() => t.kb.llm!.stats().active === 1, 5000, "first request at the server");
    const second = await t.fetchAs(kim, "/api/v1/ask", post({ question: "How many days of annual leave?" }));
    expect(second.status).toBe(429);
    expect(((await second.json()) as any).error.code).toBe("llm_busy");
    expect(second.headers.get("retry-after")).toBeTruthy();
    await (await first).body?.cancel();
    expect(ms.stats.chat).toBeLessThanOrEqual(sent + 1); // the refused one never reached the server
  });

  it("answers 504 llm_timeout when the server takes longer than KB_LLM_TIMEOUT_S, and drops the upstream request", async () => {
    await waitFor(() => t.kb.llm!.stats().active === 0, 5000, "idle");
    ms.knobs.delayMs = 4000;
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "What should I do if the VPN connection drops?" }));
    expect(res.status).toBe(504);
    expect(((await res.json()) as any).error.code).toBe("llm_timeout");
    expect(t.kb.llm!.stats().active).toBe(0);
  });
});
