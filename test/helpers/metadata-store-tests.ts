/**
 * Which test files exercise the metadata store, read from their imports: a file that reaches
 * test/helpers/pg.ts through its relative imports (directly, or through kb.ts, cli.ts, the web
 * harness…), or that reads KB_TEST_DATABASE_URL itself, can create a PostgreSQL database in the
 * PostgreSQL pass (`npm run test:pg`). Any other file cannot: it runs the same on both passes
 * (OCR, extractors, analyzers, the answerer over fixed passages…), so the PostgreSQL pass skips
 * it instead of running it a second time. Reading imports rather than keeping a list means a new
 * test that opens a knowledge base is in the PostgreSQL pass without anyone having to remember.
 */
import fs from "node:fs";
import path from "node:path";

const PG_HELPER = "test/helpers/pg.ts";
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

function relativeImports(root: string, file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const target = path.relative(root, path.resolve(path.dirname(path.join(root, file)), m[1]!));
    // Only the tests' own modules lead to the PostgreSQL helper: the product never imports tests.
    if (!target.startsWith("test/")) continue;
    const candidates = [target, `${target}.ts`, target.replace(/\.js$/, ".ts"), `${target}/index.ts`];
    const found = candidates.find((c) => fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile());
    if (found) out.push(found);
  }
  return out;
}

/** True when `file` (relative to `root`) can reach the PostgreSQL test helper or reads its variable. */
export function usesMetadataStore(root: string, file: string, seen = new Set<string>()): boolean {
  if (file === PG_HELPER) return true;
  if (seen.has(file)) return false;
  seen.add(file);
  const text = fs.readFileSync(path.join(root, file), "utf8");
  if (text.includes("KB_TEST_DATABASE_URL")) return true;
  return relativeImports(root, file, text).some((f) => usesMetadataStore(root, f, seen));
}

function testFiles(root: string, dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory() && e.name !== "node_modules" && e.name !== "fixtures") testFiles(root, rel, out);
    else if (e.isFile() && e.name.endsWith(".test.ts")) out.push(rel);
  }
  return out;
}

/**
 * Files that reach the metadata store only on the way to what they test: a model slot, OCR, the
 * LLM's streaming, a protocol adapter, hostile input to the extractors. The store calls they make
 * (open a knowledge base, a user and a token, a conversation, a job) are the ones the files that
 * test the store do make on PostgreSQL (api, jobs, crash, conversations, service-tokens,
 * access-control.property…), and their own minutes go to tesseract, ONNX and the GGUF, the same
 * on both passes. So they run in the SQLite pass only (on PostgreSQL, their tests took 145 s of
 * the CI run of 2026-12-07, plus their imports).
 */
export const STORE_INCIDENTAL: readonly string[] = [
  "test/remote-models.test.ts", // model servers on the network
  "test/reranker.test.ts", // the cross-encoder slot
  "test/scanned-pdf.test.ts", // OCR of a scanned PDF through the pipeline
  "test/image-description.test.ts", // the image-to-text model slot
  "test/ask-image.test.ts", // OCR of an attached image
  "test/llm/server.test.ts", // the GGUF's streaming and queue
  "test/llm/metrics.test.ts", // the GGUF's metrics
  "test/mcp.test.ts", // the MCP adapter over the same services
  "test/hostile-ingest.test.ts", // bombs against the extraction processes
];

/** The test files under `dirs` that never touch the metadata store (skipped on PostgreSQL). */
export function storeIndependentTests(root: string, dirs: readonly string[]): string[] {
  return dirs.flatMap((d) => (fs.existsSync(path.join(root, d)) ? testFiles(root, d) : [])).filter((f) => !usesMetadataStore(root, f)).sort();
}
