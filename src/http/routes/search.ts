import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { RetrievalResult } from "../../services/retrieval.ts";
import type { AppEnv } from "../env.ts";
import { ModeSchema, QueryText, ScopeSchema, SearchResultSchema, StagesSchema, TopK, errorResponses } from "../schemas.ts";

export const searchRoutes = new OpenAPIHono<AppEnv>();

export const SearchRequestFields = { query: QueryText, topK: TopK, scope: ScopeSchema.optional() };
export const SearchResponse = z.object({ mode: ModeSchema, stages: StagesSchema, results: z.array(SearchResultSchema) }).openapi("SearchResponse");

/** The response body of a search (also the MCP server's `search` result). */
export function searchResponse({ mode, stages, chunks }: RetrievalResult): z.infer<typeof SearchResponse> {
  return {
    mode,
    stages,
    results: chunks.map((h) => ({
      documentId: h.documentId,
      chunkId: h.chunkId,
      title: h.title,
      source: h.source,
      page: h.pageStart,
      pageEnd: h.pageEnd,
      headings: h.headings,
      text: h.text,
      rank: h.rank,
      ...(h.copies?.length ? { copies: h.copies.map((c) => ({ documentId: c.documentId, title: c.title, source: c.source })) } : {}),
      // Present only when the retriever returned it (actors who may see scores).
      ...(h.score !== undefined ? { score: h.score } : {}),
      ...(h.rerankScore !== undefined ? { rerankScore: h.rerankScore } : {}),
    })),
  };
}

searchRoutes.openapi(
  createRoute({
    method: "post",
    path: "/search",
    summary: "Search the chunks you may read",
    description:
      "Results are ranked; each has its `rank` (from 1). Near-duplicate documents (the same report saved twice, or as a DOCX and its PDF export) appear once, at the best-ranked copy, the others you may read listed in its `copies`. Only users with the `read_all_documents` capability also get each result's `score`: BM25 term statistics are computed over the whole index, documents you may not read included, so a score would tell how common a query term is among them. The order itself still depends on those statistics (a residual measured in docs/benchmarks.md).",
    request: { body: { required: true, content: { "application/json": { schema: z.object(SearchRequestFields).openapi("SearchRequest") } } } },
    responses: {
      200: { description: "Ranked chunks", content: { "application/json": { schema: SearchResponse } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    const { query, topK, scope } = c.req.valid("json");
    return c.json(searchResponse(await kb.search.search(actor, query, { topK: topK ?? 10, scope })), 200);
  },
);
