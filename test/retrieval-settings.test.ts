/**
 * Fusion and candidate counts as configuration (KB_FUSION, KB_LEXICAL_CANDIDATES,
 * KB_VECTOR_CANDIDATES, KB_RERANK_CANDIDATES, KB_RERANK_MODEL), what `fuse` does with them, and
 * `kb eval`'s flags that override them for one run.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_FUSION, loadConfig, parseFusion } from "../src/config.ts";
import { retrievalOverrides } from "../src/cli/commands/eval.ts";
import { fuse } from "../src/services/retrieval.ts";
import type { ChunkHit } from "../src/stores/lance/chunk-store.ts";

const hit = (chunkId: string, score: number) => ({ chunkId, score }) as unknown as ChunkHit;

describe("retrieval settings in the configuration", () => {
  it("defaults to today's retrieval: RRF k=60, equal weights, max(3×topK, 30) candidates, no reranker", () => {
    const c = loadConfig({});
    expect(c.retrieval).toEqual({ fusion: { k: 60, lexicalWeight: 1, vectorWeight: 1 }, lexicalCandidates: 0, vectorCandidates: 0, rerankCandidates: 30 });
    expect(c.rerankModel).toBeUndefined();
  });

  it("reads KB_FUSION, the candidate counts and KB_RERANK_MODEL", () => {
    const c = loadConfig({ KB_FUSION: "rrf, k=20, vector=0.5", KB_LEXICAL_CANDIDATES: "50", KB_VECTOR_CANDIDATES: "80", KB_RERANK_CANDIDATES: "10", KB_RERANK_MODEL: "bge-reranker-v2-m3" });
    expect(c.retrieval).toEqual({ fusion: { k: 20, lexicalWeight: 1, vectorWeight: 0.5 }, lexicalCandidates: 50, vectorCandidates: 80, rerankCandidates: 10 });
    expect(c.rerankModel).toBe("bge-reranker-v2-m3");
    expect(loadConfig({ KB_RERANK_MODEL: "none" }).rerankModel).toBeUndefined();
  });

  it("refuses a fusion it cannot read, naming the variable", () => {
    for (const bad of ["k=0", "k=-1", "weight=2", "k=abc", "lexical"]) {
      expect(() => loadConfig({ KB_FUSION: bad }), bad).toThrow(/KB_FUSION/);
    }
    expect(() => loadConfig({ KB_RERANK_CANDIDATES: "many" })).toThrow(/KB_RERANK_CANDIDATES/);
  });
});

describe("fuse with settings", () => {
  const lexical = [hit("a", 9), hit("b", 5)];
  const vector = [hit("b", 0.9), hit("c", 0.8)];

  it("is today's RRF with the defaults: a chunk in both lists first", () => {
    expect(fuse(lexical, vector).map((c) => c.chunkId)).toEqual(["b", "a", "c"]);
    expect(fuse(lexical, vector, DEFAULT_FUSION)[0]!.score).toBeCloseTo(1 / 62 + 1 / 61);
  });

  it("weights the lists: vector weight 0 leaves the lexical order; a heavy vector weight puts the vector list first", () => {
    expect(fuse(lexical, vector, parseFusion("vector=0")).map((c) => c.chunkId)).toEqual(["a", "b", "c"]);
    expect(fuse(lexical, vector, parseFusion("lexical=0.1")).map((c) => c.chunkId)).toEqual(["b", "c", "a"]);
    expect(fuse(lexical, vector, parseFusion("k=1"))[0]!.score).toBeCloseTo(1 / 3 + 1 / 2);
  });
});

describe("kb eval's per-run overrides", () => {
  it("changes only what the flags name, over the configured settings", () => {
    expect(retrievalOverrides({}, {})).toEqual({});
    expect(retrievalOverrides({ fusion: "vector=2", rerankCandidates: "5" }, { KB_FUSION: "k=30", KB_LEXICAL_CANDIDATES: "40" })).toEqual({
      retrieval: { fusion: { k: 30, lexicalWeight: 1, vectorWeight: 2 }, lexicalCandidates: 40, vectorCandidates: 0, rerankCandidates: 5 },
    });
    expect(retrievalOverrides({ rerankModel: "none" }, { KB_RERANK_MODEL: "x" })).toEqual({ rerankModel: undefined });
    expect(retrievalOverrides({ rerankModel: "my-reranker" }, {})).toEqual({ rerankModel: "my-reranker" });
  });

  it("refuses counts and fusions it cannot read, naming the flag", () => {
    expect(() => retrievalOverrides({ lexicalCandidates: "-1" }, {})).toThrow(/--lexical-candidates/);
    expect(() => retrievalOverrides({ rerankCandidates: "0" }, {})).toThrow(/--rerank-candidates/);
    expect(() => retrievalOverrides({ fusion: "k=0" }, {})).toThrow(/--fusion/);
  });
});
