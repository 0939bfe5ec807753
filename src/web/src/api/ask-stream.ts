/**
 * POST /api/v1/ask with `stream: true`, read as Server-Sent Events from fetch's body stream
 * (src/http/routes/ask.ts): `sources`, then `delta`s, then `done`, or `error`.
 */
import { SseParser, type SseEvent } from "../lib/sse";
import { apiError, apiFetch, type components } from "./client";

export interface AskSource {
  n: number;
  documentId: string;
  chunkId: string;
  title: string;
  source: string;
  page: number;
  text: string;
}

// The `done` event is the API's AskResponse, its citations the API's Citation (generated types).
export type AskCitation = components["schemas"]["Citation"];
export type AskDone = components["schemas"]["AskResponse"];

export type AskEvent =
  | { type: "sources"; sources: AskSource[]; conversationId: string; retrievalQuery: string }
  | { type: "delta"; text: string }
  | { type: "done"; done: AskDone }
  | { type: "error"; code: string; message: string };

/** Splits an SSE byte stream into events (lib/sse.ts does the parsing). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    reader.releaseLock();
  }
}

export async function* askStream(question: string, conversationId: string | undefined, signal: AbortSignal, scope?: Record<string, unknown>, image?: { dataUrl: string }): AsyncGenerator<AskEvent> {
  const res = await apiFetch("/api/v1/ask", {
    method: "POST",
    headers: { accept: "text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ question, stream: true, ...(conversationId ? { conversationId } : {}), ...(scope ? { scope } : {}), ...(image ? { image } : {}) }),
    signal,
  });
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => "");
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    throw apiError(res.status, body);
  }
  for await (const { event, data } of sseEvents(res.body)) {
    const json = JSON.parse(data) as Record<string, unknown>;
    if (event === "sources") yield { type: "sources", sources: json.sources as AskSource[], conversationId: json.conversationId as string, retrievalQuery: json.retrievalQuery as string };
    else if (event === "delta") yield { type: "delta", text: json.text as string };
    else if (event === "done") yield { type: "done", done: json as unknown as AskDone };
    else if (event === "error") {
      const e = json.error as { code: string; message: string };
      yield { type: "error", code: e.code, message: e.message };
    }
  }
}
