import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorResponses } from "../schemas.ts";

const ReadySchema = z
  .object({
    status: z.literal("ready"),
    retrieval: z.enum(["lexical", "hybrid"]),
    answer: z.enum(["extractive", "llm"]),
    embedding: z.object({ model: z.string(), dimension: z.number() }).nullable(),
    llm: z.record(z.string(), z.unknown()).nullable(),
    notes: z.array(z.string()),
    documents: z.number().int(),
    chunks: z.number().int(),
  })
  .openapi("Ready");

export const healthRoutes = new OpenAPIHono<AppEnv>();

healthRoutes.openapi(
  createRoute({ method: "get", path: "/healthz", summary: "Liveness", responses: { 200: { description: "alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } } }),
  (c) => c.json({ status: "ok" as const }, 200),
);

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/readyz",
    summary: "Readiness and active modes",
    description: "Limited per client address with other requests that carry no valid token (KB_ANON_RATE_LIMIT_PER_MIN); /healthz is never limited.",
    responses: { 200: { description: "ready", content: { "application/json": { schema: ReadySchema } } }, 429: errorResponses[429] },
  }),
  async (c) => {
    const kb = c.get("kb");
    const notes = kb.models.embeddingNote ? [kb.models.embeddingNote] : [];
    if (!kb.models.embedding) notes.push("no embedding model loaded: lexical (BM25) retrieval only");
    const llm = kb.llmInfo();
    if (!llm) notes.push("no LLM configured: answers are extractive (quoted source sentences)");
    else if (typeof llm.gpuFallback === "string") notes.push(`LLM: ${llm.gpuFallback}`);
    return c.json(
      {
        status: "ready" as const,
        retrieval: kb.retriever.mode,
        answer: kb.ask.answerMode,
        embedding: kb.models.embedding,
        llm,
        notes,
        documents: kb.documentsRepo.count(),
        chunks: await kb.chunks.count(),
      },
      200,
    );
  },
);
