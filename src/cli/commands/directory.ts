/**
 * `kb directory`: the LDAP / Active Directory directories of ldap-directories.json.
 * `kb directory list`, `kb directory sync [id]` (all directories without an id): each sync is a
 * `directory-sync` job, run here unless a worker takes it. Runs as the operator.
 */
import type { Command } from "commander";
import { SYSTEM_ACTOR } from "../../../policies/index.ts";
import { withKb } from "../context.ts";
import { printJob, runOrFollow } from "./ingest.ts";

export function registerDirectoryCommands(program: Command): void {
  const directory = program.command("directory").description("LDAP / Active Directory directories (ldap-directories.json in the policy folder)");
  directory
    .command("list")
    .description("the configured directories (id, source, URL, sync interval)")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) =>
      withKb(async (kb) => {
        const items = kb.ldap.list();
        if (o.json) console.log(JSON.stringify(items, null, 2));
        else if (items.length === 0) console.log("no directories (ldap-directories.json is absent or empty)");
        else for (const d of items) console.log([d.id, d.source, d.url, d.syncIntervalMinutes === null ? "on demand" : `every ${d.syncIntervalMinutes} min`].join("\t"));
      }),
    );
  directory
    .command("sync [id]")
    .description("sync users, groups and memberships from one directory now (all of them without an id)")
    .option("--wait", "when a running worker takes the job, wait for it to finish", false)
    .option("--json", "print the jobs as JSON")
    .action(async (id: string | undefined, o: { wait: boolean; json?: boolean }) =>
      withKb(async (kb) => {
        const ids = id ? [id] : kb.ldap.list().map((d) => d.id);
        if (ids.length === 0) throw new Error("no directories configured (ldap-directories.json in the policy folder)");
        for (const one of ids) {
          const { jobId } = await kb.ldap.submitSync(SYSTEM_ACTOR, one);
          const view = await runOrFollow(kb, jobId, { wait: o.wait });
          if (!view) {
            console.log(`job ${jobId} queued; a running worker is processing it. Follow it with: kb jobs watch ${jobId}`);
            continue;
          }
          if (o.json) console.log(JSON.stringify(view, null, 2));
          else {
            printJob(view);
            if (view.params.result) console.log(`  ${JSON.stringify(view.params.result)}`);
          }
          if (view.status === "failed") process.exitCode = 1;
        }
      }),
    );
}
