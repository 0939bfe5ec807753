import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";

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
    sensitiveDetector: z
      .object({ version: z.number().int(), staleDocuments: z.number().int() })
      .openapi({ description: "personal-data detector version; documents indexed by an older one are re-indexed by the next worker start (or `kb reindex --sensitive-stale`)" }),
  })
  .openapi("Ready");

export const healthRoutes = new OpenAPIHono<AppEnv>();

healthRoutes.openapi(
  createRoute({ method: "get", path: "/healthz", summary: "Liveness", responses: { 200: { description: "alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } } }),
  (c) => c.json({ status: "ok" as const }, 200),
);

healthRoutes.openapi(
  createRoute({ method: "get", path: "/readyz", summary: "Readiness and active modes", responses: { 200: { description: "ready", content: { "application/json": { schema: ReadySchema } } } } }),
  async (c) => {
    const kb = c.get("kb");
    const notes = kb.models.embeddingNote ? [kb.models.embeddingNote] : [];
    if (!kb.models.embedding) notes.push("no embedding model loaded: lexical (BM25) retrieval only");
    const llm = kb.llmInfo();
    if (!llm) notes.push("no LLM configured: answers are extractive (quoted source sentences)");
    else if (typeof llm.gpuFallback === "string") notes.push(`LLM: ${llm.gpuFallback}`);
    const pii = kb.sensitive.indexStatus();
    if (pii.staleDocuments > 0)
      notes.push(`${pii.staleDocuments} documents were indexed by an older personal-data detector; a worker re-indexes them when it starts (or run \`kb reindex --sensitive-stale\`)`);
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
        sensitiveDetector: { version: pii.detectorVersion, staleDocuments: pii.staleDocuments },
      },
      200,
    );
  },
);
