/**
 * The directory-sync kind: reads one LDAP / Active Directory directory and makes our users,
 * groups and memberships of `ldap:<id>` agree with it (services/ldap/directories.ts). The
 * counts go into the job's params (`result`); a directory that cannot be read fails the job
 * with its reason, and nothing is changed.
 */
import { IngestError } from "../../../../ingest/types.ts";
import { ServiceError } from "../../errors.ts";
import type { JobKindRunner } from "../context.ts";

export interface DirectorySyncParams {
  /** The directory's id in ldap-directories.json. */
  directory: string;
  /** Submitted by the schedule (syncIntervalMinutes). */
  schedule?: boolean;
}

export const directorySyncKind: JobKindRunner = {
  async run(ctx, env) {
    const { directory } = ctx.job.params as unknown as DirectorySyncParams;
    const sync = env.deps.directorySync;
    if (!sync) throw new IngestError("not_configured", "this process has no directory sync (no ldap-directories.json)");
    try {
      const result = await sync(directory, (phase) => env.deps.jobs.setPhase(ctx.job.id, phase));
      await env.deps.jobs.mergeParams(ctx.job.id, { result });
      await env.deps.jobs.setPhase(ctx.job.id, null);
    } catch (err) {
      // The reason is recorded on the job (runner: an IngestError fails it, not retried).
      if (err instanceof ServiceError || (err instanceof Error && err.name === "DirectoryUnavailableError")) throw new IngestError("directory_sync_failed", err.message);
      throw err;
    }
    return { changed: false, completed: true };
  },
};
