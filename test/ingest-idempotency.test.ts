/** Re-ingestion: unchanged content is a no-op; a changed file replaces exactly its own chunks. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, openTestKb, writeFiles, type TestKb } from "./helpers/kb.ts";

let t: TestKb;
let files: string[];
const snapshot = async () => (await t.kb.chunks.list(null, ["chunk_id", "document_id", "text", "allow"])).map((r) => `${r.chunk_id}|${r.text}`);

beforeAll(async () => {
  t = await openTestKb();
  files = writeFiles(path.join(t.dir, "folder"), {
    "a.md": "# Alpha\n\nAlpha is the first document. It talks about apples.\n\n## More\n\nApples grow on trees in autumn.",
    "b.txt": "Bravo is the second document about bananas. 바나나는 노란색입니다.",
    "c.html": "<html><head><title>Charlie</title></head><body><main><h1>Charlie</h1><p>Cherries are red and sweet.</p></main></body></html>",
  });
});
afterAll(async () => t?.close());

describe("idempotent ingestion", () => {
  it("creates nothing new when an unchanged folder is ingested again", async () => {
    const first = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
    expect(first.job.status).toBe("succeeded");
    const before = await snapshot();
    const tableVersion = await t.kb.chunks.version();
    const again = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
    expect(again.job.files.map((f) => f.status)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(await snapshot()).toEqual(before);
    expect(await t.kb.chunks.version()).toBe(tableVersion); // not even an empty commit
    expect((await t.kb.metadata.documents.all()).map((d) => d.version)).toEqual([1, 1, 1]);
  });

  it("replaces exactly the changed document's chunks with a new version", async () => {
    const before = await snapshot();
    const docB = (await t.kb.metadata.documents.bySource(files[1]!))!;
    fs.writeFileSync(files[1]!, "Bravo changed: now it is about blueberries. 블루베리는 파란색입니다.");
    const run = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
    expect(run.job.files.map((f) => f.status)).toEqual(["unchanged", "succeeded", "unchanged"]);
    const after = await snapshot();
    const isB = (row: string) => row.startsWith(`${docB.id}:`);
    expect(after.filter((r) => !isB(r))).toEqual(before.filter((r) => !isB(r)));
    expect(after.filter(isB).every((r) => r.startsWith(`${docB.id}:2:`))).toBe(true);
    expect(after.filter(isB).join()).toContain("blueberries");
    expect((await t.kb.metadata.documents.byId(docB.id))).toMatchObject({ version: 2, status: "ready" });
  });

  it("keeps serving the last good version when a new version fails to extract", async () => {
    const docA = (await t.kb.metadata.documents.bySource(files[0]!))!;
    const before = await snapshot();
    fs.writeFileSync(files[0]!, new Uint8Array([0, 1, 2, 3, 255, 254, 0, 0, 9, 8, 7, 0, 1, 2, 3, 4]));
    const run = await ingestNow(t.kb, [{ source: files[0]!, path: files[0]! }]);
    expect(run.job.files[0]!.status).toBe("failed");
    expect(await snapshot()).toEqual(before);
    expect((await t.kb.metadata.documents.byId(docA.id))).toMatchObject({ version: 1, status: "ready" });
  });
});
