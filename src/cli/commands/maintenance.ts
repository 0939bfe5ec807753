/** `kb doctor`, `kb backup`, `kb restore`: integrity checks and repair, online backup, restore into an empty folder. */
import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
// services/maintenance.ts (LanceDB, SQLite) is imported in the actions: `kb --help` never loads it.
const maintenance = () => import("../../services/maintenance.ts");

const say = (msg: string) => console.log(msg);

export function registerMaintenanceCommands(program: Command): void {
  program
    .command("doctor")
    .description("check the data folder: SQLite integrity, chunk tables, index vs SQLite, originals, permissions")
    .option("--repair", "return a damaged chunk table to its last good version, re-index what it lacks from the originals, tighten permissions", false)
    .option("--json", "print the report as JSON", false)
    .action(async (o: { repair: boolean; json: boolean }) => {
      const { doctor } = await maintenance();
      const report = await doctor(loadConfig(process.env), { repair: o.repair, log: o.json ? undefined : say });
      if (o.json) console.log(JSON.stringify(report, null, 2));
      else say(report.ok ? "healthy" : `problems found${o.repair ? "" : "; see above (kb doctor --repair fixes what it can)"}`);
      if (!report.ok) process.exitCode = 2;
    });
  program
    .command("backup <dest>")
    .description("back up the data folder (KB_DATA_DIR) and the metadata store (SQLite, or PostgreSQL with KB_DATABASE_URL) into a new or empty folder, while kb serve keeps running")
    .action(async (dest: string) => {
      const { backup } = await maintenance();
      const config = loadConfig(process.env);
      const m = await backup(config.dataDir, dest, say, { databaseUrl: config.databaseUrl, lanceDir: config.lanceDir, blobDir: config.blobDir });
      say(`backup written to ${dest} (${m.documents} documents; see backup.json)`);
    });
  program
    .command("restore <backup>")
    .description("restore a backup into a new or empty data folder (refuses a non-empty one) and, for a PostgreSQL backup, into the empty database KB_DATABASE_URL names; then check and repair it")
    .option("--data-dir <dir>", "the folder to restore into (default KB_DATA_DIR)")
    .action(async (src: string, o: { dataDir?: string }) => {
      const config = loadConfig(process.env, o.dataDir ? { dataDir: o.dataDir } : {});
      const { restore } = await maintenance();
      const r = await restore(src, config, say);
      say(r.doctor.ok ? `restored into ${config.dataDir}; healthy` : `restored into ${config.dataDir}, with problems (see above)`);
      if (!r.doctor.ok) process.exitCode = 2;
    });
}
