import fs from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { parsePrincipalList, classificationLevel } from "../../../policies/index.ts";
import type { JobView } from "../../services/jobs/views.ts";
import type { Kb } from "../../services/container.ts";
import { actorFor, readStdin, withKb } from "../context.ts";

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

const fmtRate = (v: JobView) => (v.throughput === null ? "-" : v.throughput >= 10 ? v.throughput.toFixed(0) : v.throughput.toFixed(1));
const fmtEta = (v: JobView) => {
  if (v.etaSeconds === null) return "-";
  const s = v.etaSeconds;
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
};

/** A progress bar on stderr (TTY only): counts, throughput and ETA as the API reports them. */
export function jobProgressBar(quiet = false): { update(v: JobView, file?: string): void; stop(): void } {
  if (quiet || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: "{kind} [{bar}] {value}/{total} | {rate}/s | ETA {eta_s} | {phase}{file}", stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(v, file) {
      const payload = { kind: v.kind, rate: fmtRate(v), eta_s: fmtEta(v), phase: v.phase ? `${v.phase} ` : "", file: file ? path.basename(file) : "" };
      if (!started) {
        bar.start(v.progress.total, v.progress.done, payload);
        started = true;
      }
      bar.setTotal(v.progress.total);
      bar.update(v.progress.done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Follows a job another process runs until it finishes. */
export async function followJob(kb: Kb, jobId: string, options: { quiet?: boolean } = {}): Promise<JobView> {
  const bar = jobProgressBar(options.quiet);
  try {
    for (;;) {
      const v = (await kb.jobs.view(jobId, { files: false }))!;
      bar.update(v);
      if (!["queued", "running"].includes(v.status)) return (await kb.jobs.view(jobId))!;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    bar.stop();
  }
}

/** Runs a job in this process with a progress bar, or follows it when another worker has it. */
export async function runOrFollow(kb: Kb, jobId: string, options: { wait: boolean; quiet?: boolean }): Promise<JobView | undefined> {
  if (await kb.jobs.anyLiveWorker()) {
    kb.wakeWorker();
    return options.wait ? followJob(kb, jobId, options) : undefined;
  }
  const bar = jobProgressBar(options.quiet);
  let last = 0;
  let ran: JobView | undefined;
  try {
    ran = await kb.jobs.runHere(jobId, (_done, _total, file) => {
      if (Date.now() - last < 200) return;
      last = Date.now();
      kb.jobs.view(jobId, { files: false }).then(
        (v) => bar.update(v!, file),
        () => {}, // progress display only
      );
    });
  } finally {
    bar.stop();
  }
  // Undefined: another process claimed it first.
  return ran ?? (options.wait ? followJob(kb, jobId, options) : kb.jobs.view(jobId));
}

export function printJob(v: JobView): void {
  const counts = Object.entries(v.counts).map(([k, n]) => `${n} ${k}`);
  const rate = v.throughput !== null ? `, ${fmtRate(v)} files/s` : "";
  console.log(`job ${v.id} (${v.kind}): ${v.status}${v.phase ? ` [${v.phase}]` : ""} (${counts.join(", ") || `${v.progress.done}/${v.progress.total}`}${rate})`);
  if (v.error) console.log(`  error: ${v.error}`);
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
    .option("--pdf-password-stdin", "read the password of the encrypted PDFs among the files from standard input (one line); kept in the job's rows until each file is read")
    .action(async (paths: string[], o: { allow?: string; deny?: string; classification?: string; title?: string; wait: boolean; as?: string; pdfPasswordStdin?: boolean }) =>
      withKb(async (kb) => {
        const files = collectFiles(paths);
        if (files.length === 0) throw new Error("no files found");
        const password = o.pdfPasswordStdin ? await readStdin() : undefined;
        if (o.pdfPasswordStdin && !password) throw new Error("--pdf-password-stdin: standard input held no password");
        const allow = parsePrincipalList(o.allow);
        const deny = parsePrincipalList(o.deny);
        await kb.accounts.refuseLookAlikePrincipals([...allow, ...deny]);
        const classification = o.classification ? classificationLevel(o.classification) : undefined;
        const actor = await actorFor(kb, o.as);
        const { jobId } = await kb.ingest.submit(
          actor,
          files.map((f) => ({
            source: f,
            path: f,
            title: files.length === 1 ? o.title : undefined,
            allow: allow.length ? allow : undefined,
            deny: deny.length ? deny : undefined,
            classification,
            ...(password ? { password } : {}),
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
}
