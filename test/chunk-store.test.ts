import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as lancedb from "@lancedb/lancedb";
import { CHUNKS_TABLE, ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";

let dir: string;
let store: ChunkStore;

const row = (doc: string, version: number, ordinal: number, analyzed: string, allow = ["group:everyone"], deny: string[] = []): ChunkRow => ({
  chunkId: `${doc}:${version}:${ordinal}`,
  documentId: doc,
  documentVersion: version,
  ordinal,
  title: doc,
  source: `${doc}.txt`,
  pageStart: 1,
  pageEnd: 1,
  headings: "",
  text: analyzed,
  analyzed,
  allow,
  deny,
  classification: 1,
});

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-chunks-"));
  store = await ChunkStore.open(dir, null);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("ChunkStore", () => {
  it("replaces a document's chunks in one commit and leaves other documents alone", async () => {
    await store.replaceDocument("a", [row("a", 1, 0, "alpha one"), row("a", 1, 1, "alpha two")]);
    await store.replaceDocument("b", [row("b", 1, 0, "beta")]);
    const before = await store.version();
    await store.replaceDocument("a", [row("a", 2, 0, "alpha new")]);
    expect(await store.version()).toBe(before + 1); // a single commit: never zero or double chunks visible
    const ids = (await store.list(null)).map((r) => r.chunk_id);
    expect(ids).toEqual(["a:2:0", "b:1:0"]);
  });

  it("appends new documents in one commit, and rewriting ids a table already holds (a resumed job) never doubles them", async () => {
    await store.replaceDocument("a", [row("a", 1, 0, "alpha one")]);
    await store.ensureIndexes(); // the id indexes the existence check reads, as on a grown table
    const before = await store.version();
    // A batch of new documents: appended, one commit.
    await store.replaceDocuments([
      { documentId: "b", rows: [row("b", 1, 0, "beta one"), row("b", 1, 1, "beta two")] },
      { documentId: "c", rows: [row("c", 1, 0, "gamma")] },
    ]);
    expect(await store.version()).toBe(before + 1);
    // The same rows again, with one more (a job resumed after a crash between its LanceDB write and
    // its SQLite commit), beside a new document: replaced, not appended twice.
    await store.replaceDocuments([
      { documentId: "b", rows: [row("b", 1, 0, "beta one"), row("b", 1, 1, "beta two")] },
      { documentId: "d", rows: [row("d", 1, 0, "delta")] },
    ]);
    // A stale row of an uncommitted version is dropped when its document is written again.
    await store.replaceDocuments([{ documentId: "c", rows: [row("c", 2, 0, "gamma new")] }]);
    expect((await store.list(null)).map((r) => r.chunk_id)).toEqual(["a:1:0", "b:1:0", "b:1:1", "c:2:0", "d:1:0"]);
  });

  it("applies the access filter inside the search, before the limit", async () => {
    // Many strong matches the asker may not read, one weak match they may.
    const hidden = Array.from({ length: 30 }, (_, i) => row(`h${i}`, 1, 0, "secret secret secret plan", ["group:board"]));
    for (const h of hidden) await store.replaceDocument(h.documentId, [h]);
    await store.replaceDocument("open", [row("open", 1, 0, "plan for the picnic and other long unrelated words", ["group:staff"])]);
    await store.optimize();
    const hits = await store.searchText("secret plan", "array_has_any(allow, make_array('group:staff'))", 1);
    expect(hits.map((h) => h.documentId)).toEqual(["open"]);
  });

  it("updates access in place without rewriting text", async () => {
    await store.replaceDocument("a", [row("a", 1, 0, "alpha", ["group:x"])]);
    await store.updateAccess("a", { allow: ["group:y"], deny: [], classification: 2 });
    const [r] = await store.list(null, ["chunk_id", "allow", "deny", "classification", "text"]);
    expect([...(r!.allow as any)]).toEqual(["group:y"]);
    expect([...(r!.deny as any)]).toEqual([]);
    expect(r!.classification).toBe(2);
    expect(r!.text).toBe("alpha");
  });

  it("sees writes made through another connection at once", async () => {
    const other = await ChunkStore.open(dir, null);
    await other.replaceDocument("z", [row("z", 1, 0, "zebra")]);
    expect((await store.searchText("zebra", null, 5)).map((h) => h.documentId)).toEqual(["z"]);
    other.close();
  });
});

describe("indexes built by several processes at once", () => {
  it("two stores opening one table without indexes both build them and both open (LanceDB's commit conflict is retried)", async () => {
    await store.replaceDocuments(Array.from({ length: 40 }, (_, i) => ({ documentId: `d${i}`, rows: [row(`d${i}`, 1, 0, `word${i} common text ${i % 7}`)] })));
    const db = await lancedb.connect(dir);
    const table = await db.openTable(CHUNKS_TABLE);
    // What a CLI command and the server do when both open a folder whose indexes are missing:
    // each calls ensureIndexes on its own connection. Several rounds, as the race is not certain.
    for (let round = 0; round < 4; round++) {
      for (const index of await table.listIndices()) await table.dropIndex(index.name);
      const opened = await Promise.all([ChunkStore.open(dir, null), ChunkStore.open(dir, null), ChunkStore.open(dir, null)]);
      for (const s of opened) s.close();
      await table.checkoutLatest();
      const columns = (await table.listIndices()).map((i) => i.columns.join(","));
      expect(columns).toEqual(expect.arrayContaining(["analyzed", "allow", "deny", "classification"]));
    }
    table.close();
    db.close();
  });
});
