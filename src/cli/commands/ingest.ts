import fs from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { parsePrincipalList, classificationLevel } from "../../../policies/index.ts";
import { STALE_MS } from "../../services/ingest/job-worker.ts";
import type { JobView } from "../../services/ingest/ingest-service.ts";
import type { Kb } from "../../services/container.ts";
import { actorFor, withKb } from "../context.ts";

/** Files under the given paths, depth first, skipping hidden files and folders. */
export function collectFiles(inputs: string[]): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) if (!name.startsWith(".")) visit(path.join(p, name));
    } else if (st.isFile()) out.push(path.resolve(p));
  };
  for (const input of inputs) {
    if (!fs.existsSync(input)) throw new Error(`no such file or folder: ${input}`);
    visit(input);
  }
  return out;
}

/** Runs a job in this process with a progress bar, or follows it when another worker has it. */
export async function runOrFollow(kb: Kb, jobId: string, options: { wait: boolean; quiet?: boolean }): Promise<JobView | undefined> {
  const total = kb.jobsRepo.byId(jobId)?.total ?? 0;
  const bar = options.quiet || !process.stderr.isTTY ? null : new cliProgress.SingleBar({ format: "ingest [{bar}] {value}/{total} files | {eta_formatted} left | {file}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar?.start(total, 0, { file: "" });
  try {
    if (kb.jobsRepo.anyLiveWorker(STALE_MS)) {
      if (!options.wait) return undefined;
      for (;;) {
        const v = kb.ingest.view(jobId)!;
        bar?.update(v.progress.done);
        if (!["queued", "running"].includes(v.status)) return v;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const workerId = `cli-${process.pid}`;
    if (!kb.jobsRepo.claimJob(jobId, workerId, STALE_MS)) return kb.ingest.view(jobId);
    return await kb.ingest.runJob(jobId, workerId, (done, _t, file) => bar?.update(done, { file: path.basename(file) }));
  } finally {
    bar?.stop();
  }
}

export function printJob(v: JobView): void {
  const counts = new Map<string, number>();
  for (const f of v.files) counts.set(f.status, (counts.get(f.status) ?? 0) + 1);
  console.log(`job ${v.id}: ${v.status} (${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")})`);
  for (const f of v.files.filter((x) => x.status === "failed")) console.log(`  failed: ${f.source}: [${f.errorCode}] ${f.error}`);
}

export function registerIngestCommands(program: Command): void {
  program
    .command("ingest <paths...>")
    .description("ingest files and folders (unchanged files are skipped; changed files get a new version)")
    .option("--allow <principals>", "who may read, e.g. group:hr,user:kim (default: policies/default-acl.ts)")
    .option("--deny <principals>", "who may never read, e.g. user:lee")
    .option("--classification <label>", "public | internal | confidential | secret")
    .option("--title <title>", "title (single file only)")
    .option("--wait", "when a running server's worker takes the job, wait for it to finish", false)
    .option("--as <user>", "ingest as this user (owner); default: the operator")
    .action(async (paths: string[], o: { allow?: string; deny?: string; classification?: string; title?: string; wait: boolean; as?: string }) =>
      withKb(async (kb) => {
        const files = collectFiles(paths);
        if (files.length === 0) throw new Error("no files found");
        const allow = parsePrincipalList(o.allow);
        const deny = parsePrincipalList(o.deny);
        const classification = o.classification ? classificationLevel(o.classification) : undefined;
        const { jobId } = kb.ingest.submit(
          actorFor(kb, o.as),
          files.map((f) => ({
            source: f,
            path: f,
            title: files.length === 1 ? o.title : undefined,
            allow: allow.length ? allow : undefined,
            deny: deny.length ? deny : undefined,
            classification,
          })),
        );
        const view = await runOrFollow(kb, jobId, { wait: o.wait });
        if (!view) {
          console.log(`job ${jobId} queued; a running worker (kb serve) is processing it. Follow it with: kb jobs ${jobId}`);
          return;
        }
        printJob(view);
        if (view.status === "failed") process.exitCode = 1;
      }),
    );

  program
    .command("jobs <id>")
    .description("show a job's status and per-file outcomes")
    .option("--json", "print JSON")
    .action(async (id: string, o: { json?: boolean }) =>
      withKb(async (kb) => {
        const v = kb.ingest.view(id);
        if (!v) throw new Error(`no job ${id}`);
        if (o.json) console.log(JSON.stringify(v, null, 2));
        else printJob(v);
      }),
    );
}
