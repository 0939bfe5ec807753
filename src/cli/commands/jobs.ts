/**
 * Jobs from the command line: `kb jobs list|watch|cancel|<id>`, the standalone worker
 * (`kb worker`), and the whole-index jobs (`kb sync`, `kb reindex`, `kb reembed`,
 * `kb optimize`, `kb index`). Commands run as the operator.
 */
import type { Command } from "commander";
import { classificationLevel, parsePrincipalList, SYSTEM_ACTOR } from "../../../policies/index.ts";
import { loadConfig } from "../../config.ts";
import type { Kb } from "../../services/container.ts";
import type { JobView } from "../../services/jobs/views.ts";
import type { JobStatus } from "../../stores/metadata.ts";
import { splitList, withKb } from "../context.ts";
import { followJob, printJob, runOrFollow } from "./ingest.ts";

async function runSubmitted(kb: Kb, jobId: string, wait: boolean): Promise<void> {
  const view = await runOrFollow(kb, jobId, { wait });
  if (!view) {
    console.log(`job ${jobId} queued; a running worker is processing it. Follow it with: kb jobs watch ${jobId}`);
    return;
  }
  printJob(view);
  if (view.status === "failed") process.exitCode = 1;
}

function listLine(v: JobView): string {
  const rate = v.throughput !== null ? ` ${v.throughput}/s` : "";
  const eta = v.status === "running" && v.etaSeconds !== null ? ` eta ${v.etaSeconds}s` : "";
  const what = (v.params.folder as string | undefined) ?? (v.params.model !== undefined ? `model ${v.params.model ?? "none"}` : "");
  return [v.id, v.kind, v.status + (v.phase ? `[${v.phase}]` : ""), `${v.progress.done}/${v.progress.total}${rate}${eta}`, v.createdAt, v.createdBy ?? "", what].join("\t");
}

export function registerJobCommands(program: Command): void {
  program
    .command("jobs [action] [id]")
    .description("jobs: `kb jobs list`, `kb jobs watch <id>`, `kb jobs cancel <id>`, `kb jobs <id>` (status and per-file outcomes)")
    .option("--json", "print JSON")
    .option("--status <list>", "list: only these statuses (queued,running,succeeded,failed,partial,cancelled)")
    .option("--kind <list>", "list: only these kinds (comma list, e.g. ingest,sync,reindex)")
    .option("--limit <n>", "list: how many (default 20)")
    .action(async (action: string | undefined, id: string | undefined, o: { json?: boolean; status?: string; kind?: string; limit?: string }) =>
      withKb(async (kb) => {
        if (!action) throw new Error("usage: kb jobs list | kb jobs watch <id> | kb jobs cancel <id> | kb jobs <id>");
        if (action === "list") {
          const items = await kb.jobs.list(SYSTEM_ACTOR, { status: splitList(o.status) as JobStatus[], kind: splitList(o.kind), limit: o.limit ? Number(o.limit) : 20 });
          if (o.json) console.log(JSON.stringify(items.map(({ files: _f, ...v }) => v), null, 2));
          else for (const v of items) console.log(listLine(v));
          return;
        }
        if (action === "watch" || action === "cancel") {
          if (!id) throw new Error(`usage: kb jobs ${action} <id>`);
          const v = action === "watch" ? await followJob(kb, id) : await kb.jobs.cancel(SYSTEM_ACTOR, id);
          if (o.json) console.log(JSON.stringify(v, null, 2));
          else printJob(v);
          return;
        }
        const v = await kb.jobs.view(action);
        if (!v) throw new Error(`no job ${action}`);
        if (o.json) console.log(JSON.stringify(v, null, 2));
        else printJob(v);
      }),
    );

  program
    .command("worker")
    .description("run queued jobs (and scheduled syncs) until stopped; a killed worker's job resumes when a worker starts again")
    .option("--once", "exit when no job is left", false)
    .option("--no-schedules", "do not submit the scheduled syncs of KB_SYNC_SOURCES / <data>/sources.json")
    .option("--kinds <list>", "only these job kinds (comma list, e.g. ingest,sync; an unknown kind is refused)")
    .option("--metrics-port <port>", "serve this worker's Prometheus metrics (ingestion, OCR, queue) on 127.0.0.1:<port>/metrics, without a token")
    .action(async (o: { once: boolean; schedules: boolean; kinds?: string; metricsPort?: string }) => {
      const { openKb } = await import("../../services/container.ts");
      // A worker runs jobs, not searches: a reranker (KB_RERANK_MODEL) would load only if one searched.
      const kb = await openKb(loadConfig(process.env), { rerankerLoad: "lazy" });
      // A worker's counters live in its own process: `kb serve`'s /metrics does not see them.
      const metricsServer = o.metricsPort ? await (await import("../../http/server.ts")).startMetricsServer(kb, Number(o.metricsPort)) : null;
      if (metricsServer) kb.log.info({ url: `${metricsServer.url}/metrics` }, "worker metrics served (loopback only)");
      const worker = await kb.startWorker({ once: o.once, schedules: o.schedules, kinds: splitList(o.kinds).length ? splitList(o.kinds) : undefined });
      kb.log.info({ worker: worker.id, pid: process.pid }, "worker started");
      let stopping = false;
      const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        await metricsServer?.close();
        await kb.close(); // stops the worker: an unfinished job goes back to the queue
        process.exit(code);
      };
      process.on("SIGINT", () => void stop(130));
      process.on("SIGTERM", () => void stop(143));
      if (o.once) {
        await worker.done;
        await stop(0);
      }
    });

  program
    .command("sync <folder>")
    .description("sync a folder: ingest new files, update changed ones, delete documents whose file is gone")
    .option("--allow <principals>", "who may read new documents, e.g. group:hr,user:kim")
    .option("--deny <principals>", "who may never read them")
    .option("--classification <label>", "public | internal | confidential | secret")
    .option("--wait", "when a running worker takes the job, wait for it to finish", false)
    .action(async (folder: string, o: { allow?: string; deny?: string; classification?: string; wait: boolean }) =>
      withKb(async (kb) => {
        const { resolve } = await import("node:path");
        const { jobId } = await kb.jobs.submitSync(SYSTEM_ACTOR, {
          folder: resolve(folder),
          allow: parsePrincipalList(o.allow),
          deny: parsePrincipalList(o.deny),
          classification: o.classification ? classificationLevel(o.classification) : undefined,
        });
        await runSubmitted(kb, jobId, o.wait);
      }),
    );

  program
    .command("reindex")
    .description("re-extract documents from their stored originals and rewrite their chunks (all, or a filter)")
    .option("--documents <ids>", "only these document ids")
    .option("--source-prefix <prefix>", "only documents whose source starts with this")
    .option("--sensitive-stale", "only documents indexed by an older personal-data detector", false)
    .option("--wait", "when a running worker takes the job, wait for it to finish", false)
    .action(async (o: { documents?: string; sourcePrefix?: string; sensitiveStale: boolean; wait: boolean }) =>
      withKb(async (kb) => {
        const ids = splitList(o.documents);
        const { jobId } = await kb.jobs.submitReindex(SYSTEM_ACTOR, { documentIds: ids.length ? ids : undefined, sourcePrefix: o.sourcePrefix, sensitiveStale: o.sensitiveStale });
        await runSubmitted(kb, jobId, o.wait);
      }),
    );

  program
    .command("reembed")
    .description("re-embed every chunk into a new table (another model or dimension), switching when done; queries keep answering meanwhile")
    .option("--model <name>", "model folder under the models dir (default: KB_EMBED_MODEL or the one found)")
    .option("--no-vectors", "a table without vectors (lexical retrieval only)")
    .option("--rollback", "switch back to the previous table (brought up to date first)", false)
    .option("--force", "rebuild even when the model is already active", false)
    .option("--wait", "when a running worker takes the job, wait for it to finish", false)
    .action(async (o: { model?: string; vectors: boolean; rollback: boolean; force: boolean; wait: boolean }) =>
      withKb(async (kb) => {
        const { jobId } = await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: o.vectors === false ? null : o.model, rollback: o.rollback, force: o.force });
        await runSubmitted(kb, jobId, o.wait);
        const now = await kb.index.pointer();
        console.log(`active table: ${now.table} (${now.model ? `${now.model}, ${now.dimension}d` : "no vectors"})`);
      }),
    );

  program
    .command("optimize")
    .description("compact the chunk table, fold new rows into its indexes, drop table versions older than an hour")
    .option("--wait", "when a running worker takes the job, wait for it to finish", false)
    .action(async (o: { wait: boolean }) =>
      withKb(async (kb) => {
        const { jobId } = await kb.jobs.submitOptimize(SYSTEM_ACTOR);
        await runSubmitted(kb, jobId, o.wait);
      }),
    );

  program
    .command("index")
    .description("the active chunk table, its model, the previous table (rollback target) and all tables")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) =>
      withKb(async (kb) => {
        const info = {
          active: await kb.index.pointer(),
          previous: (await kb.index.previous()) ?? null,
          tables: await kb.chunks.tableNames(),
          chunks: await kb.chunks.count(),
          embedding: kb.models.embedding,
          note: kb.models.embeddingNote ?? null,
        };
        if (o.json) return console.log(JSON.stringify(info, null, 2));
        const fmt = (i: { table: string; model: string | null; dimension: number | null } | null) => (i ? `${i.table} (${i.model ? `${i.model}, ${i.dimension}d` : "no vectors"})` : "-");
        console.log(`active:   ${fmt(info.active)}, ${info.chunks} chunks`);
        console.log(`previous: ${fmt(info.previous)}`);
        console.log(`tables:   ${info.tables.join(", ")}`);
        if (info.note) console.log(`note:     ${info.note}`);
      }),
    );
}
