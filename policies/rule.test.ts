/**
 * The two interpreters of an access rule must agree: what `evaluate` allows in memory is
 * exactly what the chunk store's compiled LanceDB filter (src/stores/lance/filter.ts) returns,
 * for random ACLs and actors.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { compileAccessRule } from "../src/stores/lance/filter.ts";
import { documentReadRule } from "./documents.ts";
import { evaluate, all, not, overlaps, atMost } from "./rule.ts";
import type { Actor } from "./actor.ts";

const USERS = ["kim", "lee", "park", "choi", "김철수"];
const GROUPS = ["hr", "sales", "eng", "board", "인사팀"];
const principal = fc.oneof(fc.constantFrom(...USERS).map((u) => `user:${u}`), fc.constantFrom(...GROUPS).map((g) => `group:${g}`), fc.constant("group:everyone"));
const acl = fc.record({
  allow: fc.uniqueArray(principal, { maxLength: 4 }),
  deny: fc.uniqueArray(principal, { maxLength: 2 }),
  classification: fc.integer({ min: 0, max: 3 }),
});
const actor: fc.Arbitrary<Actor> = fc.record({
  id: fc.constant("u"),
  name: fc.constantFrom(...USERS),
  role: fc.constantFrom("viewer", "editor", "admin"),
  groups: fc.uniqueArray(fc.constantFrom(...GROUPS), { maxLength: 3 }),
  clearance: fc.integer({ min: 0, max: 3 }),
});

let dir: string;
let store: ChunkStore;
const docs = fc.sample(acl, { numRuns: 60, seed: 42 });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-rule-"));
  store = await ChunkStore.open(dir, null);
  for (const [i, a] of docs.entries()) {
    const r: ChunkRow = { chunkId: `d${i}:1:0`, documentId: `d${i}`, documentVersion: 1, ordinal: 0, title: "t", source: "s", pageStart: 1, pageEnd: 1, headings: "", text: "word", analyzed: "word", ...a };
    await store.replaceDocument(`d${i}`, [r]);
  }
  await store.optimize();
});
afterAll(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("access rules", () => {
  it("compile to LanceDB filters that select exactly what evaluate allows", async () => {
    await fc.assert(
      fc.asyncProperty(actor, async (a) => {
        const rule = documentReadRule(a);
        const expected = docs.map((d, i) => (evaluate(rule, d) ? `d${i}` : null)).filter(Boolean).sort();
        const filter = compileAccessRule(rule);
        const rows = await store.list(filter, ["document_id"]);
        const viaFilter = rows.map((r) => String(r.document_id)).sort();
        expect(viaFilter).toEqual(expected);
        // And through the full-text index, with the filter inside the search.
        const hits = await store.searchText("word", filter, 1000);
        expect(hits.map((h) => h.documentId).sort()).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("simplifies constant rules", () => {
    expect(compileAccessRule(all())).toBeNull();
    expect(compileAccessRule(overlaps("allow", []))).toBe("FALSE");
    expect(compileAccessRule(not(overlaps("deny", [])))).toBeNull();
    expect(compileAccessRule(atMost("classification", Number.MAX_SAFE_INTEGER))).toBeNull();
  });

  it("rejects principals that could break out of the SQL literal", () => {
    expect(() => compileAccessRule(overlaps("allow", ["user:x') OR TRUE --"]))).toThrow(/invalid principal/);
  });
});
