/**
 * The job kinds: one module each under kinds/, one line each here. The runner dispatches by
 * this table, and `JOB_KINDS` (derived from it) is what the API and the CLI list and accept.
 * Kinds are stored as text (jobs.kind has no enum or CHECK), so a new kind needs no migration.
 */
import type { JobKindRunner } from "./context.ts";
import { directorySyncKind } from "./kinds/directory-sync.ts";
import { ingestKind } from "./kinds/ingest.ts";
import { optimizeKind } from "./kinds/optimize.ts";
import { reembedKind } from "./kinds/reembed.ts";
import { reindexKind } from "./kinds/reindex.ts";
import { syncKind } from "./kinds/sync.ts";

const KINDS = {
  ingest: ingestKind,
  sync: syncKind,
  reindex: reindexKind,
  reembed: reembedKind,
  optimize: optimizeKind,
  "directory-sync": directorySyncKind,
} satisfies Record<string, JobKindRunner>;

export type JobKind = keyof typeof KINDS;
export const JOB_KINDS = Object.keys(KINDS) as JobKind[];

/** The runner of a kind, or undefined for a kind this version does not know. */
export function kindRunner(kind: string): JobKindRunner | undefined {
  return Object.hasOwn(KINDS, kind) ? KINDS[kind as JobKind] : undefined;
}
