/**
 * The optional cross-encoder reranker (KB_RERANK_MODEL), with a tiny generated model whose score
 * is known: the number of "security" tokens in the passage (test/fixtures/make-embedding-model.ts).
 * So each test predicts the order the reranker must give and checks it, through the real
 * Retriever (lexical and hybrid) and the HTTP search API; a viewer still never sees hidden
 * documents; without a model nothing changes; a broken model is reported and search goes on.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { formatReport } from "../src/cli/commands/eval.ts";
import { runRetrievalEvalInPlace } from "../src/eval/run-eval.ts";
import { loadReranker, type Reranker } from "../src/models/reranker.ts";
import { Retriever, rerankPassage, type RetrievedChunk } from "../src/services/retrieval.ts";
import { makeTinyRerankerModel, TINY_RERANK_MARKER } from "./fixtures/make-embedding-model.ts";
import { ingestNow, openTestKb, startTestServer, writeFiles, type TestKb, type TestServer } from "./helpers/kb.ts";

const RERANKER = "tiny-rerank";
const QUERY = "retention";
const tmp: string[] = [];

/** A models folder with the fixture reranker, the fixture embedder, and a broken reranker. */
async function modelsFolder(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-rerank-models-"));
  tmp.push(dir);
  await makeTinyRerankerModel(path.join(dir, RERANKER));
  fs.cpSync(process.env.KB_TEST_EMBED_MODEL_DIR!, path.join(dir, process.env.KB_TEST_EMBED_MODEL!), { recursive: true });
  fs.cpSync(path.join(dir, RERANKER), path.join(dir, "broken-rerank"), { recursive: true });
  fs.writeFileSync(path.join(dir, "broken-rerank", "onnx", "model.onnx"), Buffer.from("not an onnx graph"));
  return dir;
}

/** Every document matches the query; BM25 prefers the ones the reranker likes least. */
const DOCS = {
  "alpha.txt": "Retention retention retention: the retention schedule keeps archived files for five years.",
  "bravo.txt": "The retention rule applies to mail. A security review happens yearly.",
  "charlie.txt": "Retention of logs. Security security security: every security officer checks the archive.",
  "delta.txt": "Retention retention of contracts after the project ends, then deletion.",
  // Hidden from viewers: the reranker would put it first (six markers).
  "board.txt": "Board retention decision: security security security security security security measures.",
};

const markers = (c: RetrievedChunk) => rerankPassage(c).toLowerCase().split(/[^a-z]+/).filter((w) => w === TINY_RERANK_MARKER).length;

/** The order the fixture reranker must give: by marker count, ties in the fused order (a stable sort). */
const predicted = (fused: RetrievedChunk[]) => [...fused].sort((a, b) => markers(b) - markers(a)).map((c) => c.chunkId);

async function ingestDocs(t: TestKb) {
  const files = writeFiles(path.join(t.dir, "docs"), DOCS);
  const { job } = await ingestNow(
    t.kb,
    files.map((f) => ({ source: f, path: f, ...(f.endsWith("board.txt") ? { allow: ["group:board"] } : {}) })),
  );
  expect(job.status).toBe("succeeded");
}

afterAll(() => {
  for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
});

describe("the fixture reranker (loadReranker, transformers.js)", () => {
  let reranker: Reranker;
  let models: string;
  beforeAll(async () => {
    models = await modelsFolder();
    reranker = await loadReranker({ modelsDir: models, model: RERANKER, log: () => {} });
  });
  afterAll(async () => reranker?.close());

  it("scores (query, passage) pairs with the known function: markers in the passage, not in the query", async () => {
    expect(reranker.modelId).toBe(RERANKER);
    const scores = await reranker.score("security policy", ["no marker here", "Security security. SECURITY!", "보안 정책 security", ""]);
    expect(scores).toEqual([0, 3, 1, 0]);
    // More pairs than one batch (16): order kept across batches.
    const many = Array.from({ length: 40 }, (_, i) => `${"security ".repeat(i % 7)}text ${i}`);
    expect(await reranker.score("q", many)).toEqual(many.map((_, i) => i % 7));
  });

  it("refuses what is not a one-label cross-encoder, and a folder that is not there", async () => {
    const embedder = process.env.KB_TEST_EMBED_MODEL!;
    await expect(loadReranker({ modelsDir: models, model: embedder, log: () => {} })).rejects.toThrow(/not a …ForSequenceClassification/);
    await expect(loadReranker({ modelsDir: models, model: "absent", log: () => {} })).rejects.toThrow(/does not exist/);
    await expect(loadReranker({ modelsDir: models, model: "broken-rerank", log: () => {} })).rejects.toThrow(/broken-rerank/);
  });
});

describe("reranking in the real Retriever (lexical mode)", () => {
  let t: TestKb;
  beforeAll(async () => {
    t = await openTestKb({ modelsDir: await modelsFolder(), rerankModel: RERANKER });
    await ingestDocs(t);
    await t.kb.accounts.createUser({ name: "viewer1", role: "viewer" });
  });
  afterAll(async () => t?.close());

  it("reorders the fused candidates as the model scores them, for the actor's chunks only", async () => {
    const viewer = await t.kb.accounts.actorByName("viewer1");
    // The same store without a reranker: today's order.
    const plain = await new Retriever(t.kb.chunks, () => null).retrieve(viewer, QUERY, { topK: 10 });
    expect(plain.stages).toEqual(["lexical"]);
    const reranked = await t.kb.retriever.retrieve(viewer, QUERY, { topK: 10 });
    expect(reranked.stages).toEqual(["lexical", "rerank"]);
    expect(reranked.chunks.map((c) => c.chunkId)).toEqual(predicted(plain.chunks));
    // The prediction is not the order the test started from (else it could not fail).
    expect(reranked.chunks.map((c) => c.chunkId)).not.toEqual(plain.chunks.map((c) => c.chunkId));
    expect(reranked.chunks[0]!.source.endsWith("charlie.txt")).toBe(true);
    expect(reranked.chunks.map((c) => c.rank)).toEqual(reranked.chunks.map((_, i) => i + 1));
    // The hidden document would win if it were a candidate: it never is, for the viewer.
    expect(reranked.chunks.some((c) => c.source.endsWith("board.txt"))).toBe(false);
    expect(reranked.chunks.flatMap((c) => Object.keys(c).filter((k) => /score/i.test(k)))).toEqual([]);
    const all = await t.kb.retriever.retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    expect(all.chunks[0]!.source.endsWith("board.txt")).toBe(true);
    expect(all.chunks[0]!.rerankScore).toBe(6);
  });

  it("re-scores only the top KB_RERANK_CANDIDATES and cuts to topK after reranking", async () => {
    const plain = await new Retriever(t.kb.chunks, () => null).retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    const two = await new Retriever(t.kb.chunks, () => null, undefined, undefined, undefined, undefined, {
      settings: { ...t.kb.retriever.settings, rerankCandidates: 2 },
      reranker: () => t.kb.reranker.get(),
    }).retrieve(SYSTEM_ACTOR, QUERY, { topK: 3 });
    const head = predicted(plain.chunks.slice(0, 2));
    expect(two.chunks.map((c) => c.chunkId)).toEqual([...head, plain.chunks[2]!.chunkId]);
    expect(two.chunks.map((c) => c.rerankScore !== undefined)).toEqual([true, true, false]);
  });

  it("kb eval reports the reranker and the settings with its figures, on the operator's own questions", async () => {
    const charlie = (await t.kb.documents.list(SYSTEM_ACTOR, { limit: 10, offset: 0 })).items.find((d) => d.source.endsWith("charlie.txt"))!;
    const viewer = await t.kb.accounts.actorByName("viewer1");
    const dataset = { documents: [], questions: [{ id: "q1", question: QUERY, relevantDocumentIds: [charlie.id] }] };
    const report = await runRetrievalEvalInPlace(t.kb, dataset, viewer);
    // charlie.txt is not BM25's first (see the reordering test); the reranker puts it first.
    expect(report.recall1).toBe(1);
    expect(report).toMatchObject({ reranker: RERANKER, reranked: 1, settings: { fusion: { k: 60, lexicalWeight: 1, vectorWeight: 1 }, lexicalCandidates: 0, vectorCandidates: 0, rerankCandidates: 30 } });
    expect(report.rerankMsPerQuery).toBeTypeOf("number");
    expect(formatReport("own.jsonl", report)).toContain(`fusion rrf k=60 lexical=1 vector=1; candidates lexical max(3×topK,30), vector max(3×topK,30); rerank ${RERANKER} on the top 30`);
  });

  it("a reranker that fails on a query leaves that query's fused order, and says so", async () => {
    const closed = await loadReranker({ modelsDir: t.kb.config.modelsDir, model: RERANKER, log: () => {} });
    await closed.close(); // a real model in a failed state: every score() now throws
    const outcomes: { seconds: number; error?: unknown }[] = [];
    const failing = new Retriever(t.kb.chunks, () => null, undefined, undefined, undefined, undefined, {
      settings: t.kb.retriever.settings,
      reranker: async () => closed,
      observeRerank: (o) => outcomes.push(o),
    });
    const r = await failing.retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    const plain = await new Retriever(t.kb.chunks, () => null).retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    expect(r.stages).toEqual(["lexical"]);
    expect(r.chunks.map((c) => c.chunkId)).toEqual(plain.chunks.map((c) => c.chunkId));
    expect(outcomes).toHaveLength(1);
    expect(String(outcomes[0]!.error)).toMatch(/closed/);
  });

  it("loads the model once and reports it", () => {
    expect(t.kb.reranker.status()).toEqual({ status: "ready", model: RERANKER });
  });
});

describe("reranking in hybrid mode (fixture embedder + fixture reranker)", () => {
  let t: TestKb;
  beforeAll(async () => {
    t = await openTestKb({ modelsDir: await modelsFolder(), embedModel: process.env.KB_TEST_EMBED_MODEL!, rerankModel: RERANKER });
    await ingestDocs(t);
  });
  afterAll(async () => t?.close());

  it("reranks the rank-fused list: lexical, vector, rerank", async () => {
    expect(t.kb.retriever.mode).toBe("hybrid");
    const plain = await new Retriever(t.kb.chunks, () => t.kb.index.embedder()).retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    expect(plain.stages).toEqual(["lexical", "vector"]);
    const reranked = await t.kb.retriever.retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
    expect(reranked.stages).toEqual(["lexical", "vector", "rerank"]);
    expect(reranked.chunks.map((c) => c.chunkId)).toEqual(predicted(plain.chunks));
    expect(reranked.chunks[0]!.vectorScore).toBeTypeOf("number");
  });
});

describe("the search API with a reranker", () => {
  let s: TestServer;
  let admin: string;
  let viewer: string;
  beforeAll(async () => {
    s = await startTestServer({ modelsDir: await modelsFolder(), rerankModel: RERANKER });
    await ingestDocs(s);
    admin = await s.tokenFor("root", "admin");
    viewer = await s.tokenFor("kim", "viewer");
  });
  afterAll(async () => s?.close());

  const search = async (token: string) => {
    const res = await s.fetchAs(token, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: QUERY, topK: 10 }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { mode: string; stages: string[]; results: (RetrievedChunk & { page: number })[] };
  };

  it("answers in the reranker's order, says it ran, and never shows a viewer the hidden document", async () => {
    const asViewer = await search(viewer);
    expect(asViewer.stages).toEqual(["lexical", "rerank"]);
    const kim = await s.kb.accounts.actorByName("kim");
    const plain = await new Retriever(s.kb.chunks, () => null).retrieve(kim, QUERY, { topK: 10 });
    expect(asViewer.results.map((r) => r.chunkId)).toEqual(predicted(plain.chunks));
    expect(asViewer.results.some((r) => r.source.endsWith("board.txt"))).toBe(false);
    expect(asViewer.results.every((r) => r.score === undefined && r.rerankScore === undefined)).toBe(true);
    const asAdmin = await search(admin);
    expect(asAdmin.results[0]!.source.endsWith("board.txt")).toBe(true);
    expect(asAdmin.results[0]!.rerankScore).toBe(6);
  });

  it("asks with the reranked sources, and the answer says which stages ran", async () => {
    const res = await s.fetchAs(viewer, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: QUERY }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { retrieval: string; stages: string[]; citations: { source: string }[] };
    expect(body).toMatchObject({ retrieval: "lexical", stages: ["lexical", "rerank"] });
    expect(body.citations.some((c) => c.source.endsWith("board.txt"))).toBe(false);
    const streamed = await (await s.fetchAs(viewer, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: QUERY, stream: true }) })).text();
    const sources = JSON.parse(/event: sources\ndata: (.*)\n/.exec(streamed)![1]!) as { stages: string[]; sources: { source: string }[] };
    expect(sources.stages).toEqual(["lexical", "rerank"]);
    // topK 5 of the reranked list: charlie.txt (four markers) is the first source.
    expect(sources.sources[0]!.source.endsWith("charlie.txt")).toBe(true);
  });

  it("reports the reranker in /readyz and the system status, and its latency in /metrics", async () => {
    const ready = (await (await s.fetchAs(admin, "/readyz")).json()) as Record<string, unknown>;
    expect(ready.reranker).toEqual({ model: RERANKER, status: "ready", candidates: 30 });
    expect(((await (await s.fetchAs(viewer, "/readyz")).json()) as Record<string, unknown>).reranker).toBeUndefined();
    const system = (await (await s.fetchAs(admin, "/api/v1/admin/status")).json()) as Record<string, unknown>;
    expect(system.reranker).toEqual({ model: RERANKER, status: "ready", candidates: 30 });
    await search(viewer);
    const metrics = await (await s.fetchAs(admin, "/metrics")).text();
    const count = Number(/^kb_rerank_duration_seconds_count (\d+)$/m.exec(metrics)?.[1]);
    expect(count).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(/^kb_reranks_total\{outcome="ok"\} \d+$/m);
  });
});

describe("without a reranker, and with a broken one", () => {
  it("no KB_RERANK_MODEL: today's results, no rerank stage, nothing in /readyz", async () => {
    const s = await startTestServer({ modelsDir: await modelsFolder() });
    try {
      await ingestDocs(s);
      const admin = await s.tokenFor("root", "admin");
      expect(s.kb.reranker.status()).toEqual({ status: "off" });
      const body = (await (await s.fetchAs(admin, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: QUERY, topK: 3 }) })).json()) as any;
      expect(body.stages).toEqual(["lexical"]);
      const plain = await new Retriever(s.kb.chunks, () => null).retrieve(SYSTEM_ACTOR, QUERY, { topK: 3 });
      expect(body.results.map((r: RetrievedChunk) => r.chunkId)).toEqual(plain.chunks.map((c) => c.chunkId));
      expect(body.results.map((r: RetrievedChunk) => r.score)).toEqual(plain.chunks.map((c) => c.score));
      expect(body.results.some((r: RetrievedChunk) => r.rerankScore !== undefined)).toBe(false);
      const ready = (await (await s.fetchAs(admin, "/readyz")).json()) as Record<string, unknown>;
      expect(ready.reranker).toBeNull();
    } finally {
      await s.close();
    }
  });

  it("a model that fails to load: /readyz says so, search works without it", async () => {
    const s = await startTestServer({ modelsDir: await modelsFolder(), rerankModel: "broken-rerank" });
    try {
      await ingestDocs(s);
      const admin = await s.tokenFor("root", "admin");
      const ready = (await (await s.fetchAs(admin, "/readyz")).json()) as { status: string; reranker: Record<string, unknown>; notes: string[]; notices: { code: string; params: Record<string, unknown>; text: string }[] };
      expect(ready.status).toBe("ready");
      expect(ready.reranker).toMatchObject({ model: "broken-rerank", status: "failed", candidates: 30 });
      expect(String(ready.reranker.error)).toMatch(/broken-rerank/);
      expect(ready.notes.some((n) => /reranker broken-rerank failed to load/.test(n))).toBe(true);
      // The same note with a code and its values, for clients that word it in their own language.
      const notice = ready.notices.find((n) => n.code === "reranker_failed");
      expect(notice?.params.model).toBe("broken-rerank");
      expect(ready.notes).toContain(notice?.text);
      const res = await s.fetchAs(admin, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: QUERY, topK: 10 }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.stages).toEqual(["lexical"]);
      const plain = await new Retriever(s.kb.chunks, () => null).retrieve(SYSTEM_ACTOR, QUERY, { topK: 10 });
      expect(body.results.map((r: RetrievedChunk) => r.chunkId)).toEqual(plain.chunks.map((c) => c.chunkId));
    } finally {
      await s.close();
    }
  });
});
