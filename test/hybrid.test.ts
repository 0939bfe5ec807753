/** Hybrid mode with a real (fixture) ONNX embedding model: vectors written, fused, filtered. */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, openTestKb, writeFiles, type TestKb } from "./helpers/kb.ts";

const modelsDir = process.env.KB_TEST_EMBED_MODELS_DIR!;
const model = process.env.KB_TEST_EMBED_MODEL!;
let t: TestKb;

beforeAll(async () => {
  t = await openTestKb({ modelsDir, embedModel: model });
  const files = writeFiles(path.join(t.dir, "docs"), {
    "open.txt": "The cafeteria serves bibimbap on Fridays. 금요일에는 비빔밥이 나옵니다.",
    "board.txt": "Board minutes: the cafeteria contract will be renewed. 이사회 회의록입니다.",
  });
  const { job } = await ingestNow(t.kb, [
    { source: files[0]!, path: files[0]! },
    { source: files[1]!, path: files[1]!, allow: ["group:board"] },
  ]);
  expect(job.status).toBe("succeeded");
});
afterAll(async () => t?.close());

describe("hybrid retrieval", () => {
  it("reports hybrid mode with the model's dimension", () => {
    expect(t.kb.retriever.mode).toBe("hybrid");
    expect(t.kb.models.embedding).toMatchObject({ model, dimension: 32 });
  });

  it("fuses lexical and vector results, and filters both inside the search", async () => {
    await t.kb.accounts.createUser({ name: "viewer1", role: "viewer" });
    const viewer = await t.kb.accounts.actorByName("viewer1");
    const mine = await t.kb.retriever.retrieve(viewer, "cafeteria contract", { topK: 10 });
    expect(mine.mode).toBe("hybrid");
    expect(mine.chunks.map((c) => c.source.endsWith("board.txt"))).not.toContain(true);
    // Fused, lexical and vector scores alike are kept from a viewer (BM25 counts hidden rows).
    expect(mine.chunks.length).toBeGreaterThan(0);
    expect(mine.chunks.flatMap((c) => Object.keys(c).filter((k) => /score/i.test(k)))).toEqual([]);
    const all = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "cafeteria contract", { topK: 10 });
    expect(all.chunks[0]!.source.endsWith("board.txt")).toBe(true);
    expect(all.chunks[0]!.vectorScore).toBeTypeOf("number");
    expect(all.chunks[0]!.lexicalScore).toBeTypeOf("number");
  });

  it("applies a search scope to the vector search too (inside it, with access)", async () => {
    // A query with no lexical match in the scoped document: only the vector search can find it.
    const scoped = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "lunch menu", { topK: 10, scope: { folder: path.join(t.dir, "docs", "nothing-here/") } });
    expect(scoped.chunks).toEqual([]);
    const open = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "lunch menu", { topK: 10, scope: { folder: path.join(t.dir, "docs", "open") } });
    expect(open.chunks.length).toBeGreaterThan(0);
    expect(open.chunks.every((c) => c.source.endsWith("open.txt"))).toBe(true);
    expect(open.chunks.some((c) => c.vectorScore !== undefined && c.lexicalScore === undefined)).toBe(true);
    const board = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "lunch menu", { topK: 10, scope: { folder: path.join(t.dir, "docs", "board") } });
    expect(board.chunks.length).toBeGreaterThan(0);
    expect(board.chunks.every((c) => c.source.endsWith("board.txt"))).toBe(true);
    // The viewer's access and the scope together: the board's document is not theirs.
    const viewer = await t.kb.accounts.actorByName("viewer1");
    expect((await t.kb.retriever.retrieve(viewer, "lunch menu", { topK: 10, scope: { folder: path.join(t.dir, "docs", "board") } })).chunks).toEqual([]);
  });
  it("applies tag and date scopes (the chunk rows' tags and version_at) to the vector search too", async () => {
    const [menu] = writeFiles(path.join(t.dir, "docs", "tagged"), { "menu.txt": "Weekly lunch menu: noodles, rice, soup. 이번 주 점심 메뉴." });
    const { job, documents } = await ingestNow(t.kb, [{ source: menu!, path: menu!, tags: ["cafeteria"] } as never]);
    expect(job.status).toBe("succeeded");
    const menuId = documents[0]!.id;
    // "food" matches no word of the document: only the vector search can find it.
    const tagged = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "food", { topK: 10, scope: { tag: "cafeteria" } });
    expect(tagged.chunks.map((c) => c.documentId)).toEqual([menuId]);
    expect(tagged.chunks[0]!.vectorScore).toBeTypeOf("number");
    expect((await t.kb.retriever.retrieve(SYSTEM_ACTOR, "food", { topK: 10, scope: { tag: "nothing-tagged-so" } })).chunks).toEqual([]);
    const versionAt = (await t.kb.metadata.documents.byId(menuId))!.versionAt!;
    const since = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "food", { topK: 10, scope: { updatedSince: versionAt } });
    expect(since.chunks.map((c) => c.documentId)).toEqual([menuId]);
    expect((await t.kb.retriever.retrieve(SYSTEM_ACTOR, "food", { topK: 10, scope: { updatedSince: "2999-01-01T00:00:00Z" } })).chunks).toEqual([]);
  });
});
