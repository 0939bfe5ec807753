import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { runOrFollow } from "./ingest.ts";

async function serve(options: { port?: string; demo: boolean; worker?: boolean }): Promise<void> {
  const config = loadConfig(process.env, options.port ? { port: Number(options.port) } : {});
  // Loaded on use, not at the top: every other command (and `kb --help`) starts without them.
  const [{ startServer, startMetricsServer }, { ensureAdmin, ensureDemoCorpus }, { openKb }] = await Promise.all([
    import("../../http/server.ts"),
    import("../../services/bootstrap.ts"),
    import("../../services/container.ts"),
  ]);
  const kb = await openKb(config);
  const admin = await ensureAdmin(kb);
  // Audit retention (KB_AUDIT_RETENTION_DAYS): purge now and daily.
  const stopRetention = kb.audit.startRetention(config.auditRetentionDays, (msg) => kb.log.info(msg));
  if (options.demo) {
    const jobId = await ensureDemoCorpus(kb);
    if (jobId) {
      const v = await runOrFollow(kb, jobId, { wait: true, quiet: true });
      console.log(`ingested the demo corpus: ${v?.progress.done ?? 0} documents (${v?.status})`);
    }
  }
  // `--no-worker`: an API replica beside separate `kb worker` processes (docs/deployment.md).
  if (options.worker !== false) await kb.startWorker();
  const server = await startServer(kb);
  // KB_METRICS_PORT: /metrics without a token, on 127.0.0.1 only.
  const metricsServer = config.metricsPort > 0 ? await startMetricsServer(kb, config.metricsPort) : null;
  console.log(`private-kb listening on ${server.url}`);
  if (metricsServer) console.log(`  metrics:   ${metricsServer.url}/metrics (loopback only, no token)`);
  console.log(`  retrieval: ${kb.retriever.mode}${kb.models.embedding ? ` (${kb.models.embedding.model})` : " (no embedding model in " + config.modelsDir + ")"}`);
  const llm = kb.llm?.info();
  const llmLine = !llm
    ? ""
    : llm.backend === "remote"
      ? ` (${llm.model} on the model server ${llm.host}, ${llm.sequences} requests at once)`
      : ` (${llm.model}, ${llm.backend}${llm.backend !== "cpu" ? `, ${llm.gpuLayers}/${llm.totalLayers ?? "?"} layers on the GPU` : ""}, ${llm.threads} threads${llm.gpuFallback ? `; ${llm.gpuFallback}` : ""})`;
  const rr = kb.reranker.status();
  if (rr.status !== "off") console.log(`  reranker:  ${rr.model}${rr.status === "failed" ? ` FAILED to load (${rr.error}): search runs without it` : `, top ${config.retrieval.rerankCandidates} candidates`}`);
  if (config.imageModel) console.log(`  pictures:  described by ${config.imageModel} (loaded at the first picture without text; state in /readyz)`);
  console.log(`  answers:   ${kb.ask.answerMode}${llmLine}`);
  console.log(`  data:      ${config.dataDir}`);
  if (options.worker === false) console.log("  jobs:      not run here (--no-worker): start `kb worker` processes");
  console.log(`  admin token ${admin.created ? "written to" : "was written on first start to"} ${admin.tokenFile} (mode 0600)`);
  if (admin.credentialsFile) {
    console.log(`  sign in:   ${config.publicUrl ?? server.url}/ with the name and password in ${admin.credentialsFile} (mode 0600${admin.passwordCreated ? ", written now" : ""})`);
  }
  console.log(`  try: curl -s ${server.url}/api/v1/ask -H "Authorization: Bearer $(cat ${admin.tokenFile})" -H 'content-type: application/json' -d '{"question":"연차 휴가는 며칠인가요?"}'`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    stopRetention();
    await server.close();
    await metricsServer?.close();
    await kb.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

export function registerServeCommands(program: Command): void {
  program
    .command("serve")
    .description("start the HTTP API with an in-process ingestion worker")
    .option("--port <port>", "port (default KB_PORT or 8787)")
    .option("--demo", "ingest the bundled demo corpus on an empty knowledge base", false)
    .option("--no-worker", "run no jobs in this process (separate `kb worker` processes run them)")
    .action((o: { port?: string; demo: boolean; worker: boolean }) => serve(o));
  program
    .command("start")
    .description("serve with the demo corpus ingested on first start (what `npm start` runs)")
    .option("--port <port>", "port (default KB_PORT or 8787)")
    .action((o: { port?: string }) => serve({ ...o, demo: true }));
}
