/**
 * What an erasure costs (issue 10): a lexical chunk table of N chunks (20 per document, about
 * 80 words each), compacted into one fragment; D documents deleted; then `eraseFragments` on
 * the fragments that held them (rewrite of their live rows, FTS rebuild, removal of older
 * versions). Usage: npx tsx bench/erase.ts [chunks=20000] [deletedDocuments=1]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";

const N = Number(process.argv[2] ?? 20000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "erase-bench-"));
const store = await ChunkStore.open(dir, null);
const words = "policy leave parking cafeteria badge server incident room desk holiday report budget".split(" ");
const rows: ChunkRow[] = [];
for (let i = 0; i < N; i++) {
  const doc = `doc${Math.floor(i / 20)}`;
  const text = Array.from({ length: 80 }, (_, k) => `${words[(i * 7 + k * 3) % words.length]}${(i + k) % 97}`).join(" ");
  const ordinal = i % 20;
  rows.push({ chunkId: `${doc}:1:${ordinal}`, documentId: doc, documentVersion: 1, ordinal, title: doc, source: doc, pageStart: 1, pageEnd: 1, headings: "", text, analyzed: text, allow: ["everyone"], deny: [], classification: 1 });
}
const docs = new Map<string, ChunkRow[]>();
for (const r of rows) docs.set(r.documentId, [...(docs.get(r.documentId) ?? []), r]);
const list = [...docs.entries()].map(([documentId, rows]) => ({ documentId, rows }));
for (let i = 0; i < list.length; i += 200) await store.replaceDocuments(list.slice(i, i + 200));
await store.optimize(new Date()); // one fragment, as after a periodic optimize

const victims = process.argv[3] ? Number(process.argv[3]) : 1;
let t0 = performance.now();
const frags = new Set<number>();
for (let v = 0; v < victims; v++) {
  const id = `doc${v * 7}`;
  for (const f of await store.fragmentsOf([id])) frags.add(f);
  await store.deleteDocument(id);
}
const tDel = performance.now() - t0;
t0 = performance.now();
await store.eraseFragments([...frags]);
const tErase = performance.now() - t0;
console.log(JSON.stringify({ chunks: N, deletedDocs: victims, fragments: frags.size, deleteMs: Math.round(tDel), eraseMs: Math.round(tErase), left: await store.count() }));
store.close();
fs.rmSync(dir, { recursive: true, force: true });
