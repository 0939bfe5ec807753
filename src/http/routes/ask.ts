import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { authorize, DocumentCollection } from "../../../policies/index.ts";
import type { AnswerEvent, AnswerSource, Citation } from "../../services/answer/types.ts";
import type { AppEnv } from "../env.ts";
import { CitationSchema, ModeSchema, QueryText, TopK, errorResponses } from "../schemas.ts";

export const askRoutes = new OpenAPIHono<AppEnv>();

const AskRequest = z
  .object({
    question: QueryText,
    topK: TopK,
    stream: z.boolean().optional().openapi({ description: "Stream Server-Sent Events: `sources`, then `delta`s, then `done`." }),
  })
  .openapi("AskRequest");

const AskResponse = z
  .object({
    mode: z.enum(["extractive", "llm"]).openapi({ description: "Which answerer wrote the answer" }),
    retrieval: ModeSchema,
    answer: z.string(),
    found: z.boolean().openapi({ description: "false when the documents you may read do not answer the question" }),
    citations: z.array(CitationSchema),
    flagged: z.array(z.object({ n: z.number().int(), reason: z.string() })).optional(),
  })
  .openapi("AskResponse");

const publicSource = (s: AnswerSource) => ({ n: s.n, documentId: s.documentId, chunkId: s.chunkId, title: s.title, source: s.source, page: s.page, text: s.text });

askRoutes.openapi(
  createRoute({
    method: "post",
    path: "/ask",
    summary: "Ask a question; get a cited answer from the documents you may read",
    description: 'Set `"stream": true` (or send `Accept: text/event-stream`) for Server-Sent Events.',
    request: { body: { required: true, content: { "application/json": { schema: AskRequest } } } },
    responses: {
      200: {
        description: "The answer (JSON), or an SSE stream",
        content: { "application/json": { schema: AskResponse }, "text/event-stream": { schema: z.string() } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    authorize(actor, "list", DocumentCollection, null);
    const { question, topK, stream } = c.req.valid("json");
    const wantsStream = stream ?? (c.req.header("accept") ?? "").includes("text/event-stream");
    const abort = new AbortController();
    const { retrieval, chunkIds, events } = await kb.ask.ask(actor, question, { topK, signal: abort.signal });
    const audit = (done: Extract<AnswerEvent, { type: "done" }> | null) =>
      kb.audit.record(actor, "ask", null, { question, retrieval, mode: done?.mode ?? kb.ask.answerMode, chunkIds, found: done?.found ?? null, citations: done?.citations.map((x: Citation) => x.documentId) ?? [] });

    if (!wantsStream) {
      let done: Extract<AnswerEvent, { type: "done" }> | null = null;
      for await (const e of events) if (e.type === "done") done = e;
      audit(done);
      if (!done) throw new Error("answerer ended without a result");
      return c.json({ mode: done.mode, retrieval, answer: done.answer, found: done.found, citations: done.citations, ...(done.flagged ? { flagged: done.flagged } : {}) }, 200);
    }

    return streamSSE(c, async (sse) => {
      sse.onAbort(() => abort.abort());
      let done: Extract<AnswerEvent, { type: "done" }> | null = null;
      try {
        for await (const e of events) {
          if (sse.aborted) break;
          if (e.type === "sources") await sse.writeSSE({ event: "sources", data: JSON.stringify({ retrieval, sources: e.sources.map(publicSource) }) });
          else if (e.type === "delta") await sse.writeSSE({ event: "delta", data: JSON.stringify({ text: e.text }) });
          else {
            done = e;
            await sse.writeSSE({ event: "done", data: JSON.stringify({ mode: e.mode, retrieval, answer: e.answer, found: e.found, citations: e.citations, ...(e.flagged ? { flagged: e.flagged } : {}) }) });
          }
        }
      } finally {
        abort.abort();
        audit(done);
      }
    }) as never;
  },
);
