/**
 * LLM provider for an OpenAI-compatible chat-completions server on the company's network (vLLM,
 * llama.cpp server, Ollama, TGI …): the same `LlmProvider` contract as the in-process model
 * (src/models/llm.ts), so the answerer, its grounded prompt and its citation checks do not know
 * which one they have.
 *
 * - Streaming: always `stream: true`; each content delta goes to `onToken` as it arrives.
 * - Concurrency: at most `maxConcurrent` requests at the server at once; more wait in a FIFO queue
 *   of at most `maxQueue`, beyond which `generate` (and `assertCapacity`) throw LlmBusyError.
 * - Timeout: queue wait + request, as for the local model: LlmTimeoutError with the text so far;
 *   the HTTP request is aborted.
 * - Cancellation: the caller's signal aborts the HTTP request (the server sees the connection
 *   close and can stop generating); resolves with `stopReason: "abort"` and the text so far.
 * - Upstream 429 (and a 503 that carries Retry-After: "overloaded, come back") → LlmBusyError with
 *   the server's Retry-After; any other error status, a connection failure or a malformed answer
 *   → LlmUpstreamError naming the host and status (the API key is never in a message).
 * - Tokens are not counted by the server before the request: `countTokens` estimates on the high
 *   side (as the grounded prompt does without a tokenizer), and the context size is the
 *   configured KB_LLM_CONTEXT (set it to the server's max model length).
 * - `ignoreEos` is sent as `ignore_eos: true` (vLLM and llama.cpp server accept it; benchmarks only).
 */
import { estimateTokens } from "./token-estimate.ts";
import { endpointHost, postModelServer, RemoteModelError, sseData, type RemoteEndpoint } from "./remote-http.ts";
import { LlmBusyError, LlmClosedError, LlmTimeoutError, LlmUpstreamError } from "./llm-errors.ts";
import { requestControl, waitInLine, type Waiter } from "./request-control.ts";
import {
  type GenerateRequest,
  type GenerateResult,
  type LlmInfo,
  type LlmMessage,
  type LlmProvider,
  type StopReason,
} from "./llm.ts";

export interface RemoteLlmOptions extends RemoteEndpoint {
  /** Model name on the server. */
  model: string;
  /** Context length the prompt is budgeted against (the server's max model length). */
  contextSize: number;
  /** Requests at the server at once (default 4). */
  maxConcurrent?: number;
  /** Requests allowed to wait (default 8). */
  maxQueue?: number;
  /** Per-request limit in ms, queue wait included (default 120000). */
  timeoutMs?: number;
  onGenerate?: (messages: readonly LlmMessage[]) => void;
}


interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { completion_tokens?: number } | null;
  error?: { message?: string };
}

function mapFinish(reason: string | null | undefined): StopReason {
  if (reason === "length") return "maxTokens";
  if (reason === "stop" || reason === "eos" || reason == null) return "eos";
  return "stop";
}

/** Makes the provider; contacts nothing until the first request. */
export function createRemoteLlm(opts: RemoteLlmOptions): LlmProvider {
  // Fails here (at start) on a malformed URL rather than at the first question.
  const host = endpointHost(opts.url);
  const maxConcurrent = Math.max(1, Math.floor(opts.maxConcurrent ?? 4));
  const maxQueue = Math.max(0, Math.floor(opts.maxQueue ?? 8));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const endpoint: RemoteEndpoint = { url: opts.url, apiKey: opts.apiKey, allowedHosts: opts.allowedHosts };
  const info: LlmInfo = {
    model: opts.model,
    backend: "remote",
    host,
    contextSize: opts.contextSize,
    sequences: maxConcurrent,
    maxQueue,
  };

  let active = 0;
  const queue: Waiter<true>[] = [];
  let closed = false;
  const controllers = new Set<AbortController>();
  let avgDurationMs = 5_000;

  function retryAfterSeconds(): number {
    const rounds = Math.ceil((queue.length + 1) / maxConcurrent);
    return Math.min(120, Math.max(1, Math.ceil((rounds * avgDurationMs) / 1000)));
  }

  function assertCapacity(): void {
    if (closed) throw new LlmClosedError();
    if (active >= maxConcurrent && queue.length >= maxQueue) throw new LlmBusyError(retryAfterSeconds());
  }

  function release(): void {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next.grant(true);
    }
  }

  async function generate(req: GenerateRequest): Promise<GenerateResult> {
    assertCapacity();
    opts.onGenerate?.(req.messages);
    const started = performance.now();
    const control = requestControl(req, timeoutMs, controllers);
    const { signal, limitMs } = control;
    const aborted = (text = "", tokens = 0): GenerateResult => ({ text, tokens, stopReason: "abort", durationMs: performance.now() - started });

    try {
      if (signal.aborted) {
        if (control.timedOut()) throw new LlmTimeoutError(limitMs);
        if (closed) throw new LlmClosedError();
        return aborted();
      }
      if (active < maxConcurrent) active++;
      else if (!(await waitInLine(queue, control))) return aborted();
      try {
        return await run(req, signal, started, control.timedOut, limitMs);
      } finally {
        release();
      }
    } finally {
      control.dispose();
    }
  }

  async function run(req: GenerateRequest, signal: AbortSignal, started: number, isTimedOut: () => boolean, limitMs: number): Promise<GenerateResult> {
    let text = "";
    let deltas = 0;
    let usageTokens: number | undefined;
    let finish: string | null | undefined;
    let firstAt: number | undefined;
    try {
      const res = await postModelServer(
        endpoint,
        "chat/completions",
        {
          model: opts.model,
          messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
          max_tokens: Math.max(1, Math.floor(req.maxTokens)),
          temperature: req.temperature ?? 0,
          stream: true,
          stream_options: { include_usage: true },
          ...(req.ignoreEos ? { ignore_eos: true } : {}),
        },
        signal,
        "text/event-stream",
      );
      if ((res.headers.get("content-type") ?? "").includes("application/json")) {
        // A server that answers a streaming request in one piece: one "token" of the whole text.
        const body = (await res.json().catch(() => null)) as { choices?: { message?: { content?: string | null }; finish_reason?: string | null }[]; usage?: { completion_tokens?: number } } | null;
        const choice = body?.choices?.[0];
        if (!choice) throw new LlmUpstreamError(`model server ${host} answered without a completion`);
        text = choice.message?.content ?? "";
        if (text) {
          firstAt = performance.now() - started;
          deltas = 1;
          req.onToken?.(text);
        }
        finish = choice.finish_reason ?? "stop";
        usageTokens = body?.usage?.completion_tokens;
      } else {
        for await (const data of sseData(res, signal)) {
          if (data === "[DONE]") {
            finish ??= "stop"; // the server's end of the stream, with or without a finish_reason before it
            break;
          }
          let chunk: ChatChunk;
          try {
            chunk = JSON.parse(data) as ChatChunk;
          } catch {
            throw new LlmUpstreamError(`model server ${host} sent a stream event that is not JSON`);
          }
          if (chunk.error) throw new LlmUpstreamError(`model server ${host} failed mid-answer: ${String(chunk.error.message ?? "error").slice(0, 300)}`);
          if (chunk.usage?.completion_tokens !== undefined) usageTokens = chunk.usage.completion_tokens;
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const piece = choice.delta?.content;
          if (piece) {
            firstAt ??= performance.now() - started;
            text += piece;
            deltas++;
            req.onToken?.(piece);
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      if (signal.aborted) throw signal.reason;
      // Every server ends a completion with a finish_reason; a stream that stops without one was cut.
      if (finish == null) throw new LlmUpstreamError(`model server ${host} ended the answer stream before finishing it (after ${deltas} pieces)`);
      const durationMs = performance.now() - started;
      avgDurationMs = avgDurationMs * 0.8 + durationMs * 0.2;
      return {
        text,
        tokens: usageTokens ?? deltas,
        stopReason: mapFinish(finish),
        ...(firstAt !== undefined ? { timeToFirstTokenMs: firstAt } : {}),
        durationMs,
      };
    } catch (err) {
      if (isTimedOut()) throw new LlmTimeoutError(limitMs, text);
      if (closed) throw new LlmClosedError();
      if (req.signal?.aborted) return { text, tokens: usageTokens ?? deltas, stopReason: "abort", durationMs: performance.now() - started };
      if (err instanceof RemoteModelError) {
        if (err.status === 429 || (err.status === 503 && err.retryAfterSeconds !== undefined)) {
          throw new LlmBusyError(Math.max(1, err.retryAfterSeconds ?? retryAfterSeconds()), `the model server ${host} is busy (${err.status}); retry in ${Math.max(1, err.retryAfterSeconds ?? retryAfterSeconds())}s`);
        }
        throw new LlmUpstreamError(err.message, err.status);
      }
      if (err instanceof LlmUpstreamError) throw err;
      throw new LlmUpstreamError(`model server ${host}: the answer stream failed (${(err as Error).message})`);
    }
  }

  return {
    info: () => ({ ...info }),
    generate,
    countTokens: (text: string) => (text ? estimateTokens(text) : 0),
    stats: () => ({ active, queued: queue.length, sequences: maxConcurrent, maxQueue }),
    assertCapacity,
    async close() {
      if (closed) return;
      closed = true;
      for (const w of queue.splice(0)) w.cancel(new LlmClosedError());
      for (const c of controllers) c.abort(new LlmClosedError());
    },
  };
}
