import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { AnswerEvent, AnswerSource } from "../../services/answer/types.ts";
import type { RetrievalStage } from "../../services/retrieval.ts";
import { clientAbort, streamError } from "../answer-stream.ts";
import type { AppEnv } from "../env.ts";
import { ASK_IMAGE_LIMITS, IMAGE_TEXT_LABEL } from "../../services/ask-image.ts";
import { CitationSchema, ErrorSchema, ModeSchema, QueryText, ScopeSchema, StagesSchema, TopK, errorResponses } from "../schemas.ts";

export const askRoutes = new OpenAPIHono<AppEnv>();

const AskImageSchema = z
  .object({
    dataUrl: z
      .string()
      .openapi({ description: "The image as a base64 `data:` URL (`data:image/png;base64,…`); any other URL is refused (`image_url_not_allowed`) and never fetched" }),
  })
  .openapi("AskImage", {
    description: `An image attached to the question (a screenshot of an error, a photo of a form): PNG, JPEG or WebP, told by its bytes (else 415 \`unsupported_image\`), at most ${ASK_IMAGE_LIMITS.bytes} bytes and ${ASK_IMAGE_LIMITS.pixels} pixels (else 413 \`image_too_large\`). It is read by OCR in memory and never stored; its text (at most ${ASK_IMAGE_LIMITS.text} characters) is appended to the question as "${IMAGE_TEXT_LABEL} …" and kept with it in the conversation. With an image-description model (KB_IMAGE_MODEL), an image with little or no text also gets a short description, appended before it as "[image] …" ("[그림] …" for a Korean question).`,
  });

const AskRequest = z
  .object({
    question: QueryText,
    topK: TopK,
    scope: ScopeSchema.optional(),
    stream: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Stream Server-Sent Events: `sources` (the retrieved passages with `n`, `documentId`, `chunkId`, `page`, `text`, and the `conversationId`), then `delta`s, then `done` (the AskResponse, with the `messageId` to give feedback on) or `error`.",
      }),
    conversationId: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Continue one of your conversations: earlier turns are context, and a follow-up is rewritten into a standalone query for retrieval. Omitted: a new conversation starts (its id is in the response)." }),
    image: AskImageSchema.optional(),
  })
  .openapi("AskRequest");

export const AskResponse = z
  .object({
    mode: z.enum(["extractive", "llm"]).openapi({ description: "Which answerer wrote the answer" }),
    retrieval: ModeSchema,
    stages: StagesSchema,
    answer: z.string(),
    found: z.boolean().openapi({ description: "false when the documents you may read do not answer the question" }),
    citations: z.array(CitationSchema),
    flagged: z.array(z.object({ n: z.number().int(), reason: z.string() })).optional(),
    conversationId: z.string().openapi({ description: "The conversation this turn belongs to; send it back to ask a follow-up" }),
    messageId: z.number().int().optional().openapi({ description: "The stored answer's id: send it to POST /api/v1/feedback. Absent when the turn could not be stored (the conversation was deleted meanwhile)" }),
    retrievalQuery: z.string().openapi({ description: "What retrieval searched for: the question, or a follow-up rewritten to stand alone" }),
  })
  .openapi("AskResponse");

/** The answer itself, without the conversation it belongs to (also the MCP server's `ask` result, with `retrievalQuery`). */
export const answerBody = (e: Extract<AnswerEvent, { type: "done" }>, retrieval: { retrieval: "lexical" | "hybrid"; stages: RetrievalStage[] }) => ({
  mode: e.mode,
  ...retrieval,
  answer: e.answer,
  found: e.found,
  citations: e.citations,
  ...(e.flagged ? { flagged: e.flagged } : {}),
});

/** The answer as the JSON response and the SSE `done` event carry it. */
const doneBody = (e: Extract<AnswerEvent, { type: "done" }>, retrieval: { retrieval: "lexical" | "hybrid"; stages: RetrievalStage[] }, conversation: { conversationId: string; retrievalQuery: string }) => ({
  ...answerBody(e, retrieval),
  ...conversation,
  ...(e.messageId !== undefined ? { messageId: e.messageId } : {}),
});

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
      502: { description: "The model server on the network (KB_LLM_URL) failed: `llm_upstream`, naming its host and status", content: { "application/json": { schema: ErrorSchema } } },
      504: { description: "The language model did not finish within KB_LLM_TIMEOUT_S", content: { "application/json": { schema: ErrorSchema } } },
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    const { question, topK, stream, conversationId, scope, image } = c.req.valid("json");
    const wantsStream = stream ?? (c.req.header("accept") ?? "").includes("text/event-stream");
    // Aborted when the client disconnects: generation stops between tokens.
    const abort = clientAbort(c);
    // Busy (429), a failing model or an unknown conversation fail here, before any byte is sent.
    const asked = await kb.ask.ask(actor, question, { topK, scope, conversationId, signal: abort.signal, ...(image ? { image } : {}) });
    const { events } = asked;
    const retrieval = { retrieval: asked.retrieval, stages: asked.stages };
    const conversation = { conversationId: asked.conversationId!, retrievalQuery: asked.retrievalQuery };

    if (!wantsStream) {
      let done: Extract<AnswerEvent, { type: "done" }> | null = null;
      for await (const e of events) if (e.type === "done") done = e;
      if (!done) throw new Error("answerer ended without a result");
      return c.json(doneBody(done, retrieval, conversation), 200);
    }

    return streamSSE(c, async (sse) => {
      sse.onAbort(() => abort.abort());
      try {
        for await (const e of events) {
          if (sse.aborted) break;
          if (e.type === "sources") await sse.writeSSE({ event: "sources", data: JSON.stringify({ ...retrieval, sources: e.sources.map(publicSource), ...conversation }) });
          else if (e.type === "delta") await sse.writeSSE({ event: "delta", data: JSON.stringify({ text: e.text }) });
          else await sse.writeSSE({ event: "done", data: JSON.stringify(doneBody(e, retrieval, conversation)) });
        }
      } catch (err) {
        // Mid-stream failure (LLM timeout, model error): the status line is long gone; say it in-band.
        kb.log.warn({ err: String(err) }, "ask stream failed");
        const error = streamError(err);
        kb.metrics.answerStreamError(c.req.routePath, error.code);
        if (!sse.aborted) await sse.writeSSE({ event: "error", data: JSON.stringify({ error }) }).catch(() => {});
      } finally {
        abort.abort();
      }
    }) as never;
  },
);
