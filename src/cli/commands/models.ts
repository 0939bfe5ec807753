/** `kb models list | pull | verify`: the models folder, the recommended models, checks. */
import fs from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { MANIFEST, mergeManifest, parseManifest, type Manifest } from "../../models/manifest.ts";

// Model code (ONNX, llama.cpp bindings) and the container are imported in the actions, so
// `kb --help` and every other command start without them.
const modelFiles = () => import("../../models/model-files.ts");

function manifestFrom(file: string | undefined): Manifest {
  if (!file) return MANIFEST;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`cannot read manifest ${file}: ${(e as Error).message}`);
  }
  return mergeManifest(MANIFEST, parseManifest(json, file));
}

const mb = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

export function registerModelCommands(program: Command): void {
  const models = program.command("models").description("local models: what is installed, the recommended ones, checks");

  models
    .command("list")
    .description("models in the models folder (embedding folders, GGUF files), which are active, and the recommended ones")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const config = loadConfig(process.env);
      const [{ listModels, resolveLlmModelPath }, { findEmbeddingModels }, { activeIndexModel }] = await Promise.all([
        modelFiles(),
        import("../../models/embeddings.ts"),
        import("../../services/container.ts"),
      ]);
      let llmPath: string | null = null;
      let llmNote = "";
      if (config.llmModel) {
        try {
          llmPath = resolveLlmModelPath(config.modelsDir, config.llmModel);
        } catch (e) {
          llmNote = (e as Error).message;
        }
      }
      const found = findEmbeddingModels(config.modelsDir);
      // A model server on the network (KB_EMBED_URL / KB_LLM_URL) instead of a folder or a GGUF: named as the chunk table records it.
      const remote = {
        embedding: config.embedRemote ? `${new URL(config.embedRemote.url).host}/${config.embedRemote.model}` : null,
        llm: config.llmRemote ? `${new URL(config.llmRemote.url).host}/${config.llmRemote.model}` : null,
      };
      const configuredEmbedding = remote.embedding ?? (config.embedModel?.toLowerCase() === "none" ? null : (config.embedModel ?? found[0] ?? null));
      const indexModel = await activeIndexModel(config.dataDir, config.databaseUrl);
      const installed = listModels(config.modelsDir, MANIFEST, { embedding: indexModel ?? configuredEmbedding, llmPath, reranker: config.rerankModel ?? null, imageModel: config.imageModel ?? null });
      const available = MANIFEST.models.map((m) => ({
        name: m.name,
        kind: m.kind,
        tiers: m.tiers,
        license: m.license,
        approxBytes: m.files.reduce((s, f) => s + (f.sizeBytes ?? f.approxBytes ?? 0), 0),
        memory: m.memory,
        installed: installed.some((i) => i.name === m.name),
      }));
      if (o.json) {
        console.log(JSON.stringify({ modelsDir: config.modelsDir, installed, available, configured: { embedding: configuredEmbedding, indexEmbedding: indexModel, llm: llmPath ?? remote.llm, reranker: config.rerankModel ?? null, imageModel: config.imageModel ?? null, remote } }, null, 2));
        return;
      }
      console.log(`models folder: ${config.modelsDir}`);
      if (installed.length === 0) console.log(remote.embedding || remote.llm ? "  (no models installed here)" : "  (no models installed: lexical retrieval and extractive answers)");
      for (const m of installed) {
        const flags = [m.active ? "ACTIVE" : "", m.kind === "embedding" && m.name === configuredEmbedding && !m.active ? "configured" : "", m.inManifest ? "" : "not in manifest"].filter(Boolean);
        console.log(`  ${m.kind.padEnd(9)} ${m.name}  ${mb(m.sizeBytes)}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
      }
      if (indexModel && indexModel !== configuredEmbedding) console.log(`  note: the index was built with "${indexModel}"; the configured/found model is "${configuredEmbedding ?? "none"}" (re-embed to switch)`);
      if (llmNote) console.log(`  note: ${llmNote}`);
      if (config.rerankModel) console.log(`  reranker: ${config.rerankModel} (KB_RERANK_MODEL; loaded by kb serve, state in /readyz)`);
      if (config.imageModel) console.log(`  image descriptions: ${config.imageModel} (KB_IMAGE_MODEL; loaded at the first picture, state in /readyz)`);
      if (remote.embedding) console.log(`  embeddings: ${remote.embedding} on a model server (KB_EMBED_URL)`);
      if (remote.llm) console.log(`  answers: ${remote.llm} on a model server (KB_LLM_URL)`);
      else if (!config.llmModel) console.log("  answers: extractive (set KB_LLM_MODEL to a GGUF file name to answer with the LLM)");
      console.log("\nrecommended (kb models pull <name>; sizes approximate, memory figures are estimates):");
      for (const a of available) {
        console.log(`  ${a.kind.padEnd(9)} ${a.name}  ~${mb(a.approxBytes)}  ${a.license}  for: ${a.tiers.join(", ")}${a.installed ? "  [installed]" : ""}`);
        console.log(`            ${a.memory}`);
      }
    });

  models
    .command("pull [names...]")
    .description("download recommended models into the models folder (online only; verifies size and SHA-256)")
    .option("--tier <tier>", "without names: the models for cpu | consumer-gpu | datacenter-gpu", "cpu")
    .option("--no-verify", "install files whose SHA-256 is not pinned in the manifest, or does not match")
    .option("--manifest <file>", "a manifest JSON of your own (same shape; pins checksums you verified) over the built-in one")
    .action(async (names: string[], o: { tier: string; verify: boolean; manifest?: string }) => {
      const config = loadConfig(process.env);
      if (!["cpu", "consumer-gpu", "datacenter-gpu"].includes(o.tier)) throw new Error(`--tier must be cpu, consumer-gpu or datacenter-gpu`);
      const { pullModels } = await modelFiles();
      const results = await pullModels(config.modelsDir, manifestFrom(o.manifest), {
        names,
        tier: o.tier as "cpu",
        noVerify: !o.verify,
        log: (l) => console.log(l),
      });
      for (const r of results) {
        if (r.status === "present") console.log(`${r.name}: already present (check it with \`kb models verify ${r.name}\`)`);
        else {
          console.log(`${r.name}: installed in ${config.modelsDir}`);
          for (const f of r.files) console.log(`  ${f.path}  ${f.sizeBytes} bytes  sha256 ${f.sha256}${f.verified ? " (verified)" : " (UNVERIFIED)"}`);
        }
      }
    });

  models
    .command("verify [names...]")
    .description("check models in the models folder against the manifest (size, SHA-256) and that they load")
    .option("--load", "also load GGUF files with node-llama-cpp (CPU) and generate a few tokens")
    .option("--hash", "compute SHA-256 of files the manifest has no checksum for (to compare with the publisher's)")
    .option("--manifest <file>", "a manifest JSON of your own over the built-in one")
    .option("--json", "print JSON")
    .action(async (names: string[], o: { load?: boolean; hash?: boolean; manifest?: string; json?: boolean }) => {
      const config = loadConfig(process.env);
      const { verifyModels } = await modelFiles();
      const results = await verifyModels(config.modelsDir, manifestFrom(o.manifest), { names, loadLlm: o.load ?? false, hashAll: o.hash ?? false });
      if (o.json) console.log(JSON.stringify(results, null, 2));
      else {
        if (results.length === 0) console.log(`no models in ${config.modelsDir}`);
        for (const r of results) {
          console.log(`${r.ok ? "ok  " : "FAIL"} ${r.kind.padEnd(9)} ${r.name}${r.inManifest ? "" : " (not in manifest)"}`);
          for (const c of r.checks) console.log(`       ${c.ok ? "✓" : "✗"} ${c.what}: ${c.message}`);
        }
      }
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
