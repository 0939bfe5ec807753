/**
 * Feedback on answers (POST /feedback: one's own answers) and its review by holders of
 * `review_feedback` (/admin/feedback). Authorization, storage and auditing live in FeedbackService.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { stream } from "hono/streaming";
import { TEXT_LIMITS } from "../../services/limits.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, textMax } from "../schemas.ts";

export const feedbackRoutes = new OpenAPIHono<AppEnv>();

const Rating = z.enum(["up", "down"]);

const OwnFeedbackSchema = z
  .object({
    id: z.string(),
    messageId: z.number().int(),
    conversationId: z.string(),
    rating: Rating,
    comment: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Feedback");

const FeedbackReviewSchema = OwnFeedbackSchema.extend({
  user: z.string().openapi({ description: "Who gave the feedback" }),
  question: z.string(),
  answer: z.string().openapi({ description: "The answer as the user was shown it; withheld when it cites a document you may not read" }),
  sources: z.array(z.object({ n: z.number().int(), documentId: z.string(), page: z.number().int(), title: z.string() })).openapi({ description: "The cited sources you may read" }),
  hiddenSources: z.number().int().openapi({ description: "Cited sources left out because you may not read them" }),
  review: z
    .object({ reviewedAt: z.string(), reviewedBy: z.string().nullable(), expectedDocumentIds: z.array(z.string()), expectedAnswer: z.string().nullable() })
    .nullable(),
}).openapi("FeedbackForReview");

const json = <T extends z.ZodType>(schema: T, description = "OK") => ({ description, content: { "application/json": { schema } } });

feedbackRoutes.openapi(
  createRoute({
    method: "post",
    path: "/feedback",
    summary: "Rate one of your answers (👍/👎 + an optional comment)",
    description:
      "`messageId` is the `messageId` of the ask response (or of an assistant message in GET /api/v1/conversations/{id}); `conversationId`, when sent, must be that answer's conversation. " +
      "Stored with the question, the answer and its cited sources as you were shown them. One feedback per answer: a repeat updates it (200; the first answers 201). Another user's answer is 404.",
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z
              .object({ messageId: z.number().int().positive(), conversationId: z.string().min(1).max(100).optional(), rating: Rating, comment: textMax(TEXT_LIMITS.comment).optional() })
              .openapi("FeedbackRequest"),
          },
        },
      },
    },
    responses: { 200: json(OwnFeedbackSchema, "Updated"), 201: json(OwnFeedbackSchema, "Recorded"), ...errorResponses },
  }),
  async (c) => {
    const { created, ...view } = await c.get("kb").feedback.give(c.get("actor"), c.req.valid("json"));
    return created ? c.json(view, 201) : c.json(view, 200);
  },
);

feedbackRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/feedback",
    summary: "Everyone's feedback on answers, negative first, then the most recent (needs review_feedback)",
    request: {
      query: z.object({
        rating: Rating.optional(),
        reviewed: z.enum(["true", "false"]).optional().transform((v) => (v === undefined ? undefined : v === "true")),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        offset: z.coerce.number().int().min(0).default(0),
      }),
    },
    responses: {
      200: json(z.object({ items: z.array(FeedbackReviewSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
      ...errorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json({ ...(await c.get("kb").feedback.list(c.get("actor"), q)), limit: q.limit, offset: q.offset }, 200);
  },
);

feedbackRoutes.openapi(
  createRoute({
    method: "put",
    path: "/admin/feedback/{id}/review",
    summary: "Mark feedback reviewed with the documents (and optionally the answer) expected",
    description: "Each expected document must be one you may read (else 400 `unknown_document`). A later change of the user's rating clears the review.",
    request: {
      params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) }),
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z
              .object({ expectedDocumentIds: z.array(z.string().min(1).max(100)).min(1).max(50), expectedAnswer: textMax(TEXT_LIMITS.message).optional() })
              .openapi("FeedbackReview"),
          },
        },
      },
    },
    responses: { 200: json(FeedbackReviewSchema), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").feedback.review(c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 200),
);

feedbackRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/feedback/export",
    summary: "Reviewed feedback as an evaluation set (JSONL) for `kb eval`",
    description:
      'One line per reviewed item: `{"question", "expected_document_ids", "expected_answer"?}`. `kb eval <file>` measures retrieval on it against the configured knowledge base (`--as <user>` to ask as a user). ' +
      "Only expected documents you may read are written; an item left with none is skipped. Audited as `feedback.export`.",
    responses: { 200: { description: "JSON Lines", content: { "application/x-ndjson": { schema: z.string() } } }, ...errorResponses },
  }),
  async (c) => {
    const items = await c.get("kb").feedback.exportReviewed(c.get("actor")); // authorizes (403) before the response starts
    c.header("Content-Type", "application/x-ndjson; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="feedback-eval-${new Date().toISOString().slice(0, 10)}.jsonl"`);
    return stream(c, async (s) => {
      for await (const item of items) await s.write(`${JSON.stringify(item)}\n`);
    }) as never;
  },
);
