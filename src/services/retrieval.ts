/**
 * The one retrieval path. Search, ask and every other way of asking call `retrieve`.
 * The asker's access filter (compiled from policies/) is applied inside each LanceDB search,
 * lexical and vector alike, so no ranking ever sees a chunk the asker may not read.
 */
import { mustMask, retrievalFilter, type Actor } from "../../policies/index.ts";
import { analyzeForQuery } from "../domain/analysis/index.ts";
import { splitSensitiveForQuery } from "../domain/sensitive/index.ts";
import type { EmbeddingProvider } from "../models/embeddings.ts";
import type { ChunkHit, ChunkStore } from "../stores/lance/chunk-store.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";
import { redactChunk, redactorFor } from "./sensitive.ts";

export type RetrievalMode = "lexical" | "hybrid";

export interface RetrievedChunk extends ChunkHit {
  /** Rank-fused score in hybrid mode; BM25 score in lexical mode. */
  score: number;
  lexicalScore?: number;
  vectorScore?: number;
}

export interface RetrievalResult {
  mode: RetrievalMode;
  chunks: RetrievedChunk[];
}

/** Reciprocal rank fusion constant (the usual 60: flattens the head of each list a little). */
const RRF_K = 60;

export class Retriever {
  constructor(
    private readonly store: ChunkStore,
    /** The embedder whose vectors match the table, or null (lexical only). */
    private readonly embedder: () => EmbeddingProvider | null,
  ) {}

  get mode(): RetrievalMode {
    return this.embedder() ? "hybrid" : "lexical";
  }

  /**
   * Everything `actor` may read that matches `query`. Personal data in the returned chunks is
   * already masked for actors without `view_sensitive` (services/sensitive.ts), so no caller
   * (search, ask and its answerers, exports) can show it by mistake.
   */
  async retrieve(actor: Actor, query: string, options: { topK: number }): Promise<RetrievalResult> {
    requireMaxLength("query", query, TEXT_LIMITS.query);
    const result = await this.retrieveUnmasked(actor, query, options);
    const redact = redactorFor(actor);
    return { ...result, chunks: result.chunks.map((c) => redactChunk(redact, c)) };
  }

  private async retrieveUnmasked(actor: Actor, query: string, options: { topK: number }): Promise<RetrievalResult> {
    const filter = retrievalFilter(actor);
    // Table and model are taken together: a switch of the active table (after a re-embed)
    // during this query cannot pair the new table with the old model.
    const store = this.store.snapshot();
    const embedder = this.embedder();
    const candidates = Math.max(options.topK * 3, 30);
    // Personal data in the query: searched by key for users who may see it, else left out, so
    // that a search cannot confirm a value the user only ever sees masked.
    const personal = splitSensitiveForQuery(query);
    const mayView = !mustMask(actor);
    const lexicalQuery = [analyzeForQuery(personal.text), ...(mayView ? personal.keys : [])].filter(Boolean).join(" ");
    const lexical = await store.searchText(lexicalQuery, filter, embedder ? candidates : options.topK);
    if (!embedder) {
      return { mode: "lexical", chunks: lexical.map((h) => ({ ...h, lexicalScore: h.score })) };
    }
    const [vector] = await embedder.embedQueries([mayView ? query : personal.text]);
    const semantic = vector ? await store.searchVector(vector, filter, candidates) : [];
    return { mode: "hybrid", chunks: fuse(lexical, semantic).slice(0, options.topK) };
  }
}

/** Reciprocal rank fusion of a lexical and a vector ranking. */
export function fuse(lexical: ChunkHit[], semantic: ChunkHit[]): RetrievedChunk[] {
  const byId = new Map<string, RetrievedChunk>();
  lexical.forEach((h, rank) => {
    byId.set(h.chunkId, { ...h, score: 1 / (RRF_K + rank + 1), lexicalScore: h.score });
  });
  semantic.forEach((h, rank) => {
    const add = 1 / (RRF_K + rank + 1);
    const seen = byId.get(h.chunkId);
    if (seen) {
      seen.score += add;
      seen.vectorScore = h.score;
    } else byId.set(h.chunkId, { ...h, score: add, vectorScore: h.score });
  });
  return [...byId.values()].sort((a, b) => b.score - a.score || a.chunkId.localeCompare(b.chunkId));
}
