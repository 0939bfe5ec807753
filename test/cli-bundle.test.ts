/**
 * Issue 14, start-up: the CLI runs from the esbuild bundle (`npm run build:cli`, built by
 * `npm install`), and `kb --help` loads none of the heavy modules (stores, extractors, models,
 * the HTTP server) — they load when a command needs them. The bundle is built into a folder of
 * its own here (other tests run bin/kb.js against build/cli), then used for real work: an
 * ingest through extraction child processes and a search, with migrations and paths found from
 * the package root.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import JSZip from "jszip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain JavaScript build script without types
import { bundleCli } from "../src/cli/bundle.mjs";
import { storeForFolder } from "./helpers/kb.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "build", `test-cli-${process.pid}`);
const HEAVY = ["@lancedb/lancedb", "better-sqlite3", "@huggingface/transformers", "node-llama-cpp", "sharp", "tesseract.js", "pdf-parse", "hono", "@hono/node-server", "@hono/zod-openapi", "exceljs", "mammoth", "cheerio", "drizzle-orm"];

let dataDir: string;
let store: Awaited<ReturnType<typeof storeForFolder>>;
beforeAll(async () => {
  await bundleCli({ out: OUT, quiet: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bundle-"));
  store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
}, 120_000);
afterAll(async () => {
  await store?.drop();
  fs.rmSync(OUT, { recursive: true, force: true });
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("the bundled CLI", () => {
  it("starts `kb --help` without loading stores, extractors, models or the server", async () => {
    // What the entry chunk imports statically, transitively (dynamic imports excluded).
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: ["src/cli/main.ts"],
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      packages: "external",
      outdir: path.join(OUT, "meta"),
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const outputs = result.metafile.outputs;
    const entry = Object.keys(outputs).find((k) => outputs[k]!.entryPoint === "src/cli/main.ts")!;
    const staticPackages = new Set<string>();
    const staticInputs = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const input of Object.keys(outputs[file]!.inputs)) staticInputs.add(input);
      for (const imp of outputs[file]!.imports) {
        if (imp.kind !== "import-statement") continue;
        if (imp.external) staticPackages.add(imp.path);
        else visit(imp.path);
      }
    };
    visit(entry);
    expect([...staticPackages].filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`)))).toEqual([]);
    expect([...staticInputs].filter((f) => /src\/services\/container\.ts|src\/http\/server\.ts|src\/stores\/lance|ingest\/extractors/.test(f))).toEqual([]);

    const { stdout } = await run(process.execPath, [path.join(OUT, "main.js"), "--help"]);
    expect(stdout).toMatch(/Usage: kb/);
    expect(stdout).toMatch(/ingest/);
  });

  it("ingests through extraction child processes and searches, from the bundle", async () => {
    const zip = new JSZip();
    zip.file("[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`);
    zip.file("_rels/.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`);
    zip.file("word/document.xml", `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>번들 실행 확인: 출장비 정산은 귀국 후 14일 안에 합니다.</w:t></w:r></w:p></w:body></w:document>`);
    const file = path.join(dataDir, "출장.docx");
    fs.writeFileSync(file, await zip.generateAsync({ type: "nodebuffer" }));
    const env = { ...process.env, KB_DATA_DIR: path.join(dataDir, "kb"), KB_EMBED_MODEL: "none", KB_LLM_MODEL: "", KB_LOG_LEVEL: "warn", KB_EXTRACT_PROCESSES: "2", ...store.env };
    const ingest = await run(process.execPath, [path.join(OUT, "main.js"), "ingest", file], { env });
    expect(ingest.stdout).toMatch(/succeeded \(1 succeeded/);
    const search = await run(process.execPath, [path.join(OUT, "main.js"), "search", "출장비 정산"], { env });
    expect(search.stdout).toMatch(/14일/);
  }, 120_000);
});
