import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import {
  cudaProviderInstalled,
  findEmbeddingModels,
  loadEmbeddingProvider,
  tokenizesWordByWord,
  type LocalEmbeddingProvider,
} from "../src/models/embeddings.ts";

const MODELS_DIR = inject("KB_TEST_EMBED_MODELS_DIR");
const MODEL = inject("KB_TEST_EMBED_MODEL");
const MODEL_DIR = inject("KB_TEST_EMBED_MODEL_DIR");
const SHARED_MODELS = inject("KB_TEST_SHARED_MODELS_DIR");

const quiet = () => {};
const tmpRoots: string[] = [];
const opened: LocalEmbeddingProvider[] = [];

function tmpModelsDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kb-embed-test-"));
  tmpRoots.push(d);
  return d;
}

/** Copies the fixture model into `<modelsDir>/<name>`, optionally with a private-kb.json sidecar. */
function copyFixture(modelsDir: string, name: string, sidecar?: Record<string, unknown>): string {
  const dir = path.join(modelsDir, name);
  fs.cpSync(MODEL_DIR, dir, { recursive: true });
  if (sidecar) fs.writeFileSync(path.join(dir, "private-kb.json"), JSON.stringify(sidecar));
  return dir;
}

async function load(opts: Parameters<typeof loadEmbeddingProvider>[0]): Promise<LocalEmbeddingProvider> {
  const p = await loadEmbeddingProvider({ log: quiet, ...opts });
  if (!p) throw new Error("expected a provider");
  opened.push(p);
  return p;
}

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

const TEXTS = [
  "hello world",
  "안녕하세요, 세계!",
  "",
  "The security policy document describes data retention.",
  "보안 정책 문서는 데이터 보존 기간을 설명합니다. Retention = 5 years.",
  "a",
  "x".repeat(3000), // longer than max length: truncated
  "검색 query 테스트 123",
];

let base: LocalEmbeddingProvider;

beforeAll(async () => {
  base = await load({ modelsDir: MODELS_DIR, model: MODEL });
});

afterAll(async () => {
  await Promise.all(opened.map((p) => p.close()));
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

describe("fixture model via loadEmbeddingProvider (onnxruntime-node)", () => {
  it("globalSetup publishes the same paths via inject() and env vars (forked worker)", () => {
    expect(process.env.KB_TEST_EMBED_MODELS_DIR).toBe(MODELS_DIR);
    expect(process.env.KB_TEST_EMBED_MODEL).toBe(MODEL);
    expect(process.env.KB_TEST_EMBED_MODEL_DIR).toBe(MODEL_DIR);
    expect(process.env.KB_TEST_GGUF).toBe(inject("KB_TEST_GGUF"));
    expect(process.env.KB_TEST_SHARED_MODELS_DIR).toBe(SHARED_MODELS);
    expect(path.isAbsolute(MODELS_DIR) && fs.existsSync(path.join(MODEL_DIR, "onnx", "model.onnx"))).toBe(true);
  });

  it("loads with the expected id, dimension and settings", () => {
    expect(base.modelId).toBe(MODEL);
    expect(base.dimension).toBe(32);
    expect(base.info.device).toBe("cpu");
    expect(base.info.dtype).toBe("fp32");
    expect(base.info.pooling).toBe("mean");
    expect(base.info.queryPrefix).toBe("");
    expect(base.info.passagePrefix).toBe("");
    expect(base.info.maxLength).toBe(512);
  });

  it("returns unit-length Float32Array vectors of the model dimension", async () => {
    const vs = await base.embedPassages(TEXTS);
    expect(vs).toHaveLength(TEXTS.length);
    for (const v of vs) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(32);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(v.every(Number.isFinite)).toBe(true);
    }
  });

  it("is deterministic, and different texts give different vectors", async () => {
    const a = await base.embedPassages(TEXTS);
    const b = await base.embedPassages([...TEXTS].reverse());
    b.reverse();
    for (let i = 0; i < TEXTS.length; i++) expect(Array.from(a[i]!)).toEqual(Array.from(b[i]!));
    const uniq = TEXTS.map((_, i) => a[i]!);
    for (let i = 0; i < uniq.length; i++)
      for (let j = i + 1; j < uniq.length; j++) expect(dot(uniq[i]!, uniq[j]!)).toBeLessThan(0.9999);
    // The tokenizer lower-cases, so case alone does not change the vector.
    const [x, y] = await base.embedQueries(["Hello World", "hello world"]);
    expect(Array.from(x!)).toEqual(Array.from(y!));
  });

  it("gives the same vectors batched as one by one (any batch size)", async () => {
    const many = Array.from({ length: 41 }, (_, i) => `${TEXTS[i % TEXTS.length]} #${i} ${"가나다".repeat(i % 7)}`);
    const single: Float32Array[] = [];
    for (const t of many) single.push((await base.embedPassages([t]))[0]!);
    const batched = await base.embedPassages(many);
    const small = await load({ modelsDir: MODELS_DIR, model: MODEL, batchSize: 3 });
    const batched3 = await small.embedPassages(many);
    for (let i = 0; i < many.length; i++) {
      expect(maxAbsDiff(batched[i]!, single[i]!)).toBeLessThan(1e-6);
      expect(maxAbsDiff(batched3[i]!, single[i]!)).toBeLessThan(1e-6);
    }
  });

  it("is safe to call concurrently (queries and passages interleaved)", async () => {
    const sequential: Float32Array[] = [];
    for (const t of TEXTS) sequential.push((await base.embedPassages([t]))[0]!);
    const results = await Promise.all([
      base.embedPassages(TEXTS),
      ...TEXTS.map((t) => base.embedQueries([t])),
      base.embedPassages(TEXTS.slice(2)),
    ]);
    const all = results[0]!;
    TEXTS.forEach((_, i) => {
      expect(maxAbsDiff(all[i]!, sequential[i]!)).toBeLessThan(1e-6);
      expect(maxAbsDiff(results[1 + i]![0]!, sequential[i]!)).toBeLessThan(1e-6); // no prefixes here
    });
    expect(await base.embedPassages([])).toEqual([]);
  });

  it("truncates to maxLength and keeps the final [SEP]", async () => {
    const short = await load({ modelsDir: MODELS_DIR, model: MODEL, maxLength: 8 });
    expect(short.info.maxLength).toBe(8);
    // "abcdefgh" -> [CLS] a ##b ... ##h [SEP] (10 tokens) -> [CLS] a ##b ##c ##d ##e ##f [SEP]
    const [cut] = await short.embedPassages(["abcdefgh"]);
    const [ref] = await base.embedPassages(["abcdef"]);
    expect(maxAbsDiff(cut!, ref!)).toBeLessThan(1e-6);
    const [full] = await base.embedPassages(["abcdefgh"]);
    expect(maxAbsDiff(full!, ref!)).toBeGreaterThan(1e-3);
    // Clamped to the model's max (512) when asked for more.
    const big = await load({ modelsDir: MODELS_DIR, model: MODEL, maxLength: 100_000 });
    expect(big.info.maxLength).toBe(512);
  });

  it("tokenises long texts only as far as maxLength needs, with the same vectors as whole texts", async () => {
    // A copy whose tokenizer.json has an added token with a space: never cut (tokenizesWordByWord
    // is false), and the same tokens for these texts: the reference.
    const dir = copyFixture(tmpModelsDir(), "whole-texts");
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    expect(tokenizesWordByWord(json)).toBe(true);
    json.added_tokens.push({ ...json.added_tokens.find((t: { content: string }) => t.content === "[UNK]"), content: "never seen token" });
    expect(tokenizesWordByWord(json)).toBe(false);
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(json));
    const whole = await load({ modelsDir: path.dirname(dir), model: "whole-texts" });
    const cutting = await load({ modelsDir: MODELS_DIR, model: MODEL });
    // What the tokeniser is given (its longest input per call).
    const seen: number[] = [];
    const inner = cutting as unknown as { tokenizer: (texts: string[], o: unknown) => unknown };
    const tok = inner.tokenizer;
    inner.tokenizer = new Proxy(tok, { apply: (_t, _this, args: [string[], unknown]) => (seen.push(...args[0].map((x) => x.length)), Reflect.apply(tok, undefined, args)) });
    const ko = "보안 정책 문서는 데이터 보존 기간을 설명합니다. 연차 휴가는 입사 1년 후 15일이 주어지며, 2년마다 하루씩 늘어납니다. ";
    const en = "The security policy describes data retention periods, access reviews and incident reporting. ";
    const texts = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? en.repeat(20 + i) : i % 3 === 1 ? ko.repeat(15 + i) : (ko + en).repeat(10 + i)) + ` 끝 ${i}`);
    for (let round = 0; round < 2; round++) {
      const a = await cutting.embedPassages(texts);
      const b = await whole.embedPassages(texts);
      for (let i = 0; i < texts.length; i++) expect(maxAbsDiff(a[i]!, b[i]!), `text ${i}`).toBe(0);
    }
    // The cut was used: some texts were tokenised from a prefix only.
    const longest = Math.min(...texts.map((t) => t.length));
    expect(seen.filter((n) => n < longest).length).toBeGreaterThan(10);
  });

  it("never touches the network and locks transformers.js to local files", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    try {
      const p = await load({ modelsDir: MODELS_DIR, model: MODEL });
      await p.embedQueries(["offline"]);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    const { env } = await import("@huggingface/transformers");
    expect(env.allowRemoteModels).toBe(false);
    expect(env.allowLocalModels).toBe(true);
    expect(env.useFSCache).toBe(false);
    await expect(env.fetch("https://huggingface.co/x")).rejects.toThrow(/network access is disabled/);
  });

  it("rejects calls after close()", async () => {
    const p = await load({ modelsDir: MODELS_DIR, model: MODEL });
    await p.close();
    await expect(p.embedPassages(["x"])).rejects.toThrow(/closed/);
    await p.close(); // idempotent
  });
});

describe("prefixes and pooling", () => {
  it("applies sidecar query/passage prefixes (e5 style)", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "custom", { queryPrefix: "query: ", passagePrefix: "passage: " });
    const p = await load({ modelsDir: dir, model: "custom" });
    expect(p.info.settingsSource).toContain("sidecar");
    const [q] = await p.embedQueries(["서울 날씨"]);
    const [d] = await p.embedPassages(["서울 날씨"]);
    expect(maxAbsDiff(q!, d!)).toBeGreaterThan(1e-3);
    const [qRef, dRef] = await base.embedPassages(["query: 서울 날씨", "passage: 서울 날씨"]);
    expect(maxAbsDiff(q!, qRef!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(d!, dRef!)).toBeLessThan(1e-6);
  });

  it("knows model families by folder name (e5: prefixes; bge-m3: CLS, none) and lets the sidecar override", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "multilingual-e5-tiny");
    copyFixture(dir, "bge-m3-tiny");
    copyFixture(dir, "multilingual-e5-custom", { queryPrefix: "Q: ", pooling: "cls" });
    copyFixture(dir, "multilingual-e5-large-instruct");
    const e5 = await load({ modelsDir: dir, model: "multilingual-e5-tiny" });
    expect(e5.info).toMatchObject({ queryPrefix: "query: ", passagePrefix: "passage: ", pooling: "mean" });
    const bge = await load({ modelsDir: dir, model: "bge-m3-tiny" });
    expect(bge.info).toMatchObject({ queryPrefix: "", passagePrefix: "", pooling: "cls" });
    const custom = await load({ modelsDir: dir, model: "multilingual-e5-custom" });
    expect(custom.info).toMatchObject({ queryPrefix: "Q: ", passagePrefix: "passage: ", pooling: "cls" });
    const instruct = await load({ modelsDir: dir, model: "multilingual-e5-large-instruct" });
    expect(instruct.info.queryPrefix).toMatch(/^Instruct: .*\nQuery: $/);
    expect(instruct.info.passagePrefix).toBe("");
  });

  it("reads sentence-transformers pooling and prompts", async () => {
    const dir = tmpModelsDir();
    const m = copyFixture(dir, "st-model");
    fs.mkdirSync(path.join(m, "1_Pooling"));
    fs.writeFileSync(path.join(m, "1_Pooling", "config.json"), JSON.stringify({ pooling_mode_cls_token: true }));
    fs.writeFileSync(
      path.join(m, "config_sentence_transformers.json"),
      JSON.stringify({ prompts: { query: "search: ", document: "doc: " } }),
    );
    const p = await load({ modelsDir: dir, model: "st-model" });
    expect(p.info).toMatchObject({ pooling: "cls", queryPrefix: "search: ", passagePrefix: "doc: " });
  });

  it("uses CLS pooling when configured", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "cls", { pooling: "cls" });
    const p = await load({ modelsDir: dir, model: "cls" });
    // In the fixture each position depends only on its own token, so the [CLS] vector is the
    // same for every text: proof that the first token, not the mean, was used.
    const [a, b] = await p.embedPassages(["hello", "세계 전혀 다른 문장"]);
    expect(maxAbsDiff(a!, b!)).toBeLessThan(1e-6);
    expect(norm(a!)).toBeCloseTo(1, 5);
    const [meanA] = await base.embedPassages(["hello"]);
    expect(maxAbsDiff(a!, meanA!)).toBeGreaterThan(1e-3);
  });

  it("uses last-token pooling on the last real token, whatever the padding", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "last", { pooling: "last" });
    copyFixture(dir, "cls2", { pooling: "cls" });
    const p = await load({ modelsDir: dir, model: "last" });
    // Batched together, the short text is padded; its last real token is still [SEP].
    const [a, b] = await p.embedPassages(["a", "a much longer text with many more tokens"]);
    expect(maxAbsDiff(a!, b!)).toBeLessThan(1e-6);
    const [c] = await (await load({ modelsDir: dir, model: "cls2" })).embedPassages(["a"]);
    expect(maxAbsDiff(a!, c!)).toBeGreaterThan(1e-3);
  });

  it("checks a sidecar dimension against the model", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "ok", { dimension: 32 });
    copyFixture(dir, "wrong", { dimension: 384 });
    expect((await load({ modelsDir: dir, model: "ok" })).dimension).toBe(32);
    await expect(loadEmbeddingProvider({ modelsDir: dir, model: "wrong", log: quiet })).rejects.toThrow(
      /dimension 384 .* produces 32/,
    );
  });

  it("rejects an invalid sidecar with the file name", async () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "bad", { pooling: "max" });
    await expect(loadEmbeddingProvider({ modelsDir: dir, model: "bad", log: quiet })).rejects.toThrow(
      /private-kb\.json[\s\S]*pooling/,
    );
  });
});

describe("discovery, absence and incomplete folders", () => {
  it("auto-detects the only model folder", async () => {
    expect(findEmbeddingModels(MODELS_DIR)).toEqual([MODEL]);
    const p = await load({ modelsDir: MODELS_DIR });
    expect(p.modelId).toBe(MODEL);
    const [a] = await p.embedPassages(["같은 결과"]);
    const [b] = await base.embedPassages(["같은 결과"]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
  });

  it("skips incomplete folders, rerankers and non-model files when detecting", () => {
    const dir = tmpModelsDir();
    copyFixture(dir, "b-embed");
    const rr = copyFixture(dir, "a-reranker");
    const cfg = JSON.parse(fs.readFileSync(path.join(rr, "config.json"), "utf8"));
    fs.writeFileSync(
      path.join(rr, "config.json"),
      JSON.stringify({ ...cfg, architectures: ["XLMRobertaForSequenceClassification"] }),
    );
    fs.mkdirSync(path.join(dir, "half"));
    fs.writeFileSync(path.join(dir, "half", "config.json"), "{}");
    fs.writeFileSync(path.join(dir, "llm.gguf"), "GGUF");
    expect(findEmbeddingModels(dir)).toEqual(["b-embed"]);
  });

  it("returns null when there is no model (lexical-only mode)", async () => {
    expect(await loadEmbeddingProvider({ modelsDir: tmpModelsDir(), log: quiet })).toBeNull();
    expect(await loadEmbeddingProvider({ modelsDir: path.join(tmpModelsDir(), "nope"), log: quiet })).toBeNull();
    expect(await loadEmbeddingProvider({ modelsDir: MODELS_DIR, model: "none", log: quiet })).toBeNull();
    expect(findEmbeddingModels(path.join(tmpModelsDir(), "nope"))).toEqual([]);
  });

  it("explains what is missing in an incomplete configured model", async () => {
    const dir = tmpModelsDir();
    fs.mkdirSync(path.join(dir, "partial"));
    fs.copyFileSync(path.join(MODEL_DIR, "config.json"), path.join(dir, "partial", "config.json"));
    const err = await loadEmbeddingProvider({ modelsDir: dir, model: "partial", log: quiet }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(path.join(dir, "partial"));
    expect(msg).toMatch(/missing tokenizer\.json, tokenizer_config\.json, onnx\/model\.onnx/);
    expect(msg).toMatch(/onnx\/model\.onnx/);
    await expect(loadEmbeddingProvider({ modelsDir: dir, model: "absent", log: quiet })).rejects.toThrow(
      /"absent" not found: .*absent does not exist/,
    );
  });

  it("uses onnx/model_quantized.onnx only when dtype says so", async () => {
    const dir = tmpModelsDir();
    const m = copyFixture(dir, "quant-only");
    fs.renameSync(path.join(m, "onnx", "model.onnx"), path.join(m, "onnx", "model_quantized.onnx"));
    await expect(loadEmbeddingProvider({ modelsDir: dir, model: "quant-only", log: quiet })).rejects.toThrow(
      /missing onnx\/model\.onnx.*onnx\/model_quantized\.onnx \(dtype "q8"\).*set the dtype/,
    );
    const p = await load({ modelsDir: dir, model: "quant-only", dtype: "q8" });
    expect(p.info.dtype).toBe("q8");
    expect(p.dimension).toBe(32);
    // dtype from the sidecar works too
    const m2 = copyFixture(dir, "quant-sidecar", { dtype: "q8" });
    fs.renameSync(path.join(m2, "onnx", "model.onnx"), path.join(m2, "onnx", "model_quantized.onnx"));
    expect((await load({ modelsDir: dir, model: "quant-sidecar" })).info.dtype).toBe("q8");
    // and asking for q8 where only fp32 exists names the missing file
    await expect(loadEmbeddingProvider({ modelsDir: MODELS_DIR, model: MODEL, dtype: "q8", log: quiet })).rejects.toThrow(
      /missing onnx\/model_quantized\.onnx/,
    );
  });

  it("device: auto falls back to CPU, cuda without the CUDA provider is a clear error", async () => {
    const installed = cudaProviderInstalled();
    if (installed) {
      console.log("onnxruntime-node CUDA provider is installed; skipping the no-CUDA error check");
      return;
    }
    const auto = await load({ modelsDir: MODELS_DIR, model: MODEL, device: "auto" });
    expect(auto.info.device).toBe("cpu");
    await expect(loadEmbeddingProvider({ modelsDir: MODELS_DIR, model: MODEL, device: "cuda", log: quiet })).rejects.toThrow(
      /"cuda" requested .*libonnxruntime_providers_cuda\.so/,
    );
  });
});

const SHARED_BERT = SHARED_MODELS ? path.join(SHARED_MODELS, "tiny-random-bert-ko") : "";
const haveSharedBert = SHARED_BERT !== "" && fs.existsSync(path.join(SHARED_BERT, "onnx", "model.onnx"));
if (!haveSharedBert) {
  console.log(
    `[embeddings.test] skipping the shared tiny-random-bert-ko test: ${SHARED_BERT || "../shared/models"} not found`,
  );
}

describe.skipIf(!haveSharedBert)("shared reference fixture (../shared/models/tiny-random-bert-ko)", () => {
  it("loads and embeds Korean and English text", async () => {
    expect(findEmbeddingModels(SHARED_MODELS)).toContain("tiny-random-bert-ko");
    const p = await load({ modelsDir: SHARED_MODELS, model: "tiny-random-bert-ko" });
    expect(p.dimension).toBe(32);
    expect(p.info.maxLength).toBe(128);
    const vs = await p.embedPassages(["한국어 문서 검색", "English document search", ""]);
    for (const v of vs) expect(norm(v)).toBeCloseTo(1, 5);
    expect(maxAbsDiff(vs[0]!, vs[1]!)).toBeGreaterThan(1e-3);
    const again = await p.embedPassages(["한국어 문서 검색"]);
    expect(maxAbsDiff(again[0]!, vs[0]!)).toBeLessThan(1e-6);
  });
});
