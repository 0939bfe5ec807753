/** Your ask conversations: list and search, read, rename, delete. Another user's conversation answers 404. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";
import { CitationSchema, errorResponses, textMax } from "../schemas.ts";

export const conversationRoutes = new OpenAPIHono<AppEnv>();

const ConversationSummarySchema = z
  .object({ id: z.string(), title: z.string(), messages: z.number().int(), createdAt: z.string(), updatedAt: z.string() })
  .openapi("ConversationSummary");

const ConversationSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    messages: z.array(
      z.object({
        id: z.number().int().openapi({ description: "The message id; an assistant message's id is what POST /api/v1/feedback names" }),
        role: z.enum(["user", "assistant"]),
        content: z.string(),
        retrievalQuery: z.string().optional().openapi({ description: "User turns: the standalone query retrieval used, when the question was rewritten" }),
        citations: z.array(CitationSchema).optional(),
        feedback: z.object({ rating: z.enum(["up", "down"]), comment: z.string().nullable() }).optional().openapi({ description: "Assistant turns: your feedback on the answer" }),
        createdAt: z.string(),
      }),
    ),
  })
  .openapi("Conversation");

const IdParam = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) });

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/conversations",
    summary: "Your conversations, most recent first",
    description: "`q` keeps the conversations whose title or any message contains it (case-insensitive for Latin letters).",
    request: {
      query: z.object({
        q: textMax(TEXT_LIMITS.query).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        offset: z.coerce.number().int().min(0).default(0),
      }),
    },
    responses: {
      200: {
        description: "Conversations",
        content: { "application/json": { schema: z.object({ conversations: z.array(ConversationSummarySchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { limit, offset, q } = c.req.valid("query");
    return c.json({ ...(await c.get("kb").conversations.list(c.get("actor"), { limit, offset, q })), limit, offset }, 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}",
    summary: "One of your conversations with its messages",
    request: { params: IdParam },
    responses: { 200: { description: "The conversation", content: { "application/json": { schema: ConversationSchema } } }, ...errorResponses },
  }),
  async (c) => c.json((await c.get("kb").conversations.get(c.get("actor"), c.req.valid("param").id)) as z.infer<typeof ConversationSchema>, 200),
);

conversationRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/conversations/{id}",
    summary: "Delete one of your conversations",
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errorResponses },
  }),
  async (c) => {
    await c.get("kb").conversations.delete(c.get("actor"), c.req.valid("param").id);
    return c.body(null, 204);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/conversations/{id}",
    summary: "Rename one of your conversations",
    request: { params: IdParam, body: { required: true, content: { "application/json": { schema: z.object({ title: z.string().min(1).max(TEXT_LIMITS.title) }) } } } },
    responses: { 200: { description: "Renamed", content: { "application/json": { schema: ConversationSummarySchema } } }, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").conversations.rename(c.get("actor"), c.req.valid("param").id, c.req.valid("json").title), 200),
);

conversationRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/conversations",
    summary: "Delete all your conversations",
    description: "Your feedback on answers is kept for review (an admin's purge of your history removes it too).",
    responses: { 200: { description: "Deleted", content: { "application/json": { schema: z.object({ deleted: z.number().int() }) } } }, ...errorResponses },
  }),
  async (c) => c.json({ deleted: await c.get("kb").conversations.deleteAll(c.get("actor")) }, 200),
);
