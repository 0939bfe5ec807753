/**
 * Relevance scores leak terms of documents the asker may not read: BM25 counts every row of the
 * index (hidden ones included) in its term statistics, so a score moves when hidden documents
 * containing a query term are added. Users without `read_all_documents` get ranks only; users
 * who may read everything still get scores (they learn nothing they could not read).
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let viewer: string;
let admin: string;

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const search = async (token: string, query: string) => {
  const res = await t.fetchAs(token, "/api/v1/search", json({ query, topK: 10 }));
  expect(res.status).toBe(200);
  return (await res.json()) as any;
};

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  viewer = await t.tokenFor("kim", "viewer");
  admin = await t.tokenFor("root", "admin");
  const dir = path.join(t.dir, "visible");
  const files = writeFiles(dir, {
    "memo.txt": "The zephyr budget memo covers quarterly planning for the warehouse team.",
    "travel.txt": "Travel expenses are refunded within thirty days of the trip.",
    "canteen.txt": "The canteen opens at eight and serves lunch until two.",
  });
  expect((await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })))).job.status).toBe("succeeded");
});
afterAll(async () => t?.close());

describe("search scores", () => {
  it("a viewer's search response is unchanged by hidden documents containing the query term", async () => {
    const before = await search(viewer, "zephyr");
    expect(before.results.map((r: any) => r.source.split("/").pop())).toEqual(["memo.txt"]);

    // Six documents the viewer may not read, each containing the query term.
    const hidden = writeFiles(
      path.join(t.dir, "hidden"),
      Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`board${i}.txt`, `Board minutes ${i}: the zephyr acquisition is confidential.`])),
    );
    expect((await ingestNow(t.kb, hidden.map((f) => ({ source: f, path: f, allow: ["group:board"] })))).job.status).toBe("succeeded");
    // New rows reach the FTS index's statistics when the worker compacts (every
    // KB_OPTIMIZE_INTERVAL_S); do it now.
    await t.kb.chunks.optimize(new Date());

    const after = await search(viewer, "zephyr");
    // Before the fix the BM25 score of memo.txt dropped here (the term got more common).
    expect(after).toEqual(before);
    for (const r of after.results) {
      expect(r).not.toHaveProperty("score");
      expect(Object.keys(r).some((k) => /score/i.test(k))).toBe(false);
    }
    expect(after.results.map((r: any) => r.rank)).toEqual([1]);
  });

  it("ranks every viewer result 1..n, and gives scores to those who may read every document", async () => {
    const mine = await search(viewer, "zephyr budget travel canteen");
    expect(mine.results.length).toBe(3);
    expect(mine.results.map((r: any) => r.rank)).toEqual([1, 2, 3]);
    expect(mine.results.every((r: any) => !("score" in r))).toBe(true);

    const all = await search(admin, "zephyr budget travel canteen");
    expect(all.results.length).toBeGreaterThan(3); // the hidden board minutes too
    expect(all.results.map((r: any) => r.rank)).toEqual(all.results.map((_: unknown, i: number) => i + 1));
    for (const r of all.results) expect(r.score).toBeTypeOf("number");
  });

  it("keeps scores out of what the retrieval service returns for such users (ask, CLI, exports)", async () => {
    const actor = await t.kb.accounts.actorByName("kim");
    const { chunks } = await t.kb.retriever.retrieve(actor, "zephyr", { topK: 5 });
    expect(chunks.length).toBe(1);
    expect(chunks[0]).toMatchObject({ rank: 1 });
    expect(Object.keys(chunks[0]!).filter((k) => /score/i.test(k))).toEqual([]);

    const root = await t.kb.accounts.actorByName("root");
    const mine = await t.kb.retriever.retrieve(root, "zephyr", { topK: 10 });
    expect(mine.chunks[0]!.score).toBeTypeOf("number");
    expect(mine.chunks[0]!.lexicalScore).toBeTypeOf("number");
  });

  it("documents rank always and score only for read_all_documents in the OpenAPI schema", async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as any;
    const schema = doc.components.schemas.SearchResult;
    expect(schema.required).toContain("rank");
    expect(schema.required).not.toContain("score");
    expect(schema.properties.score.description).toMatch(/read_all_documents/);
  });
});
