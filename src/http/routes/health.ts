import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { optionalActor } from "../middleware/auth.ts";
import { errorResponses, ImageModelSchema, RerankerSchema, StatusNoticeSchema } from "../schemas.ts";

const adminOnly = (description: string) => `${description}. Only with an admin's token (capability \`manage_all_documents\`).`;

const ReadySchema = z
  .object({
    status: z.literal("ready"),
    retrieval: z.enum(["lexical", "hybrid"]).optional().openapi({ description: adminOnly("Active retrieval mode") }),
    answer: z.enum(["extractive", "llm"]).optional().openapi({ description: adminOnly("Active answerer") }),
    embedding: z.object({ model: z.string(), dimension: z.number() }).nullable().optional().openapi({ description: adminOnly("The embedding model, or null") }),
    reranker: RerankerSchema.nullable().optional().openapi({ description: adminOnly("The cross-encoder reranker (KB_RERANK_MODEL) and its state, or null when none is configured") }),
    imageModel: ImageModelSchema.nullable().optional().openapi({ description: adminOnly("The image-description model (KB_IMAGE_MODEL) and its state, or null when none is configured") }),
    llm: z.record(z.string(), z.unknown()).nullable().optional().openapi({ description: adminOnly("The LLM's setup (model, GPU backend, layers, threads, queue), or null") }),
    notes: z.array(z.string()).optional().openapi({ description: adminOnly("What runs in a degraded mode, and why") }),
    notices: z.array(StatusNoticeSchema).optional().openapi({ description: adminOnly("What runs in a degraded mode and why, with a code per note") }),
    documents: z.number().int().optional().openapi({ description: adminOnly("Documents in the knowledge base, all of them") }),
    chunks: z.number().int().optional().openapi({ description: adminOnly("Chunks in the active index") }),
    sensitiveDetector: z
      .object({ version: z.number().int(), staleDocuments: z.number().int() })
      .optional()
      .openapi({ description: adminOnly("Personal-data detector version; documents indexed by an older one are re-indexed by the next worker start (or `kb reindex --sensitive-stale`)") }),
    modelServers: z
      .object({
        allowedHosts: z.array(z.string()).openapi({ description: "KB_MODEL_HOSTS: the only hosts (host or host:port) a model request is ever sent to" }),
        inUse: z.array(z.object({ role: z.enum(["llm", "embedding"]), host: z.string(), model: z.string() })).openapi({ description: "The remote model servers configured (KB_LLM_URL, KB_EMBED_URL)" }),
      })
      .optional()
      .openapi({ description: adminOnly("Model servers on the network: the allow-list and the hosts in use (only allow-listed hosts are contacted; redirects are never followed)") }),
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
    summary: "Readiness; modes, models and counts for admins",
    description:
      "Without a token, with a token that does not authenticate, or as a user without the `manage_all_documents` capability: `{ status }` only (for load balancers). With an admin's token: the active modes, the model setup and the document and chunk counts (which include documents other users may not read). Limited per client address with other requests that carry no valid token (KB_ANON_RATE_LIMIT_PER_MIN); /healthz is never limited.",
    security: [{}, { bearer: [] }],
    responses: { 200: { description: "ready", content: { "application/json": { schema: ReadySchema } } }, 429: errorResponses[429] },
  }),
  async (c) => c.json(await c.get("kb").status.readiness(await optionalActor(c)), 200),
);
