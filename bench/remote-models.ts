/**
 * npm run bench:remote-models — the same models in-process and behind an OpenAI-compatible server
 * (the remote-provider path, KB_LLM_URL / KB_EMBED_URL), side by side in one run:
 *
 * - The model server: bench/model-server.ts in its own process on 127.0.0.1 (the test helper's
 *   server: node-llama-cpp for /v1/chat/completions, transformers.js for /v1/embeddings), serving
 *   the same GGUF (stories260K) and the same embedding model folder (tiny-random-bert-ko) that
 *   the in-process knowledge base loads. Real generation and real embeddings, nothing canned.
 * - Two knowledge bases (SQLite), each with the same documents: "in-process" (KB_LLM_MODEL =
 *   the GGUF, KB_EMBED_MODEL = the folder) and "remote" (KB_LLM_URL + KB_EMBED_URL to the server,
 *   KB_MODEL_HOSTS = its host). Both: 1 llama.cpp thread, context 2048, hybrid retrieval.
 * - LLM, through the ask path (`POST /api/v1/ask`, SSE, as a viewer): time to first `delta`,
 *   decode tokens/s between first and last, whole answer; every answer exactly TOKENS tokens
 *   (end-of-generation suppressed). Rounds alternate in-process/remote (which goes first alternates).
 * - Embeddings: per-query embedding latency through the providers (`embedQueries` of one question:
 *   local transformers.js against the remote provider over HTTP), the search use case
 *   (`kb.search.search`, hybrid: the question embedded then searched) on both knowledge bases, and
 *   ingest throughput (a batch of KorQuAD paragraphs per round through the ingest job, both).
 *   Also checks that both paths give the same vectors (the same model) and the same search ranking.
 *
 *   npm run bench:remote-models [-- --tokens 128 --rounds 7 --queries 200 --ingest-rounds 4 --ingest-docs 60]
 * Writes section "remote-models" of docs/benchmarks.md.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { evalAsker, ingestQaDocuments } from "../src/eval/run-eval.ts";
import { startServer } from "../src/http/server.ts";
import { loadEmbeddingProvider } from "../src/models/embeddings.ts";
import { loadRemoteEmbeddingProvider } from "../src/models/remote-embeddings.ts";
import { openKb, type Kb } from "../src/services/container.ts";
import { sameScoresUpToTies } from "./qa-datasets.ts";
import { replaceSection } from "./report.ts";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "128" },
    rounds: { type: "string", default: "7" },
    queries: { type: "string", default: "200" },
    "ingest-rounds": { type: "string", default: "4" },
    "ingest-docs": { type: "string", default: "60" },
  },
});
const TOKENS = Number(values.tokens);
const ROUNDS = Number(values.rounds);
const QUERIES = Number(values.queries);
const INGEST_ROUNDS = Number(values["ingest-rounds"]);
const INGEST_DOCS = Number(values["ingest-docs"]);
const THREADS = 1;
const CONTEXT = 2048;
const GGUF = path.resolve(process.env.KB_TEST_GGUF ?? "../shared/models/stories260K/stories260K.gguf");
const EMBED_SRC = path.resolve("../shared/models/tiny-random-bert-ko");
const EMBED_MODEL = "tiny-random-bert-ko";
const KORQUAD = path.resolve("../shared/data/korquad1_dev/KorQuAD_v1.0_dev.json");
for (const p of [GGUF, EMBED_SRC, KORQUAD]) {
  if (!fs.existsSync(p)) {
    console.log(`skip: ${p} not found`);
    process.exit(0);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const f = (x: number, d = 1) => x.toFixed(d);

// The embedding model folder, copied (the shared one is read-only) for the in-process side and the server.
const work = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-remote-"));
const modelsDir = path.join(work, "models");
fs.cpSync(EMBED_SRC, path.join(modelsDir, EMBED_MODEL), { recursive: true });

const child = spawn(process.execPath, ["--import", "tsx", "bench/model-server.ts", GGUF, String(THREADS), modelsDir, EMBED_MODEL], { stdio: ["pipe", "pipe", "inherit"] });
const remote = await new Promise<{ baseUrl: string; host: string; chatModel: string; embedModel: string }>((resolve, reject) => {
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line) resolve(JSON.parse(line) as { baseUrl: string; host: string; chatModel: string; embedModel: string });
  });
  child.on("exit", (code) => reject(new Error(`model server exited (${code})`)));
});

type Side = "in-process" | "remote";
const SIDES: Side[] = ["in-process", "remote"];
const common = { embedModel: undefined, logLevel: "silent" as const, rateLimitPerMinute: 0, llmContextSize: CONTEXT, llmQueue: 1 };
async function open(side: Side): Promise<{ kb: Kb; dir: string }> {
  const dir = fs.mkdtempSync(path.join(work, `kb-${side}-`));
  const config =
    side === "in-process"
      ? loadConfig({}, { ...common, dataDir: dir, modelsDir, embedModel: EMBED_MODEL, llmModel: GGUF, llmGpu: false, llmGpuLayers: 0, llmThreads: THREADS })
      : loadConfig(
          {},
          {
            ...common,
            dataDir: dir,
            modelsDir: path.join(dir, "models"),
            llmRemote: { url: remote.baseUrl, model: remote.chatModel, apiKey: undefined },
            embedRemote: { url: remote.baseUrl, model: remote.embedModel, apiKey: undefined, queryPrefix: undefined, passagePrefix: undefined, batchSize: 32, timeoutMs: 60_000 },
            modelHosts: [remote.host],
            llmMaxConcurrent: 1,
          },
        );
  const kb = await openKb(config, { logger: pino({ level: "silent" }), llmAnswer: { maxTokens: TOKENS, ignoreEos: true } });
  return { kb, dir };
}

const dataset = await readQaDataset(KORQUAD);
const generated = new Map<Side, { tokens: number; stop: string; messages: string }[]>(SIDES.map((s) => [s, []]));
const kbs = new Map<Side, { kb: Kb; url: string; token: string; toQaId: Map<string, string>; close: () => Promise<void> }>();
for (const side of SIDES) {
  const { kb } = await open(side);
  // The same first 100 paragraphs in both, so both retrieve the same sources for the ask prompt.
  const { toQaId } = await ingestQaDocuments(kb, dataset.documents.slice(0, 100));
  await kb.accounts.createUser({ name: "bench", role: "viewer", groups: [] });
  const token = (await kb.accounts.createToken("bench")).token;
  const server = await startServer(kb, { port: 0, host: "127.0.0.1" });
  kbs.set(side, { kb, url: server.url, token, toQaId, close: async () => (await server.close(), await kb.close()) });
  // Records what each generation returned (tokens, stop reason): both sides must generate TOKENS.
  const provider = (await kb.loadLlm())!;
  const generate = provider.generate.bind(provider);
  provider.generate = async (request) => {
    const result = await generate(request);
    generated.get(side)!.push({ tokens: result.tokens, stop: result.stopReason, messages: JSON.stringify(request.messages) });
    return result;
  };
  if (kb.retriever.mode !== "hybrid") throw new Error(`${side}: retrieval is ${kb.retriever.mode}, expected hybrid`);
}

/* ---------------- LLM through the ask path ---------------- */

interface AskSample {
  ttftMs: number;
  tokensPerSecond: number;
  totalMs: number;
  /** `mode: answer` of the done event (both sides must give the same: same model, greedy, same prompt). */
  answer: string;
}
async function askOnce(side: Side, question: string): Promise<AskSample> {
  const { url, token } = kbs.get(side)!;
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/ask`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ question, stream: true }),
  });
  if (!res.ok) throw new Error(`${side}: HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let first = 0;
  let last = 0;
  let done = false;
  let answer = "";
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    const now = performance.now();
    buf += decoder.decode(r.value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      if (event === "error") throw new Error(`${side}: ${block}`);
      if (event === "delta") {
        first ||= now;
        last = now;
      }
      if (event === "done") {
        done = true;
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "{}") as { answer?: string; mode?: string };
        answer = `${data.mode}: ${data.answer}`;
      }
    }
  }
  if (!done || !first) throw new Error(`${side}: the answer did not complete`);
  return { ttftMs: first - t0, tokensPerSecond: ((TOKENS - 1) * 1000) / (last - first), totalMs: performance.now() - t0, answer };
}

const load0 = os.loadavg()[0]!;
const ask = new Map<Side, AskSample[]>(SIDES.map((s) => [s, []]));
const QUESTION = dataset.questions[0]!.question;
for (let r = 0; r <= ROUNDS; r++) {
  for (const side of r % 2 ? [...SIDES].reverse() : SIDES) {
    const s = await askOnce(side, QUESTION);
    if (r > 0) ask.get(side)!.push(s); // round 0: warm-up
  }
  process.stderr.write(`\rask round ${r}/${ROUNDS}   `);
}
process.stderr.write("\n");

/* ---------------- embeddings ---------------- */

const localEmbedder = (await loadEmbeddingProvider({ modelsDir, model: EMBED_MODEL, log: () => {} }))!;
const remoteEmbedder = await loadRemoteEmbeddingProvider({ url: remote.baseUrl, model: remote.embedModel, apiKey: undefined, allowedHosts: [remote.host] });
const providers = { "in-process": localEmbedder, remote: remoteEmbedder } as const;
const questions = dataset.questions.slice(0, QUERIES).map((q) => q.question);
let maxDiff = 0;
for (const q of questions.slice(0, 20)) {
  const [a] = await localEmbedder.embedQueries([q]);
  const [b] = await remoteEmbedder.embedQueries([q]);
  for (let i = 0; i < a!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a![i]! - b![i]!));
}
const embedMs = new Map<Side, number[]>(SIDES.map((s) => [s, []]));
const searchMs = new Map<Side, number[]>(SIDES.map((s) => [s, []]));
const askers = new Map<Side, Awaited<ReturnType<typeof evalAsker>>>();
for (const side of SIDES) askers.set(side, await evalAsker(kbs.get(side)!.kb));
let rankingsDiffer = 0;
let rankingsDifferInScores = 0;
for (const [i, q] of questions.entries()) {
  const order = i % 2 ? [...SIDES].reverse() : SIDES;
  for (const side of order) {
    const t0 = performance.now();
    await providers[side].embedQueries([q]);
    embedMs.get(side)!.push(performance.now() - t0);
  }
  const ranked = new Map<Side, string>();
  for (const side of order) {
    const { kb, toQaId } = kbs.get(side)!;
    const t0 = performance.now();
    const { chunks } = await kb.search.search(askers.get(side)!, q, { topK: 10 });
    searchMs.get(side)!.push(performance.now() - t0);
    ranked.set(side, chunks.map((c) => toQaId.get(c.documentId) ?? c.documentId).join(","));
  }
  if (ranked.get("in-process") !== ranked.get("remote")) {
    rankingsDiffer++;
    const [a, b] = SIDES.map((side) => kbs.get(side)!);
    if (!(await sameScoresUpToTies(a!, b!, q, 10))) rankingsDifferInScores++;
  }
}

const ingestSec = new Map<Side, number[]>(SIDES.map((s) => [s, []]));
const ingestChunks = new Map<Side, number>();
for (let r = 0; r < INGEST_ROUNDS; r++) {
  const docs = dataset.documents.slice(100 + r * INGEST_DOCS, 100 + (r + 1) * INGEST_DOCS);
  for (const side of r % 2 ? [...SIDES].reverse() : SIDES) {
    const { seconds } = await ingestQaDocuments(kbs.get(side)!.kb, docs);
    ingestSec.get(side)!.push(seconds);
  }
  process.stderr.write(`\ringest round ${r + 1}/${INGEST_ROUNDS}   `);
}
process.stderr.write("\n");
for (const side of SIDES) ingestChunks.set(side, await kbs.get(side)!.kb.chunks.count());
const load1 = os.loadavg()[0]!;

await localEmbedder.close();
await remoteEmbedder.close();
for (const { close } of kbs.values()) await close();
child.stdin!.end();
await new Promise((r) => child.once("exit", r));
fs.rmSync(work, { recursive: true, force: true });

/* ---------------- report ---------------- */

const paired = (m: Map<Side, number[]>, op: (remote: number, local: number) => number) => median(m.get("remote")!.map((x, i) => op(x, m.get("in-process")![i]!)));
type Timing = Exclude<keyof AskSample, "answer">;
const askOf = (side: Side, key: Timing) => ask.get(side)!.map((s) => s[key]);
const tokenCounts = (side: Side) => [...new Set(generated.get(side)!.map((g) => `${g.tokens} (${g.stop})`))].join(", ");
const allFull = SIDES.every((side) => generated.get(side)!.length === ROUNDS + 1 && generated.get(side)!.every((g) => g.tokens === TOKENS));
console.log(`generated: ${SIDES.map((s) => `${s}: ${tokenCounts(s)} × ${generated.get(s)!.length}`).join("; ")}`);
const prompts = new Set(SIDES.flatMap((s) => generated.get(s)!.map((g) => g.messages)));
const answers = new Set(SIDES.flatMap((s) => ask.get(s)!.map((x) => x.answer)));
console.log(`answers: ${[...answers].map((a) => JSON.stringify(a.slice(0, 200))).join("\n")}`);
const askMap = (key: Timing) => new Map<Side, number[]>(SIDES.map((s) => [s, askOf(s, key)]));
const docsPerSecond = (side: Side) => ingestSec.get(side)!.map((s) => INGEST_DOCS / s);
const body = [
  "## Remote model servers against in-process models (same models)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:remote-models\`` +
    `${TOKENS !== 128 || ROUNDS !== 7 || QUERIES !== 200 || INGEST_ROUNDS !== 4 || INGEST_DOCS !== 60 ? ` (\`-- --tokens ${TOKENS} --rounds ${ROUNDS} --queries ${QUERIES} --ingest-rounds ${INGEST_ROUNDS} --ingest-docs ${INGEST_DOCS}\`)` : ""}` +
    `; 1-minute load average ${f(load0)} before, ${f(load1)} after (2 cores shared with other work: compare the paired ratios, not the absolute times with other sections). ` +
    `In-process: a knowledge base with KB_LLM_MODEL = stories260K.gguf (node-llama-cpp, CPU, ${THREADS} thread, context ${CONTEXT}) and KB_EMBED_MODEL = tiny-random-bert-ko (transformers.js; 32-d, random weights: plumbing cost only). ` +
    `Remote: a second knowledge base with KB_LLM_URL and KB_EMBED_URL pointing at \`bench/model-server.ts\` on 127.0.0.1 in another process (the test helper's OpenAI-compatible server: the same GGUF through node-llama-cpp, ${THREADS} thread, and the same embedding folder through transformers.js), host on KB_MODEL_HOSTS. ` +
    `Both hold the same 100 KorQuAD paragraphs and retrieve in hybrid mode. Over a real network add the round trips; a GPU server changes the model's own time, not the per-request costs measured here.`,
  "",
  `**LLM, through \`POST /api/v1/ask\` (SSE, as a viewer)**: ${TOKENS} tokens per answer (end-of-generation suppressed), ${ROUNDS} rounds after a warm-up, in-process and remote alternating (which goes first alternates). TTFT includes retrieval (and so the question's embedding, remote on the remote side) and prompt building. ${allFull ? `Every generation on both sides returned exactly ${TOKENS} tokens (checked on the provider's result), so both did the same amount of work` : `**Not every generation returned ${TOKENS} tokens**: in-process ${tokenCounts("in-process")}; remote ${tokenCounts("remote")}`}; ${prompts.size === 1 ? "the messages handed to the provider were the same on both sides in every round" : `**the messages handed to the provider differed** (${prompts.size} distinct prompts over both sides)`}; ${answers.size === 1 ? "the answers were the same text on both sides" : `the answer texts differ between the sides (${answers.size} distinct texts${prompts.size === 1 ? ": the same messages, rendered and evaluated by node-llama-cpp in this process and in the server's, gave different greedy continuations; not investigated further" : ""})`}.`,
  "",
  "| path | TTFT p50 | decode tok/s p50 (min–max) | whole answer p50 |",
  "|---|---|---|---|",
  ...SIDES.map((s) => {
    const tps = askOf(s, "tokensPerSecond");
    return `| ${s} | ${f(median(askOf(s, "ttftMs")))} ms | ${f(median(tps), 0)} (${f(Math.min(...tps), 0)}–${f(Math.max(...tps), 0)}) | ${f(median(askOf(s, "totalMs")), 0)} ms |`;
  }),
  "",
  `Remote against in-process, median of the per-round differences/ratios: TTFT **${paired(askMap("ttftMs"), (a, b) => a - b) >= 0 ? "+" : ""}${f(paired(askMap("ttftMs"), (a, b) => a - b))} ms**, decode tokens/s **×${f(paired(askMap("tokensPerSecond"), (a, b) => a / b), 2)}**, whole answer **×${f(paired(askMap("totalMs"), (a, b) => a / b), 2)}**.`,
  "",
  `**Embeddings**: ${QUERIES} KorQuAD questions, one at a time, in-process and remote alternating per question; ingest: ${INGEST_ROUNDS} rounds of ${INGEST_DOCS} new paragraphs through the ingest job into each knowledge base, alternating. ` +
    `The two paths give the same vectors (largest difference ${maxDiff.toExponential(1)} over 20 questions) and ${
      rankingsDiffer === 0
        ? "the same search ranking for every question"
        : rankingsDifferInScores === 0
          ? `the same scores for every question; ${rankingsDiffer} of ${QUERIES} rankings list chunks of equal score in another order (ties, which document ids decide, and the ids differ between the two knowledge bases)`
          : `**different scores for ${rankingsDifferInScores} of ${QUERIES} questions** (${rankingsDiffer - rankingsDifferInScores} more differ only in the order of equal scores; with the same vectors the difference is in the search itself, cause not investigated)`
    }.`,
  "",
  "| path | query embedding p50 / p95 | search use case (hybrid) p50 / p95 | ingest documents/s p50 (per round) |",
  "|---|---|---|---|",
  ...SIDES.map(
    (s) =>
      `| ${s} | ${f(median(embedMs.get(s)!), 2)} / ${f(pct(embedMs.get(s)!, 95), 2)} ms | ${f(median(searchMs.get(s)!))} / ${f(pct(searchMs.get(s)!, 95))} ms | ${f(median(docsPerSecond(s)))} (${docsPerSecond(s).map((x) => f(x)).join(", ")}) |`,
  ),
  "",
  `Remote against in-process (median of paired differences/ratios): query embedding **${paired(embedMs, (a, b) => a - b) >= 0 ? "+" : ""}${f(paired(embedMs, (a, b) => a - b), 2)} ms** (×${f(paired(embedMs, (a, b) => a / b), 2)}), search ${paired(searchMs, (a, b) => a - b) >= 0 ? "+" : ""}${f(paired(searchMs, (a, b) => a - b), 2)} ms (×${f(paired(searchMs, (a, b) => a / b), 2)}), ingest time ×${f(paired(ingestSec, (a, b) => a / b), 2)}. ` +
    `Chunks at the end: ${SIDES.map((s) => `${s} ${ingestChunks.get(s)}`).join(", ")}. ` +
    `The embedding model is tiny (1 layer, 32-d), so its own compute is close to nothing and these figures are the remote path's fixed costs (HTTP request, JSON of the vectors, the server's queue); with a real model on the same CPU both sides spend the model's time too, and on a GPU server the model's time moves off this machine.`,
].join("\n");
console.log(body);
replaceSection("docs/benchmarks.md", "remote-models", body);
console.log("updated docs/benchmarks.md");
