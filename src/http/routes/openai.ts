/**
 * OpenAI-compatible API (`/v1/models`, `/v1/chat/completions`), so existing chat clients and SDKs
 * can use the knowledge base. It is the same ask path as /api/v1/ask: the same bearer tokens,
 * the same ACL-filtered retrieval (a document the caller may not read never reaches the model or
 * the response), the same answerer and citation check.
 *
 * - The last `user` message is the question; earlier `user`/`assistant` messages are the
 *   conversation (a follow-up is rewritten into a standalone retrieval query). `system`,
 *   `developer` and `tool` messages are ignored: the grounding rules are ours.
 * - `model` is accepted but not used to pick anything: one model answers (its id is listed by
 *   /v1/models and echoed in responses). `temperature`, `max_tokens` and other sampling options
 *   are ignored (the server's configuration decides); `top_k` (extension) sets the sources.
 * - Extension fields: `citations` (the checked citations, as in /api/v1/ask) and `private_kb`
 *   (`mode`, `retrieval`, `found`, `retrievalQuery`, `flagged`, and the checked `answer`) on the
 *   response object, and on the final stream chunk (the one with `finish_reason`). Streamed
 *   deltas are the model's raw text; the checked answer in `private_kb.answer` has unsupported
 *   citation markers removed.
 * - An `image_url` part of the last user message (a base64 `data:` URL only; a remote URL is
 *   refused, never fetched) is read by OCR and its text joins the question (services/ask-image.ts).
 * - Stream: `data: {chat.completion.chunk}\n\n` … `data: [DONE]\n\n`. A failure after the stream
 *   started is sent as `data: {"error": {...}}` (OpenAI SDKs raise it), then the stream ends.
 */
import crypto from "node:crypto";
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { AnswerEvent } from "../../services/answer/types.ts";
import { badRequest } from "../../services/errors.ts";
import type { Kb } from "../../services/container.ts";
import { clientAbort, streamError } from "../answer-stream.ts";
import type { AppEnv } from "../env.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";
import { CitationSchema, ErrorSchema, errorResponses, textMax } from "../schemas.ts";

export const openaiRoutes = new OpenAPIHono<AppEnv>();

const STARTED = Math.floor(Date.now() / 1000);

export function openaiModelId(kb: Kb): string {
  return kb.ask.answerMode === "llm" ? "private-kb-llm" : "private-kb-extractive";
}

const ContentPart = z.looseObject({
  type: z.string(),
  text: textMax(TEXT_LIMITS.message).optional(),
  image_url: z
    .union([z.string(), z.looseObject({ url: z.string() })])
    .optional()
    .openapi({
      description:
        "With `type: \"image_url\"` in the last user message: an image attached to the question as a base64 `data:` URL (PNG, JPEG or WebP); its OCR text joins the question (see AskImage). A remote URL is refused (`image_url_not_allowed`) and never fetched. Images of earlier messages are ignored.",
    }),
});
const ChatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z
    .union([textMax(TEXT_LIMITS.message), z.array(ContentPart), z.null()])
    .optional()
    .openapi({ description: `The last (user) message is the question: at most ${TEXT_LIMITS.query} characters; earlier messages at most ${TEXT_LIMITS.message}` }),
});

const ChatRequest = z
  .looseObject({
    model: z.string().optional().openapi({ description: "Accepted, not used to choose: see GET /v1/models" }),
    messages: z.array(ChatMessage).min(1),
    stream: z.boolean().optional(),
    top_k: z.number().int().min(1).max(50).optional().openapi({ description: "Extension: sources retrieved (default 5)" }),
  })
  .openapi("ChatCompletionRequest");

const PrivateKbExtension = z.object({
  mode: z.enum(["extractive", "llm"]),
  retrieval: z.enum(["lexical", "hybrid"]),
  found: z.boolean(),
  retrievalQuery: z.string(),
  answer: z.string(),
  flagged: z.array(z.object({ n: z.number().int(), reason: z.string() })).optional(),
});

const ChatResponse = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(z.object({ index: z.number().int(), message: z.object({ role: z.literal("assistant"), content: z.string() }), finish_reason: z.string() })),
    citations: z.array(CitationSchema),
    private_kb: PrivateKbExtension,
  })
  .openapi("ChatCompletion");

/** The image attached to the last user message (at most one), as its URL. */
function imageOf(content: z.infer<typeof ChatMessage>["content"]): string | undefined {
  if (content == null || typeof content === "string") return undefined;
  const urls = content.filter((p) => p.type === "image_url").map((p) => (typeof p.image_url === "string" ? p.image_url : (p.image_url?.url ?? "")));
  if (urls.length > 1) throw badRequest("attach at most one image to a question", "invalid_request");
  return urls[0];
}

function textOf(content: z.infer<typeof ChatMessage>["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

openaiRoutes.openapi(
  createRoute({
    method: "get",
    path: "/models",
    summary: "OpenAI-compatible: the model that answers",
    responses: {
      200: {
        description: "One model",
        content: {
          "application/json": {
            schema: z.object({ object: z.literal("list"), data: z.array(z.object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() })) }),
          },
        },
      },
      ...errorResponses,
    },
  }),
  (c) => {
    const kb = c.get("kb");
    return c.json({ object: "list" as const, data: [{ id: openaiModelId(kb), object: "model" as const, created: STARTED, owned_by: "private-kb" }] }, 200);
  },
);

openaiRoutes.openapi(
  createRoute({
    method: "post",
    path: "/chat/completions",
    summary: "OpenAI-compatible chat completion, answered from the documents you may read",
    description: "Set `stream: true` for `chat.completion.chunk` events. Citations are in the `citations` extension field (response object, or final chunk).",
    request: { body: { required: true, content: { "application/json": { schema: ChatRequest } } } },
    responses: {
      200: { description: "A chat completion (JSON) or a stream of chunks (SSE)", content: { "application/json": { schema: ChatResponse }, "text/event-stream": { schema: z.string() } } },
      ...errorResponses,
      502: { description: "The model server on the network (KB_LLM_URL) failed: `llm_upstream`, naming its host and status", content: { "application/json": { schema: ErrorSchema } } },
      504: { description: "The language model did not finish within KB_LLM_TIMEOUT_S", content: { "application/json": { schema: ErrorSchema } } },
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    const body = c.req.valid("json");
    const last = body.messages.at(-1)!;
    if (last.role !== "user") throw badRequest("the last message must be the user's question", "invalid_request");
    const question = textOf(last.content).trim();
    const imageUrl = imageOf(last.content);
    if (!question && imageUrl === undefined) throw badRequest("the last user message has no text", "invalid_request");
    const history = body.messages
      .slice(0, -1)
      .filter((m) => m.role === "user" || m.role === "assistant")
      .map((m) => ({ role: m.role as "user" | "assistant", content: textOf(m.content).trim() }))
      .filter((m) => m.content.length > 0);

    const abort = clientAbort(c);
    // The client keeps the conversation: nothing is stored. 429 before any byte when the model is busy.
    const { retrieval, retrievalQuery, events } = await kb.ask.ask(actor, question, {
      topK: body.top_k,
      history,
      signal: abort.signal,
      via: "openai",
      ...(imageUrl !== undefined ? { image: { dataUrl: imageUrl } } : {}),
    });
    const id = `chatcmpl-${crypto.randomBytes(12).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    const model = openaiModelId(kb);
    const extension = (done: Extract<AnswerEvent, { type: "done" }>) => ({
      citations: done.citations,
      private_kb: { mode: done.mode, retrieval, found: done.found, retrievalQuery, answer: done.answer, ...(done.flagged ? { flagged: done.flagged } : {}) },
    });

    if (!body.stream) {
      let done: Extract<AnswerEvent, { type: "done" }> | null = null;
      for await (const e of events) if (e.type === "done") done = e;
      if (!done) throw new Error("answerer ended without a result");
      return c.json(
        {
          id,
          object: "chat.completion" as const,
          created,
          model,
          choices: [{ index: 0, message: { role: "assistant" as const, content: done.answer }, finish_reason: "stop" }],
          ...extension(done),
        },
        200,
      );
    }

    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
    return streamSSE(c, async (sse) => {
      sse.onAbort(() => abort.abort());
      try {
        await sse.writeSSE({ data: chunk({ role: "assistant", content: "" }, null) });
        for await (const e of events) {
          if (sse.aborted) break;
          if (e.type === "delta" && e.text) await sse.writeSSE({ data: chunk({ content: e.text }, null) });
          else if (e.type === "done") await sse.writeSSE({ data: chunk({}, "stop", extension(e)) });
        }
        if (!sse.aborted) await sse.writeSSE({ data: "[DONE]" });
      } catch (err) {
        kb.log.warn({ err: String(err) }, "chat completion stream failed");
        const error = streamError(err);
        kb.metrics.answerStreamError(c.req.routePath, error.code);
        if (!sse.aborted) await sse.writeSSE({ data: JSON.stringify({ error: { ...error, type: "server_error" } }) }).catch(() => {});
      } finally {
        abort.abort();
      }
    }) as never;
  },
);
