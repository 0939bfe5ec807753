/**
 * One writer for documents (issue 11): only src/services/document-writer.ts changes a document's
 * chunks in the active table or its version/existence in SQLite, and only src/services/active-index.ts
 * holds the "commit if the table is still active" step. A later erasure feature relies on every
 * deletion going through DocumentWriter.delete, so a second path must not appear unnoticed.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./import-graph.ts";

/** Calls that mutate a document in one of the stores, and the only files allowed to make them. */
const MUTATIONS: { pattern: RegExp; allowed: string[] }[] = [
  // Chunk-table writes. reembed.ts writes its shadow table (not the active one) before the switch.
  { pattern: /\.replaceDocuments\(/, allowed: ["src/services/document-writer.ts", "src/services/jobs/kinds/reembed.ts"] },
  { pattern: /\.deleteDocument\(/, allowed: ["src/services/document-writer.ts"] },
  { pattern: /\.updateAccessMany\(/, allowed: ["src/services/document-writer.ts"] },
  { pattern: /\.store\.updateAccess\(/, allowed: ["src/services/document-writer.ts"] },
  // SQLite: a version going live, a document row going away.
  { pattern: /\.commitVersion\(/, allowed: ["src/services/document-writer.ts"] },
  // (`kb.documents.delete(actor, id)` in a route is the DocumentService use case, not the repository.)
  { pattern: /(?<!kb"\)\.)\bdocuments(Repo)?\.delete\(/, allowed: ["src/services/document-writer.ts"] },
  // Erasure (issue 10): rewriting fragments that held deleted rows, removing originals.
  { pattern: /\.eraseFragments\(/, allowed: ["src/services/document-writer.ts"] },
  { pattern: /\bblobs\.remove\(/, allowed: ["src/services/document-writer.ts"] },
  // The commit step of the write protocol.
  { pattern: /\bindex\.commit\(/, allowed: [] },
];

function productFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return productFiles(rel);
    return /\.(ts|mts)$/.test(e.name) ? [rel] : [];
  });
}

/** `file:line` of every call of `pattern` outside `allowed` (the stores themselves define them). */
export function offenders(files: { file: string; text: string }[], pattern: RegExp, allowed: string[]): string[] {
  const out: string[] = [];
  for (const { file, text } of files) {
    if (allowed.includes(file) || file.startsWith("src/stores/")) continue;
    text.split("\n").forEach((line, i) => {
      if (pattern.test(line)) out.push(`${file}:${i + 1}`);
    });
  }
  return out;
}

describe("document writes", () => {
  const files = ["src", "ingest", "policies"].flatMap(productFiles).map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), "utf8") }));

  it("reads the product's files", () => {
    expect(files.some((f) => f.file === "src/services/document-writer.ts")).toBe(true);
  });

  for (const { pattern, allowed } of MUTATIONS) {
    it(`only ${allowed.join(", ") || "ActiveIndex itself"} calls ${pattern.source}`, () => {
      expect(offenders(files, pattern, allowed)).toEqual([]);
    });
  }

  it("finds a call outside the writer when there is one", () => {
    const sample = [{ file: "src/services/access.ts", text: "x\n  await target.store.deleteDocument(id);\n" }];
    expect(offenders(sample, /\.deleteDocument\(/, ["src/services/document-writer.ts"])).toEqual(["src/services/access.ts:2"]);
  });
});
