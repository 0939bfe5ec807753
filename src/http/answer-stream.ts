/** Helpers shared by the answer routes (/api/v1/ask and the OpenAI-compatible /v1/chat/completions). */
import type { Context } from "hono";
import type { Actor } from "../../policies/index.ts";
import { LlmBusyError, LlmClosedError, LlmTimeoutError } from "../models/llm.ts";
import type { AnswerEvent } from "../services/answer/types.ts";
import type { Kb } from "../services/container.ts";

/**
 * Pulls the first event before a byte of the response is sent: the LLM answerer checks capacity
 * (LlmBusyError) and loads lazily before its first event, so those failures still become a proper
 * HTTP status (429 + Retry-After) instead of a broken stream. The returned iterable replays it.
 */
export async function primeEvents<T>(events: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  let replayed = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (!replayed) {
          replayed = true;
          return Promise.resolve(first);
        }
        return it.next();
      },
      return: (value?: unknown) => (it.return ? it.return(value) : Promise.resolve({ done: true as const, value: value as T })),
    }),
  };
}

/**
 * An AbortController that fires when the client goes away (the request's signal, which
 * @hono/node-server aborts when the connection closes before the response is finished).
 */
export function clientAbort(c: Context): AbortController {
  const ac = new AbortController();
  const signal = c.req.raw.signal;
  if (signal.aborted) ac.abort(signal.reason);
  else signal.addEventListener("abort", () => ac.abort(signal.reason), { once: true });
  return ac;
}

/** The error body for a failure after streaming started (sent as an SSE event). */
export function streamError(err: unknown): { code: string; message: string } {
  if (err instanceof LlmTimeoutError) return { code: "llm_timeout", message: err.message };
  if (err instanceof LlmBusyError) return { code: "llm_busy", message: err.message };
  if (err instanceof LlmClosedError) return { code: "llm_unavailable", message: err.message };
  return { code: "internal_error", message: "the answer failed" };
}

/**
 * The audit entry of one ask, recorded when its answer ends (`done` is null when the answerer
 * ended without a result). `extra` adds the route's own fields (conversation, `via`).
 */
export function askAuditor(
  kb: Kb,
  actor: Actor,
  ask: { question: string; retrieval: string; chunkIds: string[]; retrievalQuery: string },
  extra: Record<string, unknown> = {},
): (done: Extract<AnswerEvent, { type: "done" }> | null) => void {
  return (done) =>
    kb.audit.record(actor, "ask", null, {
      question: ask.question,
      retrieval: ask.retrieval,
      mode: done?.mode ?? kb.ask.answerMode,
      chunkIds: ask.chunkIds,
      found: done?.found ?? null,
      citations: done?.citations.map((x) => x.documentId) ?? [],
      ...extra,
      ...(ask.retrievalQuery !== ask.question.trim() ? { retrievalQuery: ask.retrievalQuery } : {}),
    });
}
