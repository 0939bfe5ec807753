/**
 * npm run bench:llm (tsx bench/llm.ts [model.gguf] [tokens] [runs]) — LLM answers through the HTTP
 * API against raw node-llama-cpp generation of the same model, prompt and token count, in the
 * same run. The ratio is what the server adds: retrieval, prompt building, the queue, the chat
 * session, SSE framing and the HTTP round trip.
 *
 * - Server: a real knowledge base in a temporary folder, the GGUF loaded from the configuration
 *   (KB_LLM_* path: CPU, 1 thread), one small document; `POST /api/v1/ask` with `stream: true`
 *   (and the OpenAI-compatible `/v1/chat/completions` stream). The answerer runs with ignoreEos
 *   and a fixed token limit, so every answer is exactly `tokens` long.
 * - Raw: node-llama-cpp directly — the exact prompt the server sent (captured through the
 *   provider's onGenerate hook, rendered with the same chat wrapper), greedy, end-of-generation
 *   suppressed, `tokens` tokens from a context sequence. Same threads (1), same context size.
 *   "cold" evaluates the whole prompt; "warm" reuses the prompt prefix already in the sequence,
 *   as the server's chat session does (the comparison the ratios are taken against).
 * - Provider alone: `LlmProvider.generate` with the same messages (chat session and queue, no HTTP).
 * - TTFT: request start → first generated text (HTTP: first `delta` event). Decode tokens/s:
 *   (tokens − 1) / (last token − first token); CPU ms/token: process CPU time over the same span.
 *   Runs are interleaved (cold, warm, provider, ask, openai, cold, …) so load from other processes
 *   on a shared machine hits all alike; ratios are medians of per-round ratios.
 *
 * - Remote path (KB_LLM_URL): the same model served by an OpenAI-compatible server in its own
 *   process (bench/model-server.ts: node-llama-cpp, 1 thread, one sequence) on loopback, reached
 *   through the remote provider (`createRemoteLlm`, streaming SSE) alone and through a second
 *   knowledge base's `POST /api/v1/ask`. Compared with the in-process provider and ask of the
 *   same round: what the network path adds (HTTP + SSE both ways, JSON per token).
 *
 * Default model: $KB_TEST_GGUF or ../shared/models/stories260K/stories260K.gguf.
 * Writes its figures into docs/benchmarks.md (section "llm").
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { startServer } from "../src/http/server.ts";
import { toChatHistory, type LlmMessage } from "../src/models/llm.ts";
import { openKb } from "../src/services/container.ts";
import { replaceSection } from "./report.ts";

const modelPath = path.resolve(process.argv[2] || process.env.KB_TEST_GGUF || "../shared/models/stories260K/stories260K.gguf");
const TOKENS = Number.parseInt(process.argv[3] ?? "512", 10);
const RUNS = Number.parseInt(process.argv[4] ?? "9", 10);
const THREADS = 1;
const CONTEXT = 2048;
const QUESTION = "What should I do if the VPN connection drops?";

if (!fs.existsSync(modelPath)) {
  console.error(`model not found: ${modelPath} (pass a GGUF path or set KB_TEST_GGUF)`);
  process.exit(1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Sample {
  ttftMs: number;
  tokensPerSecond: number;
  totalMs: number;
  /** Process CPU time (all threads: llama.cpp, server, and the HTTP client in this process) per token while decoding. */
  cpuMsPerToken: number;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/* ---------------- server ---------------- */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-llm-"));
let captured: LlmMessage[] | null = null;
const config = loadConfig(
  {},
  {
    dataDir: dir,
    modelsDir: path.join(dir, "models"),
    embedModel: "none",
    logLevel: "silent",
    rateLimitPerMinute: 0,
    llmModel: modelPath,
    llmGpu: false,
    llmGpuLayers: 0,
    llmThreads: THREADS,
    llmContextSize: CONTEXT,
    llmQueue: 1,
  },
);
const kb = await openKb(config, {
  logger: pino({ level: "silent" }),
  llm: { onGenerate: (m) => (captured = [...m]) },
  llmAnswer: { maxTokens: TOKENS, ignoreEos: true },
});
const doc = path.join(dir, "vpn.txt");
fs.writeFileSync(doc, "VPN setup\n\nInstall the VPN client from the software center. If the VPN connection drops, switch to a wired connection and reconnect.\n");
const { jobId } = await kb.ingest.submit(SYSTEM_ACTOR, [{ source: "vpn.txt", path: doc }]);
await kb.metadata.jobs.claimJob(jobId, "bench", 60_000);
await kb.jobs.run(jobId, "bench");
await kb.accounts.createUser({ name: "bench", role: "viewer", groups: [] });
const token = (await kb.accounts.createToken("bench")).token;
const server = await startServer(kb, { port: 0, host: "127.0.0.1" });

/** Reads an SSE response; returns the arrival times of data events that carry generated text. */
async function timeStream(res: Response, isText: (event: string, data: string) => boolean, t0: number): Promise<Sample> {
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = performance.now();
    const cpu = cpuMs();
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      if (event === "error") throw new Error(data);
      if (isText(event, data)) {
        if (!first) {
          first = now;
          cpuFirst = cpu;
        }
        last = now;
        cpuLast = cpu;
      }
    }
  }
  const end = performance.now();
  return { ttftMs: first - t0, tokensPerSecond: ((TOKENS - 1) * 1000) / (last - first), totalMs: end - t0, cpuMsPerToken: (cpuLast - cpuFirst) / (TOKENS - 1) };
}

async function askOnce(): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/api/v1/ask`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ question: QUESTION, stream: true }),
  });
  return timeStream(res, (event) => event === "delta", t0);
}

async function openaiOnce(): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "private-kb-llm", stream: true, messages: [{ role: "user", content: QUESTION }] }),
  });
  return timeStream(
    res,
    (_e, data) => {
      if (!data.startsWith("{")) return false;
      const content = (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
      return typeof content === "string" && content.length > 0;
    },
    t0,
  );
}

/* ---------------- remote: the same model behind an OpenAI-compatible server ---------------- */

const child = spawn(process.execPath, ["--import", "tsx", "bench/model-server.ts", modelPath, String(THREADS)], { stdio: ["pipe", "pipe", "inherit"] });
const remote = await new Promise<{ baseUrl: string; host: string; chatModel: string }>((resolve, reject) => {
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line) resolve(JSON.parse(line) as { baseUrl: string; host: string; chatModel: string });
  });
  child.on("exit", (code) => reject(new Error(`model server exited (${code})`)));
});
const remoteDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-llm-remote-"));
const kbRemote = await openKb(
  loadConfig(
    {},
    {
      dataDir: remoteDir,
      modelsDir: path.join(remoteDir, "models"),
      embedModel: "none",
      logLevel: "silent",
      rateLimitPerMinute: 0,
      llmRemote: { url: remote.baseUrl, model: remote.chatModel, apiKey: undefined },
      modelHosts: [remote.host],
      llmContextSize: CONTEXT,
      llmMaxConcurrent: 1,
      llmQueue: 1,
    },
  ),
  { logger: pino({ level: "silent" }), llmAnswer: { maxTokens: TOKENS, ignoreEos: true } },
);
{
  const { jobId: rj } = await kbRemote.ingest.submit(SYSTEM_ACTOR, [{ source: "vpn.txt", path: doc }]);
  await kbRemote.metadata.jobs.claimJob(rj, "bench", 60_000);
  await kbRemote.jobs.run(rj, "bench");
  await kbRemote.accounts.createUser({ name: "bench", role: "viewer", groups: [] });
}
const remoteToken = (await kbRemote.accounts.createToken("bench")).token;
const remoteServer = await startServer(kbRemote, { port: 0, host: "127.0.0.1" });

async function remoteAskOnce(): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${remoteServer.url}/api/v1/ask`, {
    method: "POST",
    headers: { authorization: `Bearer ${remoteToken}`, "content-type": "application/json" },
    body: JSON.stringify({ question: QUESTION, stream: true }),
  });
  return timeStream(res, (event) => event === "delta", t0);
}

/* ---------------- raw node-llama-cpp ---------------- */

const nlc = await import("node-llama-cpp");
const llama = await nlc.getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false, maxThreads: THREADS, logLevel: nlc.LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: CONTEXT, threads: THREADS });
const sequence = context.getSequence();
const wrapper = nlc.resolveChatWrapper(model, { warningLogs: false, fallbackToOtherWrappersOnJinjaError: true }) ?? new nlc.GeneralChatWrapper();
const bias = new nlc.TokenBias(model.tokenizer);
for (const t of [model.tokens.eos, model.tokens.eot]) if (t != null) bias.set(t, "never");

// The server's exact prompt: one ask, captured through the provider hook.
await askOnce();
if (!captured) throw new Error("no prompt captured");
const promptTokens = wrapper.generateContextState({ chatHistory: toChatHistory(captured) }).contextText.tokenize(model.tokenizer);

/**
 * cold: the whole prompt evaluated from an empty sequence. warm: the sequence keeps its state and
 * only the part of the prompt that differs from it is evaluated — what LlamaChat does in the server
 * (here the same prompt every run, so nearly all of it is reused, on both sides).
 */
async function rawOnce(warm: boolean): Promise<Sample> {
  const t0 = performance.now();
  let input = promptTokens;
  if (!warm) await sequence.clearHistory();
  else {
    const keep = Math.min(sequence.compareContextTokens(promptTokens).firstDifferentIndex, promptTokens.length - 1);
    if (keep < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
    input = promptTokens.slice(keep);
  }
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let n = 0;
  for await (const _t of sequence.evaluate(input, { temperature: 0, tokenBias: bias })) {
    last = performance.now();
    cpuLast = cpuMs();
    if (n === 0) {
      first = last;
      cpuFirst = cpuLast;
    }
    if (++n >= TOKENS) break;
  }
  return { ttftMs: first - t0, tokensPerSecond: ((TOKENS - 1) * 1000) / (last - first), totalMs: performance.now() - t0, cpuMsPerToken: (cpuLast - cpuFirst) / (TOKENS - 1) };
}

/** The provider alone (LlamaChat session, queue, callbacks; no HTTP, no retrieval), same prompt. */
async function providerOnce(llm = kb.llm!): Promise<Sample> {
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  const res = await llm.generate({
    messages: captured!,
    maxTokens: TOKENS,
    ignoreEos: true,
    onToken: () => {
      last = performance.now();
      cpuLast = cpuMs();
      if (!first) {
        first = last;
        cpuFirst = cpuLast;
      }
    },
  });
  if (res.tokens !== TOKENS) throw new Error(`provider generated ${res.tokens} tokens, expected ${TOKENS}`);
  return { ttftMs: first - t0, tokensPerSecond: ((TOKENS - 1) * 1000) / (last - first), totalMs: performance.now() - t0, cpuMsPerToken: (cpuLast - cpuFirst) / (TOKENS - 1) };
}

/* ---------------- run ---------------- */

const load0 = os.loadavg()[0]!;
const samples = { cold: [] as Sample[], raw: [] as Sample[], provider: [] as Sample[], ask: [] as Sample[], openai: [] as Sample[], remoteProvider: [] as Sample[], remoteAsk: [] as Sample[] };
for (let r = 0; r <= RUNS; r++) {
  const cold = await rawOnce(false);
  const raw = await rawOnce(true);
  const provider = await providerOnce();
  const ask = await askOnce();
  const oa = await openaiOnce();
  const remoteProvider = await providerOnce(kbRemote.llm!);
  const remoteAsk = await remoteAskOnce();
  if (r === 0) continue; // warm-up
  samples.cold.push(cold);
  samples.raw.push(raw);
  samples.provider.push(provider);
  samples.ask.push(ask);
  samples.openai.push(oa);
  samples.remoteProvider.push(remoteProvider);
  samples.remoteAsk.push(remoteAsk);
}
const load1 = os.loadavg()[0]!;
const info = kb.llm!.info();

await server.close();
await kb.close();
await remoteServer.close();
await kbRemote.close();
child.stdin!.end();
await new Promise((r) => child.once("exit", r));
await llama.dispose();
fs.rmSync(dir, { recursive: true, force: true });
fs.rmSync(remoteDir, { recursive: true, force: true });

/** Median of per-round ratios against the raw warm run of the same round (paired: load drift cancels out). */
const paired = (xs: Sample[], f: (s: Sample) => number) => median(xs.map((x, i) => f(x) / f(samples.raw[i]!)));
const summary = (xs: Sample[]) => ({
  tpsRatio: paired(xs, (s) => s.tokensPerSecond),
  totalRatio: paired(xs, (s) => s.totalMs),
  ttftDelta: median(xs.map((x, i) => x.ttftMs - samples.raw[i]!.ttftMs)),
  ttftMs: median(xs.map((x) => x.ttftMs)),
  tokensPerSecond: median(xs.map((x) => x.tokensPerSecond)),
  minTps: Math.min(...xs.map((x) => x.tokensPerSecond)),
  maxTps: Math.max(...xs.map((x) => x.tokensPerSecond)),
  totalMs: median(xs.map((x) => x.totalMs)),
  cpuMsPerToken: median(xs.map((x) => x.cpuMsPerToken)),
  cpuRatio: paired(xs, (s) => s.cpuMsPerToken),
});
const cold = summary(samples.cold);
const raw = summary(samples.raw);
const provider = summary(samples.provider);
const ask = summary(samples.ask);
const oa = summary(samples.openai);
const remoteProvider = summary(samples.remoteProvider);
const remoteAsk = summary(samples.remoteAsk);
/** Remote against in-process, paired per round: TTFT difference (ms) and decode tokens/s ratio. */
const overhead = (remoteSamples: Sample[], local: Sample[]) => ({
  ttftMs: median(remoteSamples.map((x, i) => x.ttftMs - local[i]!.ttftMs)),
  tps: median(remoteSamples.map((x, i) => x.tokensPerSecond / local[i]!.tokensPerSecond)),
  total: median(remoteSamples.map((x, i) => x.totalMs / local[i]!.totalMs)),
});
const overProvider = overhead(samples.remoteProvider, samples.provider);
const overAsk = overhead(samples.remoteAsk, samples.ask);
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
const row = (name: string, s: ReturnType<typeof summary>) =>
  `| ${name} | ${s.ttftMs.toFixed(1)} | ${s.ttftDelta >= 0 ? "+" : ""}${s.ttftDelta.toFixed(1)} | ${s.tokensPerSecond.toFixed(0)} (${s.minTps.toFixed(0)}–${s.maxTps.toFixed(0)}) | ${pct(s.tpsRatio)} | ${s.totalMs.toFixed(0)} | ${pct(s.totalRatio)} | ${s.cpuMsPerToken.toFixed(3)} | ${pct(s.cpuRatio)} |`;

const cpu = `${os.cpus()[0]?.model ?? "?"} × ${os.availableParallelism()}`;
const body = [
  "## LLM answers: server vs raw node-llama-cpp",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:llm\` (\`bench/llm.ts\`) on ${cpu}, shared with other work ` +
    `(1-minute load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after).`,
  `Model ${info.model} (${info.chatWrapper} template) on the **CPU**, ${THREADS} thread, context ${CONTEXT}; prompt ${promptTokens.length} tokens ` +
    `(the grounded prompt the server built for one source); every answer exactly ${TOKENS} tokens (end-of-generation suppressed); median of ${RUNS} interleaved runs after a warm-up.`,
  "",
  "Ratios and TTFT differences are medians of per-round comparisons with the raw warm run of the same round (rounds are interleaved, so load drift on the shared machine cancels out); absolute figures are medians.",
  "",
  "| path | TTFT ms | TTFT vs raw warm, ms | decode tok/s (min–max) | tok/s vs raw warm | total ms | total vs raw warm | CPU ms/token | CPU/token vs raw warm |",
  "|---|---|---|---|---|---|---|---|---|",
  row("raw node-llama-cpp, cold (whole prompt evaluated)", cold),
  row("raw node-llama-cpp, warm (prompt prefix reused, as the server's chat session does)", raw),
  row("provider alone (`LlmProvider.generate`: chat session, queue; no HTTP)", provider),
  row("`POST /api/v1/ask` SSE", ask),
  row("`POST /v1/chat/completions` stream", oa),
  row("remote: provider alone (`createRemoteLlm`: HTTP + SSE to the model server in another process)", remoteProvider),
  row("remote: `POST /api/v1/ask` SSE with `KB_LLM_URL` (model server in another process)", remoteAsk),
  "",
  `**Remote path against in-process, same model, same round** (median of paired differences/ratios): provider alone ${overProvider.ttftMs >= 0 ? "+" : ""}${overProvider.ttftMs.toFixed(1)} ms TTFT, ` +
    `decode tok/s ×${overProvider.tps.toFixed(2)}, total ×${overProvider.total.toFixed(2)}; \`POST /api/v1/ask\` ${overAsk.ttftMs >= 0 ? "+" : ""}${overAsk.ttftMs.toFixed(1)} ms TTFT, ` +
    `decode tok/s ×${overAsk.tps.toFixed(2)}, total ×${overAsk.total.toFixed(2)}. The model server is the loopback test server ` +
    "(`test/helpers/openai-compatible-server.ts`: node-llama-cpp with the same thread count, one SSE chunk of JSON per token, `ignore_eos`) in its own process, not vLLM or llama.cpp's server. " +
    "Being another process, it decodes on its own thread while the knowledge base handles the previous tokens, and it competes for the same two cores with everything else on this machine, " +
    "so the remote rows move with the machine's load more than the others (see their min–max); their CPU ms/token counts this process only, leaving the model's own work out. " +
    "Over a real network, add the round trip to the TTFT.",
  "",
  "TTFT through HTTP adds the request, authentication, ACL-filtered retrieval, prompt building and the chat session's prompt handling to the model's own " +
    "first token; the server, like the raw warm run, reuses the evaluated prompt prefix, which is why both are far below the cold run. " +
    "Decode tokens/s is what the client sees between the first and the last streamed token; the answerer sends at most one `delta` per 25 ms " +
    "(`streamIntervalMs`: tokens that come faster are sent together, a slower model is never held back). " +
    "CPU ms/token counts every thread of the benchmark process, which also runs the HTTP client, so the HTTP rows are upper bounds. " +
    "stories260K is a 260K-parameter test model; a real model spends more time per token, so the same fixed per-request and per-event costs weigh proportionally less.",
  "",
  "**GPU offload is untested**: no GPU machine was available for this work. The CUDA/Vulkan paths are node-llama-cpp's prebuilt binaries, picked by `KB_LLM_GPU=auto` (fallback to the CPU is reported to admins in `/readyz` as `llm.gpuFallback`); no figures are claimed for them.",
].join("\n");

console.log(body);
replaceSection("docs/benchmarks.md", "llm", body);
console.log("\nwritten to docs/benchmarks.md (section llm)");
