/** The `kb` command line. */
import { Command } from "commander";
import { PRIVATE_UMASK } from "../stores/private-files.ts";
import { registerAccountCommands } from "./commands/accounts.ts";
import { registerAdminCommands } from "./commands/admin.ts";
import { registerDirectoryCommands } from "./commands/directory.ts";
import { registerEvalCommand } from "./commands/eval.ts";
import { registerIngestCommands } from "./commands/ingest.ts";
import { registerJobCommands } from "./commands/jobs.ts";
import { registerMaintenanceCommands } from "./commands/maintenance.ts";
import { registerMcpCommand } from "./commands/mcp.ts";
import { registerModelCommands } from "./commands/models.ts";
import { registerQueryCommands } from "./commands/query.ts";
import { registerScimCommands } from "./commands/scim.ts";
import { registerServeCommands } from "./commands/serve.ts";
import { registerSignInCommands } from "./commands/sign-in.ts";

// Everything kb creates (SQLite, LanceDB, originals, the admin token) is for this account only,
// including files that native code (LanceDB, SQLite's -wal/-shm) creates on its own.
process.umask(PRIVATE_UMASK);

const program = new Command();
program.name("kb").description("private-kb: a private, on-premises knowledge base for Korean and English documents").showHelpAfterError();
registerServeCommands(program);
registerIngestCommands(program);
registerJobCommands(program);
registerQueryCommands(program);
registerMcpCommand(program);
registerAccountCommands(program);
registerSignInCommands(program);
registerAdminCommands(program);
registerScimCommands(program);
registerDirectoryCommands(program);
registerEvalCommand(program);
registerModelCommands(program);
registerMaintenanceCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  console.error(`kb: ${e.message}`);
  process.exitCode = 1;
});
