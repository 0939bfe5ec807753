/**
 * The reindex kind: documents re-extracted from their stored originals and rewritten (all, or
 * a filter: ids, a source prefix, those indexed by an older personal-data detector). Planned on
 * its first run (the document list becomes file rows, in one transaction with the "planned"
 * mark), then the batched file pipeline, which leaves a document whose rows would not change
 * as it is.
 */
import type { NewJobFile } from "../../../stores/metadata.ts";
import type { JobDeps, JobKindRunner, JobRunContext } from "../context.ts";

export interface ReindexParams {
  documentIds?: string[];
  /** Only documents whose source starts with this. */
  sourcePrefix?: string;
  /** Only documents indexed by a personal-data detector older than this version. */
  sensitiveVersionBelow?: number;
  planned?: boolean;
}

/** One reindex row per live document matching the filter, reading its stored original. */
export async function planReindex(deps: JobDeps, ctx: JobRunContext): Promise<void> {
  const p = ctx.job.params as unknown as ReindexParams;
  await deps.metadata.withTransaction(async (tx) => {
    if ((await tx.jobs.byId(ctx.job.id))?.params.planned) return;
    const ids = p.documentIds ? new Set(p.documentIds) : null;
    const docs = (await tx.documents.all())
      .filter(
        (d) =>
          d.status === "ready" &&
          d.version > 0 &&
          (!ids || ids.has(d.id)) &&
          (!p.sourcePrefix || d.source.startsWith(p.sourcePrefix)) &&
          (p.sensitiveVersionBelow === undefined || d.sensitiveVersion < p.sensitiveVersionBelow),
      );
    const rows: NewJobFile[] = docs.map((d, ordinal) => ({
      ordinal,
      source: d.source,
      path: d.blobPath ?? "",
      documentId: d.id,
      action: "reindex",
      // The title is kept (it may have been given explicitly at ingestion).
      options: { documentId: d.id, owner: d.owner, title: d.title },
    }));
    await tx.jobs.addFiles(ctx.job.id, rows);
    await tx.jobs.mergeParams(ctx.job.id, { planned: true });
  });
}

export const reindexKind: JobKindRunner = {
  async run(ctx, env) {
    const { jobs } = env.deps;
    if (!ctx.job.params.planned) {
      await jobs.setPhase(ctx.job.id, "planning");
      await planReindex(env.deps, ctx);
    }
    await jobs.setPhase(ctx.job.id, null);
    const changed = await env.files.runFiles(ctx);
    return { changed, completed: (await jobs.pendingFiles(ctx.job.id)).length === 0 };
  },
};
