/**
 * `kb models list | pull | verify` logic: the models folder, checks against a manifest, and pulls
 * from a local HTTP server (checksums enforced), plus the fast failure when offline.
 * No network: downloads come from 127.0.0.1.
 */
import crypto from "node:crypto";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST, ManifestSchema, type Manifest } from "../src/models/manifest.ts";
import { makeTinyCaptionModel } from "./fixtures/make-image-caption-model.ts";
import { makeTinyRerankerModel } from "./fixtures/make-embedding-model.ts";
import { ChecksumError, findGgufFiles, listModels, OfflineError, pullModels, readGgufHeader, resolveLlmModelPath, selectEntries, verifyModels } from "../src/models/model-files.ts";

const run = promisify(execFile);
const EMBED_DIR = process.env.KB_TEST_EMBED_MODEL_DIR!;

/** A minimal valid GGUF header (v3, no tensors, no metadata) plus padding. */
function fakeGguf(extra = 64): Buffer {
  const b = Buffer.alloc(24 + extra);
  b.write("GGUF", 0, "latin1");
  b.writeUInt32LE(3, 4);
  return b;
}
const sha = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");

let dir: string;
let modelsDir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-models-"));
  modelsDir = path.join(dir, "models");
  fs.mkdirSync(modelsDir);
  fs.cpSync(EMBED_DIR, path.join(modelsDir, "tiny-embed"), { recursive: true });
  fs.writeFileSync(path.join(modelsDir, "good.gguf"), fakeGguf());
  fs.writeFileSync(path.join(modelsDir, "broken.gguf"), Buffer.from("not a model at all, sorry"));
  // The optional slots' models (generated, random weights): told apart by their config.json.
  await makeTinyRerankerModel(path.join(modelsDir, "tiny-rerank"));
  await makeTinyCaptionModel(path.join(modelsDir, "tiny-caption"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the built-in manifest", () => {
  it("is valid, honest about what it cannot verify, and has a CPU set of one embedding model and one LLM", () => {
    expect(() => ManifestSchema.parse(MANIFEST)).not.toThrow();
    for (const m of MANIFEST.models) {
      expect(m.license).toBeTruthy();
      expect(m.memory).toMatch(/estimate/);
      for (const f of m.files) {
        expect(f.url).toMatch(/^https:\/\/huggingface\.co\//);
        // Checksums we could not verify offline are null (pull refuses them without --no-verify).
        if (f.sha256 !== null) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    expect(selectEntries(MANIFEST, { tier: "cpu" }).map((e) => e.kind)).toEqual(["embedding", "llm"]);
    expect(() => selectEntries(MANIFEST, { names: ["nope"] })).toThrow(/unknown model/);
  });
});

describe("models folder", () => {
  it("resolves KB_LLM_MODEL by path, by file name, and without the .gguf extension", () => {
    const full = path.join(modelsDir, "good.gguf");
    expect(resolveLlmModelPath(modelsDir, "good.gguf")).toBe(full);
    expect(resolveLlmModelPath(modelsDir, "good")).toBe(full);
    expect(resolveLlmModelPath("/elsewhere", full)).toBe(full);
    expect(() => resolveLlmModelPath(modelsDir, "missing.gguf")).toThrow(/KB_LLM_MODEL.*not found/);
  });

  it("lists embedding folders, reranker and image-model folders and GGUF files with the active ones marked", () => {
    expect(findGgufFiles(modelsDir)).toEqual(["broken.gguf", "good.gguf"]);
    const list = listModels(modelsDir, MANIFEST, { embedding: "tiny-embed", llmPath: path.join(modelsDir, "good.gguf"), reranker: "tiny-rerank", imageModel: null });
    expect(list.map((m) => [m.kind, m.name, m.active])).toEqual([
      ["embedding", "tiny-embed", true],
      ["image", "tiny-caption", false],
      ["reranker", "tiny-rerank", true],
      ["llm", "broken.gguf", false],
      ["llm", "good.gguf", true],
    ]);
    expect(list.every((m) => m.sizeBytes > 0 && !m.inManifest)).toBe(true);
  });

  it("checks GGUF headers", () => {
    expect(readGgufHeader(path.join(modelsDir, "good.gguf"))).toEqual({ version: 3, tensorCount: 0, metadataCount: 0 });
    expect(() => readGgufHeader(path.join(modelsDir, "broken.gguf"))).toThrow(/not a GGUF file/);
  });

  it("verifies files against the manifest (size, sha256) and that models load", async () => {
    const good = fakeGguf();
    const manifest: Manifest = {
      models: [
        { name: "good.gguf", kind: "llm", description: "", source: "", license: "x", tiers: ["cpu"], memory: "", files: [{ path: "good.gguf", url: "http://127.0.0.1/good.gguf", sizeBytes: good.length, sha256: sha(good) }] },
        { name: "broken.gguf", kind: "llm", description: "", source: "", license: "x", tiers: ["cpu"], memory: "", files: [{ path: "broken.gguf", url: "http://127.0.0.1/b.gguf", sizeBytes: null, sha256: sha("something else") }] },
      ],
    };
    const results = await verifyModels(modelsDir, manifest);
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(by["good.gguf"]).toMatchObject({ ok: true, inManifest: true });
    expect(by["good.gguf"]!.checks.map((c) => c.what)).toEqual(["good.gguf", "header"]);
    expect(by["broken.gguf"]).toMatchObject({ ok: false, inManifest: true });
    expect(by["broken.gguf"]!.checks[0]!.message).toMatch(/does not match/);
    // Not in the manifest: the fixture embedding model is loaded and embeds.
    expect(by["tiny-embed"]).toMatchObject({ ok: true, inManifest: false, kind: "embedding" });
    expect(by["tiny-embed"]!.checks[0]!.message).toMatch(/loads and embeds/);
    // The slots' models are loaded and run once.
    expect(by["tiny-rerank"]).toMatchObject({ ok: true, inManifest: false, kind: "reranker" });
    expect(by["tiny-rerank"]!.checks[0]!.message).toMatch(/^loads and scores \(-?\d/);
    expect(by["tiny-caption"]).toMatchObject({ ok: true, inManifest: false, kind: "image" });
    expect(by["tiny-caption"]!.checks[0]!.message).toMatch(/^loads and describes a test picture: "\S/);
    // A reranker folder whose ONNX file is gone fails its check, naming the reason.
    const broken = path.join(modelsDir, "broken-rerank");
    fs.cpSync(path.join(modelsDir, "tiny-rerank"), broken, { recursive: true });
    fs.rmSync(path.join(broken, "onnx"), { recursive: true });
    const [brokenResult] = await verifyModels(modelsDir, manifest, { names: ["broken-rerank"] });
    fs.rmSync(broken, { recursive: true });
    expect(brokenResult).toMatchObject({ name: "broken-rerank", kind: "reranker", ok: false });
    // A name that is nowhere.
    const missing = await verifyModels(modelsDir, manifest, { names: ["ghost.gguf"] });
    expect(missing).toMatchObject([{ name: "ghost.gguf", ok: false }]);
  });
});

describe("pull", () => {
  let server: http.Server;
  let base: string;
  let requests = 0; // downloads (GET), not connectivity checks
  const payload = Buffer.from("GGUF-pretend-model-bytes ".repeat(1000));
  const config = Buffer.from('{"hidden_size": 8}');

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.method === "HEAD") return res.end(); // the connectivity check
      requests++;
      const body = req.url === "/model.gguf" ? payload : req.url === "/config.json" ? config : null;
      if (!body) {
        res.statusCode = 404;
        return res.end();
      }
      res.setHeader("content-length", body.length);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const llmEntry = (sha256: string | null, sizeBytes: number | null = payload.length, url = `${base}/model.gguf`): Manifest => ({
    models: [{ name: "pulled.gguf", kind: "llm", description: "", source: "test", license: "x", tiers: ["cpu"], memory: "", files: [{ path: "pulled.gguf", url, sizeBytes, sha256 }] }],
  });

  it("installs a file whose size and sha256 match", async () => {
    const target = fs.mkdtempSync(path.join(dir, "pull-ok-"));
    const res = await pullModels(target, llmEntry(sha(payload)), { names: ["pulled.gguf"] });
    expect(res).toMatchObject([{ name: "pulled.gguf", status: "installed", files: [{ path: "pulled.gguf", sizeBytes: payload.length, sha256: sha(payload), verified: true }] }]);
    expect(fs.readFileSync(path.join(target, "pulled.gguf")).equals(payload)).toBe(true);
    expect(fs.readdirSync(target)).toEqual(["pulled.gguf"]); // no staging left behind
    // Present now: nothing fetched again.
    const before = requests;
    expect(await pullModels(target, llmEntry(sha(payload)), { names: ["pulled.gguf"] })).toMatchObject([{ status: "present" }]);
    expect(requests).toBe(before);
  });

  it("refuses a file whose checksum does not match, leaving nothing installed", async () => {
    const target = fs.mkdtempSync(path.join(dir, "pull-bad-"));
    await expect(pullModels(target, llmEntry(sha("other")), { names: ["pulled.gguf"] })).rejects.toBeInstanceOf(ChecksumError);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it("refuses files without a pinned checksum before downloading anything, unless --no-verify", async () => {
    const target = fs.mkdtempSync(path.join(dir, "pull-unpinned-"));
    const before = requests;
    await expect(pullModels(target, llmEntry(null), { names: ["pulled.gguf"] })).rejects.toThrow(/not pinned.*--no-verify/s);
    expect(requests).toBe(before);
    const lines: string[] = [];
    const res = await pullModels(target, llmEntry(null), { names: ["pulled.gguf"], noVerify: true, log: (l) => lines.push(l) });
    expect(res[0]!.files[0]).toMatchObject({ sha256: sha(payload), verified: false });
    expect(lines.join("\n")).toMatch(/UNVERIFIED/);
  });

  it("installs an embedding model folder atomically, with its sidecar", async () => {
    const target = fs.mkdtempSync(path.join(dir, "pull-embed-"));
    const manifest: Manifest = {
      models: [{ name: "emb", kind: "embedding", description: "", source: "test", license: "x", tiers: ["cpu"], memory: "", sidecar: { dtype: "q8" }, files: [{ path: "config.json", url: `${base}/config.json`, sizeBytes: config.length, sha256: sha(config) }] }],
    };
    await pullModels(target, manifest, { names: ["emb"] });
    expect(fs.readFileSync(path.join(target, "emb", "config.json"), "utf8")).toBe(config.toString());
    expect(JSON.parse(fs.readFileSync(path.join(target, "emb", "private-kb.json"), "utf8"))).toEqual({ dtype: "q8" });
  });

  it("fails at once when offline, saying where to place the files by hand", async () => {
    // A port nobody listens on: the connectivity check fails immediately.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const target = fs.mkdtempSync(path.join(dir, "pull-offline-"));
    const t0 = performance.now();
    const err = await pullModels(target, llmEntry(sha(payload), payload.length, `http://127.0.0.1:${port}/model.gguf`), { names: ["pulled.gguf"] }).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(OfflineError);
    expect((err as Error).message).toContain(path.join(target, "pulled.gguf"));
    expect((err as Error).message).toMatch(/offline.*by hand/s);
  });
});

describe("kb models (CLI)", () => {
  it("lists and verifies the models folder", async () => {
    const env = { ...process.env, KB_DATA_DIR: path.join(dir, "data"), KB_MODELS_DIR: modelsDir, KB_LLM_MODEL: "good.gguf", KB_LOG_LEVEL: "warn" };
    const kb = (...args: string[]) => run(process.execPath, [path.resolve("bin/kb.js"), "models", ...args], { env, timeout: 60_000 });
    const list = JSON.parse((await kb("list", "--json")).stdout);
    expect(list.installed.find((m: any) => m.name === "good.gguf")).toMatchObject({ kind: "llm", active: true });
    expect(list.available.map((m: any) => m.name)).toEqual(MANIFEST.models.map((m) => m.name));
    const verify = await kb("verify", "good.gguf", "broken.gguf").catch((e: { stdout: string; code: number }) => e);
    expect((verify as { code?: number }).code).toBe(1);
    expect(verify.stdout).toMatch(/ok\s+llm\s+good\.gguf/);
    expect(verify.stdout).toMatch(/FAIL llm\s+broken\.gguf/);
  });
});
