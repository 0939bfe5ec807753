/**
 * POST /api/v1/ask with `stream: true`, read as Server-Sent Events from fetch's body stream
 * (src/http/routes/ask.ts): `sources`, then `delta`s, then `done`, or `error`.
 */
import { apiError, apiFetch } from "./client";

export interface AskSource {
  n: number;
  documentId: string;
  chunkId: string;
  title: string;
  source: string;
  page: number;
  text: string;
}

export interface AskCitation {
  n: number;
  documentId: string;
  title: string;
  source: string;
  page: number;
  quote: string;
}

export interface AskDone {
  mode: "extractive" | "llm";
  retrieval: string;
  answer: string;
  found: boolean;
  citations: AskCitation[];
  conversationId: string;
  retrievalQuery: string;
  /** The stored answer's id, where the server reports it (for feedback). */
  messageId?: number | string;
}

export type AskEvent =
  | { type: "sources"; sources: AskSource[]; conversationId: string; retrievalQuery: string }
  | { type: "delta"; text: string }
  | { type: "done"; done: AskDone }
  | { type: "error"; code: string; message: string };

/** Splits an SSE byte stream into events (event name + joined data lines). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        if (data.length) yield { event, data: data.join("\n") };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export async function* askStream(question: string, conversationId: string | undefined, signal: AbortSignal, scope?: Record<string, unknown>): AsyncGenerator<AskEvent> {
  const res = await apiFetch("/api/v1/ask", {
    method: "POST",
    headers: { accept: "text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ question, stream: true, ...(conversationId ? { conversationId } : {}), ...(scope ? { scope } : {}) }),
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
