/**
 * The models folder on disk: finding GGUF files, resolving KB_LLM_MODEL, checking files against
 * the manifest, and pulling the recommended models when (and only when) online.
 *
 * Nothing here runs at server start except `resolveLlmModelPath`; downloads happen only in
 * `kb models pull`, never at run time.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { findEmbeddingModels, loadEmbeddingProvider, SIDECAR_FILE } from "./embeddings.ts";
import type { Manifest, ManifestEntry, ManifestFile } from "./manifest.ts";

/* ------------------------------------------------------------------------------------------ */
/* GGUF files                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/**
 * The GGUF file KB_LLM_MODEL names: an absolute path or a path with a folder as given (relative
 * to the working directory), else a file name under the models folder ("model" finds
 * "model.gguf" too). Throws a clear error when it does not exist.
 */
export function resolveLlmModelPath(modelsDir: string, name: string): string {
  const candidates: string[] = [];
  if (path.isAbsolute(name) || /[\\/]/.test(name)) candidates.push(path.resolve(name));
  candidates.push(path.resolve(modelsDir, name));
  if (!name.toLowerCase().endsWith(".gguf")) candidates.push(path.resolve(modelsDir, `${name}.gguf`));
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  throw new Error(
    `LLM model "${name}" (KB_LLM_MODEL) not found: looked for ${candidates.join(", ")}. ` +
      `Place a GGUF file in ${modelsDir} (see \`kb models list\` and \`kb models pull\`), or unset KB_LLM_MODEL for extractive answers.`,
  );
}

/** GGUF files directly in the models folder and one folder down, as paths relative to it, sorted. */
export function findGgufFiles(modelsDir: string): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    if (e.isFile() && e.name.toLowerCase().endsWith(".gguf")) out.push(e.name);
    else if (e.isDirectory()) {
      try {
        for (const f of fs.readdirSync(path.join(modelsDir, e.name))) {
          if (f.toLowerCase().endsWith(".gguf") && !f.startsWith(".")) out.push(path.join(e.name, f));
        }
      } catch {
        /* unreadable folder */
      }
    }
  }
  return out.sort();
}

export interface GgufHeader {
  version: number;
  tensorCount: number;
  metadataCount: number;
}

/** Reads and checks a GGUF header (magic "GGUF", version 1-3); throws what is wrong. */
export function readGgufHeader(file: string): GgufHeader {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(24);
    const n = fs.readSync(fd, buf, 0, 24, 0);
    if (n < 24) throw new Error(`${file}: too short for a GGUF file (${n} bytes)`);
    const magic = buf.subarray(0, 4).toString("latin1");
    if (magic !== "GGUF") throw new Error(`${file}: not a GGUF file (magic ${JSON.stringify(magic)})`);
    const version = buf.readUInt32LE(4);
    if (version < 1 || version > 3) throw new Error(`${file}: unsupported GGUF version ${version}`);
    return { version, tensorCount: Number(buf.readBigUInt64LE(8)), metadataCount: Number(buf.readBigUInt64LE(16)) };
  } finally {
    fs.closeSync(fd);
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest("hex");
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/** What a model in the models folder is for. */
export type ModelKind = "embedding" | "llm" | "reranker" | "image";

export interface ModelListing {
  name: string;
  kind: ModelKind;
  sizeBytes: number;
  /** Serving now: the embedding model of the active index, or the configured GGUF. */
  active: boolean;
  /** Whether the built-in (or given) manifest knows it. */
  inManifest: boolean;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirSize(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/**
 * Folders of the optional slots, told apart by their config.json: a cross-encoder reranker (one
 * `…ForSequenceClassification` architecture: KB_RERANK_MODEL) or an image-to-text model
 * (`model_type` "vision-encoder-decoder": KB_IMAGE_MODEL). Sorted by name.
 */
export function findSlotModels(modelsDir: string): { name: string; kind: "reranker" | "image" }[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: { name: string; kind: "reranker" | "image" }[] = [];
  for (const e of entries) {
    if (!(e.isDirectory() || e.isSymbolicLink()) || e.name.startsWith(".")) continue;
    let config: { architectures?: unknown; model_type?: unknown };
    try {
      config = JSON.parse(fs.readFileSync(path.join(modelsDir, e.name, "config.json"), "utf8")) as typeof config;
    } catch {
      continue;
    }
    const archs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
    if (config.model_type === "vision-encoder-decoder") out.push({ name: e.name, kind: "image" });
    else if (archs.length > 0 && archs.every((a) => a.endsWith("ForSequenceClassification"))) out.push({ name: e.name, kind: "reranker" });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function listModels(
  modelsDir: string,
  manifest: Manifest,
  active: { embedding: string | null; llmPath: string | null; reranker?: string | null; imageModel?: string | null },
): ModelListing[] {
  const known = new Set(manifest.models.map((m) => m.name));
  const out: ModelListing[] = [];
  for (const name of findEmbeddingModels(modelsDir)) {
    out.push({ name, kind: "embedding", sizeBytes: dirSize(path.join(modelsDir, name)), active: name === active.embedding, inManifest: known.has(name) });
  }
  for (const { name, kind } of findSlotModels(modelsDir)) {
    const configured = kind === "reranker" ? active.reranker : active.imageModel;
    out.push({ name, kind, sizeBytes: dirSize(path.join(modelsDir, name)), active: name === configured, inManifest: known.has(name) });
  }
  for (const rel of findGgufFiles(modelsDir)) {
    const full = path.resolve(modelsDir, rel);
    out.push({ name: rel, kind: "llm", sizeBytes: fs.statSync(full).size, active: active.llmPath !== null && path.resolve(active.llmPath) === full, inManifest: known.has(rel) });
  }
  // A configured GGUF outside the models folder is listed too.
  if (active.llmPath && !out.some((m) => m.active && m.kind === "llm") && fs.existsSync(active.llmPath)) {
    out.push({ name: active.llmPath, kind: "llm", sizeBytes: fs.statSync(active.llmPath).size, active: true, inManifest: false });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* verify                                                                                      */
/* ------------------------------------------------------------------------------------------ */

export interface VerifyCheck {
  what: string;
  ok: boolean;
  message: string;
}

export interface VerifyResult {
  name: string;
  kind: ModelKind;
  inManifest: boolean;
  ok: boolean;
  checks: VerifyCheck[];
}

export interface VerifyOptions {
  /** Only these names (default: every manifest model present, and every other model found). */
  names?: string[];
  /** Also load GGUF files with node-llama-cpp on the CPU (slower; the header is always checked). */
  loadLlm?: boolean;
  /** Compute SHA-256 even where the manifest has none (prints it, so it can be pinned). */
  hashAll?: boolean;
}

function targetPath(modelsDir: string, entry: Pick<ManifestEntry, "kind" | "name">): string {
  return path.join(modelsDir, entry.name);
}

function fileTarget(modelsDir: string, entry: ManifestEntry, f: ManifestFile): string {
  return entry.kind === "llm" ? path.join(modelsDir, f.path) : path.join(modelsDir, entry.name, f.path);
}

async function checkFiles(modelsDir: string, entry: ManifestEntry, hashAll: boolean): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  for (const f of entry.files) {
    const p = fileTarget(modelsDir, entry, f);
    const label = entry.kind === "llm" ? f.path : `${entry.name}/${f.path}`;
    let size: number;
    try {
      size = fs.statSync(p).size;
    } catch {
      checks.push({ what: label, ok: false, message: "missing" });
      continue;
    }
    if (f.sizeBytes !== null && size !== f.sizeBytes) {
      checks.push({ what: label, ok: false, message: `size ${size} bytes, manifest says ${f.sizeBytes}` });
      continue;
    }
    if (f.sha256 !== null) {
      const got = await sha256File(p);
      checks.push(got === f.sha256 ? { what: label, ok: true, message: `sha256 ok (${size} bytes)` } : { what: label, ok: false, message: `sha256 ${got} does not match the manifest's ${f.sha256}` });
    } else if (hashAll) {
      checks.push({ what: label, ok: true, message: `present, ${size} bytes; sha256 ${await sha256File(p)} (not pinned in the manifest: compare it with the publisher's)` });
    } else {
      checks.push({ what: label, ok: true, message: `present, ${size} bytes; sha256 not pinned in the manifest (unverified)` });
    }
  }
  return checks;
}

async function checkEmbeddingLoads(modelsDir: string, name: string): Promise<VerifyCheck> {
  try {
    const provider = await loadEmbeddingProvider({ modelsDir, model: name, device: "cpu", log: () => {} });
    if (!provider) return { what: "load", ok: false, message: "no model loaded" };
    try {
      const [v] = await provider.embedQueries(["연차 휴가 annual leave"]);
      const ok = !!v && v.length === provider.dimension && v.every(Number.isFinite);
      return { what: "load", ok, message: ok ? `loads and embeds (dimension ${provider.dimension})` : "embedding is not a finite vector of the model's dimension" };
    } finally {
      await provider.close();
    }
  } catch (e) {
    return { what: "load", ok: false, message: (e as Error).message };
  }
}

/** Loads a slot model and runs it once: a reranker scores two passages, an image model describes a picture. */
async function checkSlotModelLoads(modelsDir: string, name: string, kind: "reranker" | "image"): Promise<VerifyCheck> {
  try {
    if (kind === "reranker") {
      const { loadReranker } = await import("./reranker.ts");
      const reranker = await loadReranker({ modelsDir, model: name, device: "cpu", log: () => {} });
      try {
        const scores = await reranker.score("연차 휴가는 며칠인가? annual leave", ["연차 휴가는 15일이다. Annual leave is 15 days.", "The cafeteria opens at noon."]);
        const ok = scores.length === 2 && scores.every(Number.isFinite);
        return { what: "load", ok, message: ok ? `loads and scores (${scores.map((x) => x.toFixed(3)).join(", ")})` : "scores are not two finite numbers" };
      } finally {
        await reranker.close();
      }
    }
    const [{ loadImageCaptioner }, { default: sharp }] = await Promise.all([import("./image-captioner.ts"), import("sharp")]);
    const captioner = await loadImageCaptioner({ modelsDir, model: name, device: "cpu", log: () => {} });
    try {
      // A small gradient: a picture with no text in it, as the slot describes.
      const size = 96;
      const pixels = Buffer.alloc(size * size * 3);
      for (let i = 0; i < size * size; i++) pixels.set([(i % size) * 2, Math.floor(i / size) * 2, 128], i * 3);
      const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
      const caption = await captioner.caption(png);
      return { what: "load", ok: true, message: `loads and describes a test picture: "${caption.slice(0, 80)}"` };
    } finally {
      await captioner.close();
    }
  } catch (e) {
    return { what: "load", ok: false, message: (e as Error).message };
  }
}

async function checkGguf(file: string, load: boolean): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  try {
    const h = readGgufHeader(file);
    checks.push({ what: "header", ok: true, message: `GGUF v${h.version}, ${h.tensorCount} tensors, ${h.metadataCount} metadata keys` });
  } catch (e) {
    return [{ what: "header", ok: false, message: (e as Error).message }];
  }
  if (load) {
    try {
      const { loadLlm } = await import("./llm.ts");
      const llm = await loadLlm({ modelPath: file, gpu: false, gpuLayers: 0, threads: 1, contextSize: 256, maxQueue: 0, logger: { info() {}, warn() {} } });
      try {
        const res = await llm.generate({ messages: [{ role: "user", content: "Hi" }], maxTokens: 4 });
        checks.push({ what: "load", ok: true, message: `loads on the CPU and generates (${res.tokens} tokens, template ${llm.info().chatWrapper})` });
      } finally {
        await llm.close();
      }
    } catch (e) {
      checks.push({ what: "load", ok: false, message: (e as Error).message });
    }
  }
  return checks;
}

export async function verifyModels(modelsDir: string, manifest: Manifest, options: VerifyOptions = {}): Promise<VerifyResult[]> {
  const wanted = options.names?.length ? new Set(options.names) : null;
  const results: VerifyResult[] = [];
  const seen = new Set<string>();
  for (const entry of manifest.models) {
    const present = fs.existsSync(targetPath(modelsDir, entry));
    if (wanted ? !wanted.has(entry.name) : !present) continue;
    seen.add(entry.name);
    const checks = present ? await checkFiles(modelsDir, entry, options.hashAll ?? false) : [{ what: entry.name, ok: false, message: `not found in ${modelsDir}` }];
    if (present && checks.every((c) => c.ok)) {
      if (entry.kind === "embedding") checks.push(await checkEmbeddingLoads(modelsDir, entry.name));
      else checks.push(...(await checkGguf(path.join(modelsDir, entry.files[0]!.path), options.loadLlm ?? false)));
    }
    results.push({ name: entry.name, kind: entry.kind, inManifest: true, ok: checks.every((c) => c.ok), checks });
  }
  // Models the manifest does not know: checked for loading only.
  for (const name of findEmbeddingModels(modelsDir)) {
    if (seen.has(name) || (wanted && !wanted.has(name))) continue;
    seen.add(name);
    const check = await checkEmbeddingLoads(modelsDir, name);
    results.push({ name, kind: "embedding", inManifest: false, ok: check.ok, checks: [check] });
  }
  for (const { name, kind } of findSlotModels(modelsDir)) {
    if (seen.has(name) || (wanted && !wanted.has(name))) continue;
    seen.add(name);
    const check = await checkSlotModelLoads(modelsDir, name, kind);
    results.push({ name, kind, inManifest: false, ok: check.ok, checks: [check] });
  }
  for (const rel of findGgufFiles(modelsDir)) {
    if (seen.has(rel) || (wanted && !wanted.has(rel))) continue;
    seen.add(rel);
    const checks = await checkGguf(path.join(modelsDir, rel), options.loadLlm ?? false);
    if (options.hashAll) checks.push({ what: "sha256", ok: true, message: await sha256File(path.join(modelsDir, rel)) });
    results.push({ name: rel, kind: "llm", inManifest: false, ok: checks.every((c) => c.ok), checks });
  }
  for (const name of wanted ?? []) {
    if (!seen.has(name)) results.push({ name, kind: name.toLowerCase().endsWith(".gguf") ? "llm" : "embedding", inManifest: false, ok: false, checks: [{ what: name, ok: false, message: `not in the manifest and not found in ${modelsDir}` }] });
  }
  return results;
}

/* ------------------------------------------------------------------------------------------ */
/* pull                                                                                        */
/* ------------------------------------------------------------------------------------------ */

export class OfflineError extends Error {
  override readonly name = "OfflineError";
}

export class ChecksumError extends Error {
  override readonly name = "ChecksumError";
}

export interface PullOptions {
  /** Names to pull; default: the models recommended for `tier`. */
  names?: string[];
  tier?: "cpu" | "consumer-gpu" | "datacenter-gpu";
  /** Install files whose checksum is not pinned (or does not match) anyway. */
  noVerify?: boolean;
  /** Connectivity check timeout (default 3 s). */
  probeTimeoutMs?: number;
  /** Per-file stall timeout: no bytes for this long aborts (default 60 s). */
  stallTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PulledFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  verified: boolean;
}

export interface PullResult {
  name: string;
  status: "installed" | "present";
  files: PulledFile[];
}

/** Where each file of the entries goes, for the "place them by hand" message. */
export function manualPlacement(modelsDir: string, entries: ManifestEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    for (const f of e.files) lines.push(`  ${f.url}\n    → ${fileTarget(modelsDir, e, f)}${e.kind === "llm" ? `  (then set KB_LLM_MODEL=${f.path})` : ""}`);
    if (e.sidecar) lines.push(`  and write ${path.join(modelsDir, e.name, SIDECAR_FILE)}: ${JSON.stringify(e.sidecar)}`);
  }
  return lines.join("\n");
}

export function selectEntries(manifest: Manifest, options: Pick<PullOptions, "names" | "tier">): ManifestEntry[] {
  if (options.names?.length) {
    return options.names.map((n) => {
      const e = manifest.models.find((m) => m.name === n || m.name.toLowerCase() === n.toLowerCase());
      if (!e) throw new Error(`unknown model "${n}"; the manifest has: ${manifest.models.map((m) => m.name).join(", ")}`);
      return e;
    });
  }
  const tier = options.tier ?? "cpu";
  const picked: ManifestEntry[] = [];
  // One embedding model and one LLM for the tier (the first listed of each kind).
  for (const kind of ["embedding", "llm"] as const) {
    const e = manifest.models.find((m) => m.kind === kind && m.tiers.includes(tier));
    if (e) picked.push(e);
  }
  return picked;
}

/** Quick reachability check of the hosts the files come from; throws OfflineError at once when unreachable. */
async function probe(urls: string[], timeoutMs: number): Promise<void> {
  const origins = [...new Set(urls.map((u) => new URL(u).origin))];
  for (const origin of origins) {
    try {
      const res = await fetch(origin, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new OfflineError(`${origin} is not reachable (${cause})`);
    }
  }
}

async function download(url: string, dest: string, expect: ManifestFile, stallTimeoutMs: number, log: (l: string) => void): Promise<{ size: number; sha256: string }> {
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(new Error(`no data for ${stallTimeoutMs} ms`)), stallTimeoutMs);
  const bump = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new Error(`no data for ${stallTimeoutMs} ms`)), stallTimeoutMs);
  };
  try {
    const res = await fetch(url, { signal: ctl.signal, redirect: "follow" });
    if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const length = Number(res.headers.get("content-length") ?? NaN);
    if (expect.sizeBytes !== null && Number.isFinite(length) && length !== expect.sizeBytes) {
      await res.body.cancel();
      throw new ChecksumError(`${url}: server announces ${length} bytes, the manifest says ${expect.sizeBytes}`);
    }
    const hash = crypto.createHash("sha256");
    let size = 0;
    let lastReport = Date.now();
    const total = Number.isFinite(length) ? length : (expect.sizeBytes ?? expect.approxBytes ?? 0);
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      bump();
      hash.update(chunk);
      size += chunk.length;
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        log(`    ${(size / 1e6).toFixed(0)} MB${total ? ` of ~${(total / 1e6).toFixed(0)} MB` : ""}`);
      }
    });
    await pipeline(body, fs.createWriteStream(dest));
    return { size, sha256: hash.digest("hex") };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Downloads the selected models into the models folder. Fails at once (OfflineError) when the
 * download host is unreachable, with where to place the files by hand. Refuses (ChecksumError)
 * a file whose checksum is not pinned or does not match, unless `noVerify`. Installs atomically:
 * files are downloaded into a temporary folder and moved into place only when all verified.
 */
export async function pullModels(modelsDir: string, manifest: Manifest, options: PullOptions = {}): Promise<PullResult[]> {
  const log = options.log ?? (() => {});
  const entries = selectEntries(manifest, options);
  if (entries.length === 0) throw new Error("nothing to pull");
  // Ours when we create it: private like the data folder (`kb` runs with umask 077 for the files).
  fs.mkdirSync(modelsDir, { recursive: true, mode: 0o700 });

  // Already installed and complete: nothing to fetch for those.
  const todo = entries.filter((e) => !e.files.every((f) => fs.existsSync(fileTarget(modelsDir, e, f))));
  const results: PullResult[] = entries
    .filter((e) => !todo.includes(e))
    .map((e) => ({ name: e.name, status: "present" as const, files: [] }));
  if (todo.length === 0) return results;

  // Offline first: that is the answer that matters most, and it must come at once.
  try {
    await probe(
      todo.flatMap((e) => e.files.map((f) => f.url)),
      options.probeTimeoutMs ?? 3000,
    );
  } catch (e) {
    if (!(e instanceof OfflineError)) throw e;
    throw new OfflineError(`cannot download models: ${e.message}. This machine looks offline. Place the files by hand:\n${manualPlacement(modelsDir, todo)}\nthen run \`kb models verify\`.`);
  }

  // Then refuse, before downloading anything, files whose checksum nobody pinned.
  if (!options.noVerify) {
    const unpinned = todo.flatMap((e) => e.files.filter((f) => f.sha256 === null).map((f) => (e.kind === "llm" ? f.path : `${e.name}/${f.path}`)));
    if (unpinned.length > 0) {
      throw new ChecksumError(
        `refusing to install files whose SHA-256 is not pinned in the manifest: ${unpinned.join(", ")}. ` +
          "Pin checksums you have verified in a manifest of your own (--manifest file.json), or accept the files unverified with --no-verify " +
          "(their computed SHA-256 is printed so you can compare it with the publisher's).",
      );
    }
  }

  for (const entry of todo) {
    const staging = fs.mkdtempSync(path.join(modelsDir, `.pull-${entry.name.replace(/[^A-Za-z0-9._-]/g, "_")}-`));
    try {
      const files: PulledFile[] = [];
      for (const f of entry.files) {
        const dest = path.join(staging, f.path);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        log(`  ${entry.name}: ${f.path} ← ${f.url}`);
        const got = await download(f.url, dest, f, options.stallTimeoutMs ?? 60_000, log);
        const sizeOk = f.sizeBytes === null || got.size === f.sizeBytes;
        const shaOk = f.sha256 !== null && got.sha256 === f.sha256;
        if (!sizeOk || (f.sha256 !== null && !shaOk)) {
          const why = !sizeOk ? `size ${got.size} bytes, expected ${f.sizeBytes}` : `sha256 ${got.sha256}, expected ${f.sha256}`;
          if (!options.noVerify) throw new ChecksumError(`${entry.name}/${f.path}: ${why}; not installed`);
          log(`    WARNING: ${why} (installed anyway: --no-verify)`);
        } else if (f.sha256 === null) {
          log(`    sha256 ${got.sha256} (UNVERIFIED: not pinned in the manifest)`);
        }
        files.push({ path: f.path, sizeBytes: got.size, sha256: got.sha256, verified: shaOk && sizeOk });
      }
      if (entry.sidecar) fs.writeFileSync(path.join(staging, SIDECAR_FILE), JSON.stringify(entry.sidecar, null, 2));
      // Move into place.
      if (entry.kind === "llm") {
        for (const f of entry.files) fs.renameSync(path.join(staging, f.path), path.join(modelsDir, f.path));
      } else {
        const target = targetPath(modelsDir, entry);
        if (fs.existsSync(target)) {
          // An incomplete folder: keep what is there, fill in what was fetched.
          for (const f of entry.files) {
            const to = path.join(target, f.path);
            fs.mkdirSync(path.dirname(to), { recursive: true });
            fs.renameSync(path.join(staging, f.path), to);
          }
          if (entry.sidecar) fs.renameSync(path.join(staging, SIDECAR_FILE), path.join(target, SIDECAR_FILE));
        } else {
          fs.renameSync(staging, target);
        }
      }
      results.push({ name: entry.name, status: "installed", files });
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return results;
}
