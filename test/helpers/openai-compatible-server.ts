/**
 * A real OpenAI-compatible model server on loopback, for the remote-provider tests and bench:
 * - `POST /v1/chat/completions` (streaming and not) from node-llama-cpp with the tiny GGUF
 *   (stories260K), through the project's own node-llama-cpp wrapper (`loadLlm`: chat template,
 *   greedy decoding, abort between tokens); `ignore_eos` is honoured as vLLM and llama.cpp do;
 * - `POST /v1/embeddings` from transformers.js with the fixture embedder (tiny-embed), raw texts
 *   (no prefixes: the client adds them, as with a real server);
 * - `GET /v1/models`.
 * Knobs inject a delay before answering, error statuses (429 with Retry-After, 500 …), a
 * redirect, and vectors of another dimension; counters show what arrived, and a request whose
 * client went away is counted in `cancelled` (observed on this side, from the socket closing).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { loadEmbeddingProvider, type EmbeddingProvider } from "../../src/models/embeddings.ts";
import { loadLlm, type LlmMessage, type LlmProvider } from "../../src/models/llm.ts";

export interface ModelServerOptions {
  /** GGUF for chat completions; absent: chat answers 503. */
  gguf?: string;
  /** Name the chat model is served under (default "stories260K"). */
  chatModel?: string;
  /** Models folder and folder name of the embedder; absent: embeddings answer 503. */
  embed?: { modelsDir: string; model: string };
  /** Name the embedder is served under (default the folder name). */
  embedModel?: string;
  /** Required Bearer key, if any. */
  apiKey?: string;
  /** Generations at once (default 2). */
  sequences?: number;
  /** llama.cpp threads (default 1). */
  threads?: number;
}

export interface Knobs {
  /** Milliseconds to wait before answering any /v1 POST (after the request arrived). */
  delayMs: number;
  /** Answer the next `times` POSTs with this status (and body, Retry-After). */
  fail: { status: number; times: number; retryAfter?: string; body?: unknown } | null;
  /** Answer POSTs with a 307 to this URL. */
  redirectTo: string | null;
  /** Cut every embedding to this many numbers (a server whose model changed). */
  embedDimension: number | null;
  /** Every chat completion ignores end-of-generation and runs to max_tokens (endless with a large one). */
  forceIgnoreEos: boolean;
  /** Every chat completion gets this max_tokens instead of the request's (with forceIgnoreEos: an endless one). */
  forceMaxTokens: number | null;
  /** Answer streaming requests with one JSON completion (a server without streaming). */
  ignoreStream: boolean;
  /** End the response (cleanly, without finish_reason or [DONE]) after this many streamed tokens: a server or proxy that gives up mid-answer. */
  dropAfterTokens: number | null;
}

export interface ModelServerStats {
  chat: number;
  embeddings: number;
  /** Generations running now. */
  active: number;
  /** Generations stopped because the client went away. */
  cancelled: number;
  /** Authorization headers seen (to check the key is sent and nothing else). */
  authorizations: (string | undefined)[];
  /** Bodies of the chat requests, as received. */
  chatBodies: any[];
}

export interface ModelServer {
  url: string;
  /** The base URL clients configure: `${url}/v1`. */
  baseUrl: string;
  host: string;
  chatModel: string;
  embedModel: string;
  knobs: Knobs;
  stats: ModelServerStats;
  llm: LlmProvider | null;
  embedder: EmbeddingProvider | null;
  resetKnobs(): void;
  close(): Promise<void>;
}

const defaultKnobs = (): Knobs => ({ delayMs: 0, fail: null, redirectTo: null, embedDimension: null, forceIgnoreEos: false, forceMaxTokens: null, ignoreStream: false, dropAfterTokens: null });

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

const errorBody = (message: string, type = "invalid_request_error", code: string | null = null) => ({ error: { message, type, param: null, code } });

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p: any) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}

export async function startModelServer(opts: ModelServerOptions): Promise<ModelServer> {
  const chatModel = opts.chatModel ?? "stories260K";
  const llm = opts.gguf
    ? await loadLlm({ modelPath: opts.gguf, gpu: false, gpuLayers: 0, threads: opts.threads ?? 1, contextSize: 2048, sequences: opts.sequences ?? 2, maxQueue: 16, logger: { info() {}, warn() {} } })
    : null;
  const embedder = opts.embed ? await loadEmbeddingProvider({ modelsDir: opts.embed.modelsDir, model: opts.embed.model, log: () => {} }) : null;
  const embedModel = opts.embedModel ?? opts.embed?.model ?? "none";
  const knobs = defaultKnobs();
  const stats: ModelServerStats = { chat: 0, embeddings: 0, active: 0, cancelled: 0, authorizations: [], chatBodies: [] };
  let seq = 0;

  async function chat(body: any, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    stats.chat++;
    stats.chatBodies.push(body);
    if (!llm) return json(res, 503, errorBody("no chat model loaded", "server_error"));
    if (body?.model !== chatModel) return json(res, 404, errorBody(`The model \`${String(body?.model)}\` does not exist`, "invalid_request_error", "model_not_found"));
    if (!Array.isArray(body.messages) || body.messages.length === 0) return json(res, 400, errorBody("messages must be a non-empty array"));
    const messages: LlmMessage[] = body.messages.map((m: any) => ({ role: m.role === "assistant" || m.role === "system" ? m.role : "user", content: contentText(m.content) }));
    const id = `chatcmpl-${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    const ac = new AbortController();
    // The client went away before the answer was finished: stop generating.
    res.on("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    const maxTokens = knobs.forceMaxTokens ?? Number(body.max_tokens ?? body.max_completion_tokens ?? 256);
    const ignoreEos = body.ignore_eos === true || knobs.forceIgnoreEos;
    const stream = body.stream === true && !knobs.ignoreStream;
    if (stream) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const send = (obj: unknown) => {
      if (!res.writableEnded) res.write(`data: ${JSON.stringify(obj)}\n\n`);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({ id, object: "chat.completion.chunk", created, model: chatModel, choices: [{ index: 0, delta, finish_reason: finish }] });
    if (stream) send(chunk({ role: "assistant", content: "" }, null));
    let sent = 0;
    stats.active++;
    try {
      const result = await llm.generate({
        messages,
        maxTokens,
        temperature: Number(body.temperature ?? 0),
        ignoreEos,
        signal: ac.signal,
        timeoutMs: 600_000,
        onToken: stream
          ? (t) => {
              if (knobs.dropAfterTokens !== null && sent++ >= knobs.dropAfterTokens) {
                if (!res.writableEnded) res.end();
                return;
              }
              send(chunk({ content: t }, null));
            }
          : undefined,
      });
      if (result.stopReason === "abort") {
        stats.cancelled++;
        return;
      }
      const finish = result.stopReason === "maxTokens" ? "length" : "stop";
      const usage = { prompt_tokens: 0, completion_tokens: result.tokens, total_tokens: result.tokens };
      if (stream) {
        send(chunk({}, finish));
        if (body.stream_options?.include_usage) send({ id, object: "chat.completion.chunk", created, model: chatModel, choices: [], usage });
        if (!res.writableEnded) res.end("data: [DONE]\n\n");
      } else {
        json(res, 200, { id, object: "chat.completion", created, model: chatModel, choices: [{ index: 0, message: { role: "assistant", content: result.text }, finish_reason: finish, logprobs: null }], usage });
      }
    } catch (err) {
      if (stream) res.end(`data: ${JSON.stringify(errorBody(String(err), "server_error"))}\n\n`);
      else json(res, 500, errorBody(String(err), "server_error"));
    } finally {
      stats.active--;
    }
  }

  async function embeddings(body: any, res: http.ServerResponse): Promise<void> {
    stats.embeddings++;
    if (!embedder) return json(res, 503, errorBody("no embedding model loaded", "server_error"));
    if (body?.model !== embedModel) return json(res, 404, errorBody(`The model \`${String(body?.model)}\` does not exist`, "invalid_request_error", "model_not_found"));
    const input: string[] = typeof body.input === "string" ? [body.input] : body.input;
    if (!Array.isArray(input) || input.some((x) => typeof x !== "string")) return json(res, 400, errorBody("input must be a string or an array of strings"));
    const vectors = await embedder.embedPassages(input);
    const dim = knobs.embedDimension;
    json(res, 200, {
      object: "list",
      model: embedModel,
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: Array.from(dim ? v.subarray(0, dim) : v) })),
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      stats.authorizations.push(req.headers.authorization);
      if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) return json(res, 401, errorBody("Incorrect API key provided", "invalid_request_error", "invalid_api_key"));
      if (req.method === "GET" && url.pathname === "/v1/models") {
        return json(res, 200, { object: "list", data: [chatModel, embedModel].map((id) => ({ id, object: "model", created: 0, owned_by: "test" })) });
      }
      if (req.method !== "POST") return json(res, 404, errorBody("not found"));
      const raw = await readBody(req);
      if (knobs.delayMs) await new Promise((r) => setTimeout(r, knobs.delayMs));
      if (knobs.redirectTo) {
        res.writeHead(307, { location: knobs.redirectTo + url.pathname });
        return res.end();
      }
      if (knobs.fail && knobs.fail.times > 0) {
        knobs.fail.times--;
        const f = knobs.fail;
        return json(res, f.status, f.body ?? errorBody(`injected ${f.status}`, f.status === 429 ? "rate_limit_error" : "server_error"), f.retryAfter ? { "retry-after": f.retryAfter } : {});
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return json(res, 400, errorBody("body is not JSON"));
      }
      if (url.pathname === "/v1/chat/completions") return chat(body, req, res);
      if (url.pathname === "/v1/embeddings") return embeddings(body, res);
      return json(res, 404, errorBody("not found"));
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, errorBody(String(err), "server_error"));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    host: `127.0.0.1:${port}`,
    chatModel,
    embedModel,
    knobs,
    stats,
    llm,
    embedder,
    resetKnobs() {
      Object.assign(knobs, defaultKnobs());
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await llm?.close();
      await embedder?.close();
    },
  };
}
