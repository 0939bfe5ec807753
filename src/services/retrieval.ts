/**
 * The one retrieval path. Search, ask and every other way of asking call `retrieve`.
 * The asker's read rule (from policies/, compiled by the chunk store's filter.ts) is applied inside each LanceDB search,
 * lexical and vector alike, so no ranking ever sees a chunk the asker may not read.
 */
import { documentReadRule, maySeeScores, mustMask, type Actor } from "../../policies/index.ts";
import { DEFAULT_FUSION, DEFAULT_RERANK_CANDIDATES, type FusionSettings, type RetrievalSettings } from "../config.ts";
import { analyzeForIndex, analyzeForQuery } from "../domain/analysis/index.ts";
import { detectSensitive, splitSensitiveForQuery } from "../domain/sensitive/index.ts";
import type { EmbeddingProvider } from "../models/embeddings.ts";
import type { Reranker } from "../models/reranker.ts";
import type { ChunkHit, ChunkStore } from "../stores/lance/chunk-store.ts";
import { andFilters, compileAccessRule, compileScope, type ScopeClause } from "../stores/lance/filter.ts";
import { collapseCopies, type DocumentCopy, type FingerprintOf } from "./duplicates.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";
import { redactChunk, redactorFor } from "./sensitive.ts";

export type RetrievalMode = "lexical" | "hybrid";
/** What ran for one retrieval: the BM25 search, the vector search, the cross-encoder reranker. */
export type RetrievalStage = "lexical" | "vector" | "rerank";

/**
 * What a search may be restricted to ("only in 인사규정"): document type (extension), source
 * folder prefix, tag, date range of the live version (`versionAt`), title. Matched like the
 * documents list.
 */
export interface SearchScope {
  /** Types (extensions) to keep, lower case. */
  types?: string[];
  /** Keep sources starting with this (a folder of a sync or ingest path). */
  folder?: string;
  tag?: string;
  /**
   * ISO times, inclusive, on the date the live version's content was written (`versionAt`), not
   * `updatedAt`, which access changes and sync checks move too.
   */
  updatedSince?: string;
  updatedUntil?: string;
  /** Title contains (case-insensitive for Latin letters). */
  q?: string;
}

/** A scope as a clause the chunk table can test (services/documents.ts: scopeClause). */
export type ScopeResolver = (actor: Actor, scope: SearchScope) => Promise<ScopeClause>;

/** A ranked chunk with the scores that ranked it (inside the retriever only). */
export interface ScoredChunk extends ChunkHit {
  /** Rank-fused score in hybrid mode; BM25 score in lexical mode. */
  score: number;
  lexicalScore?: number;
  vectorScore?: number;
  /** The reranker's relevance score (for the reranked head of the list). */
  rerankScore?: number;
}

/**
 * A chunk as returned to callers: its rank always, its scores only for actors who may see them
 * (`maySeeScores`: BM25 statistics count documents the actor may not read).
 */
export interface RetrievedChunk extends Omit<ChunkHit, "score"> {
  /** Position in the result list, from 1. */
  rank: number;
  score?: number;
  lexicalScore?: number;
  vectorScore?: number;
  rerankScore?: number;
  /**
   * Near-duplicates of this chunk's document among the results (`collapseCopies`), each one the
   * actor may read; absent when there are none.
   */
  copies?: DocumentCopy[];
}

export interface RetrievalOptions {
  topK: number;
  scope?: SearchScope;
  /**
   * Fold hits of near-duplicate documents (services/duplicates.ts) into the best-ranked one,
   * listed as its `copies`; the `topK` results are counted after folding.
   */
  collapseCopies?: boolean;
}

export interface RetrievalResult {
  mode: RetrievalMode;
  /** The stages that ran, in order ("rerank" only when a reranker is loaded and scored this query). */
  stages: RetrievalStage[];
  chunks: RetrievedChunk[];
  /** Milliseconds the reranker took for this query (when it ran). */
  rerankMs?: number;
}

interface ScoredResult {
  mode: RetrievalMode;
  stages: RetrievalStage[];
  chunks: ScoredChunk[];
  rerankMs?: number;
}

/** Candidate counts and fusion (config.ts: KB_FUSION, KB_LEXICAL_CANDIDATES, …), and the reranker. */
export interface RetrieverOptions {
  settings?: RetrievalSettings;
  /**
   * The loaded reranker, or null (none configured, or it failed to load: search goes on without
   * it). Awaited per query, so a reranker loaded on first use is waited for once.
   */
  reranker?: () => Promise<Reranker | null>;
  /** Told each reranking's duration, or the error that made this query go on without it. */
  observeRerank?: (outcome: { seconds: number; error?: unknown }) => void;
  /** Fingerprints of document versions, to collapse near-duplicates; absent: never collapsed. */
  fingerprintOf?: FingerprintOf;
}

const DEFAULT_SETTINGS: RetrievalSettings = { fusion: DEFAULT_FUSION, lexicalCandidates: 0, vectorCandidates: 0, rerankCandidates: DEFAULT_RERANK_CANDIDATES };

export class Retriever {
  constructor(
    private readonly store: ChunkStore,
    /** The embedder whose vectors match the table, or null (lexical only). */
    private readonly embedder: () => EmbeddingProvider | null,
    /** Of these documents, those indexed by an older personal-data detector (not yet re-indexed). */
    private readonly olderDetector: (documentIds: string[]) => Promise<Set<string>> = async () => new Set(),
    /** Resolves a search scope to a clause on the chunk table's columns (and ids, for a title). */
    private readonly resolveScope: ScopeResolver | null = null,
    /** Told each retrieval's mode and duration (metrics). */
    private readonly observe: (mode: RetrievalMode, seconds: number) => void = () => {},
    /**
     * Called before each query: follows the active table if another process switched it (a
     * re-embed run by a worker), so a replica's next query after the switch uses the new table.
     */
    private readonly followActive: () => Promise<void> = async () => {},
    private readonly options: RetrieverOptions = {},
  ) {}

  /** Fusion and candidate counts this retriever runs with. */
  get settings(): RetrievalSettings {
    return this.options.settings ?? DEFAULT_SETTINGS;
  }

  get mode(): RetrievalMode {
    return this.embedder() ? "hybrid" : "lexical";
  }

  /**
   * Everything `actor` may read that matches `query`. Personal data in the returned chunks is
   * already masked for actors without `view_sensitive` (services/sensitive.ts), and scores are
   * left out for actors who may not see them (`maySeeScores`), so no caller (search, ask and its
   * answerers, the CLI, exports) can show either by mistake.
   */
  async retrieve(actor: Actor, query: string, options: RetrievalOptions): Promise<RetrievalResult> {
    requireMaxLength("query", query, TEXT_LIMITS.query);
    const started = performance.now();
    const collapse = options.collapseCopies === true && this.options.fingerprintOf !== undefined;
    // Copies take places in the ranking before they are folded: ask for more, keep topK after.
    const wanted = collapse ? options.topK + Math.max(options.topK, 10) : options.topK;
    const redact = redactorFor(actor);
    const scored = await this.retrieveScored(actor, query, { topK: wanted, scope: options.scope, poolFor: options.topK });
    const result = await this.rerank(actor, query, scored, wanted, redact);
    // Redacted before folding: a copy's title and source are shown as masked as its hit's.
    let redacted = result.chunks.map((c) => redactChunk(redact, c));
    if (collapse) redacted = (await collapseCopies(redacted, this.options.fingerprintOf!)).slice(0, options.topK);
    this.observe(result.mode, (performance.now() - started) / 1000);
    const withScores = maySeeScores(actor);
    const chunks = redacted.map((c, i): RetrievedChunk => {
      const { score, lexicalScore, vectorScore, rerankScore, ...rest } = c;
      const rank = i + 1;
      if (!withScores) return { ...rest, rank };
      return {
        ...rest,
        rank,
        score,
        ...(lexicalScore !== undefined ? { lexicalScore } : {}),
        ...(vectorScore !== undefined ? { vectorScore } : {}),
        ...(rerankScore !== undefined ? { rerankScore } : {}),
      };
    });
    return { mode: result.mode, stages: result.stages, chunks, ...(result.rerankMs !== undefined ? { rerankMs: result.rerankMs } : {}) };
  }

  /**
   * The reranking step, after fusion: the reranker re-scores the head of the fused list (up to
   * KB_RERANK_CANDIDATES chunks) and orders it by its score; the rest keep their fused order
   * behind it. It only ever sees chunks the actor may read: it runs on the results of the
   * searches, which applied the actor's read rule (and scope) inside LanceDB, so it cannot
   * promote anything else; keep it after them. The texts it reads are masked as the actor sees
   * them, and its query is the one the searches used (personal data left out for readers who
   * see it masked), so its order cannot confirm a value the actor only sees masked. A reranker
   * that fails on a query leaves the fused order (and is reported through `observeRerank`).
   */
  private async rerank(actor: Actor, query: string, fused: ScoredResult, topK: number, redact: (text: string) => string): Promise<ScoredResult> {
    const cut = (r: ScoredResult): ScoredResult => ({ ...r, chunks: r.chunks.slice(0, topK) });
    const reranker = (await this.options.reranker?.()) ?? null;
    if (!reranker || fused.chunks.length === 0) return cut(fused);
    const head = fused.chunks.slice(0, Math.max(1, this.settings.rerankCandidates));
    const text = mustMask(actor) ? splitSensitiveForQuery(query).text : query;
    const started = performance.now();
    let scores: number[];
    try {
      scores = await reranker.score(text, head.map((c) => rerankPassage(redactChunk(redact, c))));
      if (scores.length !== head.length) throw new Error(`the reranker returned ${scores.length} scores for ${head.length} passages`);
    } catch (error) {
      this.options.observeRerank?.({ seconds: (performance.now() - started) / 1000, error });
      return cut(fused);
    }
    const seconds = (performance.now() - started) / 1000;
    this.options.observeRerank?.({ seconds });
    // Ties keep the fused order (a stable sort of the fused list).
    const reranked = head.map((c, i) => ({ ...c, rerankScore: scores[i]! })).sort((a, b) => b.rerankScore - a.rerankScore);
    return cut({ mode: fused.mode, stages: [...fused.stages, "rerank"], chunks: [...reranked, ...fused.chunks.slice(head.length)], rerankMs: seconds * 1000 });
  }

  /** `poolFor`: the topK whose hybrid candidate pool to use (the caller's, when it asks for more to fold copies). */
  private async retrieveScored(actor: Actor, query: string, options: { topK: number; scope?: SearchScope; poolFor: number }): Promise<ScoredResult> {
    // Policies decide what the actor may read; the store compiles that rule into its own filter.
    // A scope joins it in the same filter, applied inside each search (never to its results).
    let filter = compileAccessRule(documentReadRule(actor));
    if (options.scope && hasScope(options.scope)) {
      if (!this.resolveScope) throw new Error("this retriever cannot resolve search scopes");
      filter = andFilters(filter, compileScope(await this.resolveScope(actor, options.scope)));
    }
    await this.followActive();
    // Table and model are taken together: a switch of the active table (after a re-embed)
    // during this query cannot pair the new table with the old model.
    const store = this.store.snapshot();
    const embedder = this.embedder();
    const { topK } = options;
    const { lexicalCandidates, vectorCandidates, rerankCandidates, fusion } = this.settings;
    // The fused list must hold the reranker's candidates (its rest is cut to topK after reranking).
    // The default pool is the caller's topK's (`poolFor`): folding copies changes neither the
    // fused ranking nor its cost.
    const reranking = this.options.reranker ? rerankCandidates : 0;
    const wanted = (configured: number) => Math.max(configured > 0 ? configured : Math.max(options.poolFor * 3, 30), topK, reranking);
    // Personal data in the query: searched by key for users who may see it, else left out, so
    // that a search cannot confirm a value the user only ever sees masked.
    const personal = splitSensitiveForQuery(query);
    const mayView = !mustMask(actor);
    const lexicalQuery = [analyzeForQuery(personal.text), ...(mayView ? personal.keys : [])].filter(Boolean).join(" ");
    const lexicalSearch = (async () => {
      const hits = await store.searchText(lexicalQuery, filter, embedder ? wanted(lexicalCandidates) : Math.max(topK, reranking));
      return mayView ? hits : withoutHitsThroughValues(hits, lexicalQuery, await this.olderDetector(hits.map((h) => h.documentId)));
    })();
    if (!embedder) {
      return { mode: "lexical", stages: ["lexical"], chunks: (await lexicalSearch).map((h) => ({ ...h, lexicalScore: h.score })) };
    }
    // The lexical search runs (in LanceDB's threads) while the query is embedded and searched.
    const semanticSearch = (async () => {
      const [vector] = await embedder.embedQueries([mayView ? query : personal.text]);
      return vector ? store.searchVector(vector, filter, wanted(vectorCandidates)) : [];
    })();
    const [lexical, semantic] = await Promise.all([lexicalSearch, semanticSearch]);
    // Cut to topK after the reranking step (retrieve → rerank), which needs the longer head.
    return { mode: "hybrid", stages: ["lexical", "vector"], chunks: fuse(lexical, semantic, fusion).slice(0, Math.max(topK, reranking)) };
  }
}

function hasScope(s: SearchScope): boolean {
  return !!(s.types?.length || s.folder || s.tag || s.updatedSince || s.updatedUntil || s.q?.trim());
}

/**
 * A chunk of a document indexed by an older personal-data detector (until its re-index job has
 * run: services/sensitive.ts) still holds, as ordinary terms, the characters of values the
 * current detector finds in it. For a reader who sees those values masked, such a lexical hit is
 * dropped when one of the query's terms could have reached it through a value ("2345678" of
 * "850315 2345678"), so a search cannot confirm the value. Chunks indexed by the current detector
 * are left alone: their values are not in the index as words.
 */
function withoutHitsThroughValues(hits: ChunkHit[], analyzedQuery: string, olderDetector: Set<string>): ChunkHit[] {
  const queryTerms = new Set(analyzedQuery.split(" ").filter(Boolean));
  if (queryTerms.size === 0 || olderDetector.size === 0) return hits;
  return hits.filter((h) => {
    if (!olderDetector.has(h.documentId)) return true;
    const text = `${h.title}\n${h.headings}\n${h.text}`;
    return !detectSensitive(text).some((s) => analyzeForIndex(text.slice(s.start, s.end)).split(" ").some((t) => queryTerms.has(t)));
  });
}

/** What the reranker reads of a chunk: its title and headings, then its text. */
export function rerankPassage(c: Pick<ChunkHit, "title" | "headings" | "text">): string {
  return [c.title, c.headings, c.text].filter((s) => s && s.trim()).join("\n");
}

/** Reciprocal rank fusion of a lexical and a vector ranking: Σ weight / (k + rank), rank from 1. */
export function fuse(lexical: ChunkHit[], semantic: ChunkHit[], fusion: FusionSettings = DEFAULT_FUSION): ScoredChunk[] {
  const { k, lexicalWeight, vectorWeight } = fusion;
  const byId = new Map<string, ScoredChunk>();
  lexical.forEach((h, rank) => {
    byId.set(h.chunkId, { ...h, score: lexicalWeight / (k + rank + 1), lexicalScore: h.score });
  });
  semantic.forEach((h, rank) => {
    const add = vectorWeight / (k + rank + 1);
    const seen = byId.get(h.chunkId);
    if (seen) {
      seen.score += add;
      seen.vectorScore = h.score;
    } else byId.set(h.chunkId, { ...h, score: add, vectorScore: h.score });
  });
  return [...byId.values()].sort((a, b) => b.score - a.score || a.chunkId.localeCompare(b.chunkId));
}
