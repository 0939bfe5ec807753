/** Helpers shared by the answer routes (/api/v1/ask and the OpenAI-compatible /v1/chat/completions). */
import type { Context } from "hono";
import { LlmBusyError, LlmClosedError, LlmTimeoutError, LlmUpstreamError } from "../models/llm.ts";

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
  if (err instanceof LlmUpstreamError) return { code: "llm_upstream", message: err.message };
  return { code: "internal_error", message: "the answer failed" };
}
