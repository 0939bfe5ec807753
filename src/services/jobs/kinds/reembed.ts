/**
 * Re-embedding into a shadow table, without downtime:
 *
 *  1. plan: the target table (`chunks_<model>_<dim>_<job>`, created empty with the new
 *     layout; or an existing table for a rollback) and one row per document;
 *  2. copy: each document's rows are read from the live table, embedded with the new model
 *     (or stripped of vectors, for a lexical table) and written to the target in batches,
 *     one merge-insert per batch; queries keep using the live table;
 *  3. catch up and switch: documents whose rows in the live table differ from the target
 *     (written, deleted or re-permissioned meanwhile) are copied again, until none differ;
 *     then the pointer flips in one SQLite transaction, provided no index change was committed
 *     since the comparison (else: another round). Writers commit through the same protocol
 *     (active-index.ts), so no write is lost across the switch;
 *  4. settle: the new table is checked against SQLite once in-flight writers had time to land;
 *     tables older than the previous one are dropped (the previous one stays for rollback).
 *
 * Resumable: a crash in any step resumes from the file rows and the pointer (a job that finds
 * the pointer already on its target goes straight to step 4).
 */
import { embeddingTextOf } from "../../../../ingest/pipeline.ts";
import { IngestError } from "../../../../ingest/types.ts";
import type { ChunkRow, ChunkStore, DocumentSignature, VectorLayout } from "../../../stores/lance/chunk-store.ts";
import type { NewJobFile } from "../../../stores/metadata.ts";
import type { EmbeddingProvider } from "../../../models/embeddings.ts";
import { layoutOf, type IndexInfo } from "../../active-index.ts";
import type { DocumentWriter } from "../../document-writer.ts";
import { reconcile, retireTables } from "../consistency.ts";
import type { JobDeps, JobKindRunner, JobRunContext } from "../context.ts";

export interface ReembedParams {
  /** Model folder name; null: a lexical table (no vectors); absent: the configured model. */
  model?: string | null;
  /** Re-embed into this existing table (rollback to the previous table). */
  table?: string;
  /** Rebuild even when the model is already the active one. */
  force?: boolean;
  // Decided by the plan:
  planned?: boolean;
  targetTable?: string;
  dimension?: number | null;
  noop?: boolean;
}

/** Documents per read/embed/write batch. */
const COPY_BATCH = 32;
const MAX_CATCHUP_ROUNDS = 200;

export function shadowTableName(model: string | null, dimension: number | null, jobId: string): string {
  const slug = (model ?? "lexical").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "model";
  return `chunks_${slug}_${dimension ?? 0}_${jobId.replace(/^job_/, "")}`;
}

const sameSignature = (a: DocumentSignature | undefined, b: DocumentSignature | undefined) =>
  a === undefined || b === undefined ? a === b : a.version === b.version && a.chunks === b.chunks && a.access === b.access;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Copies documents from the live table to the target (re-embedded); documents absent from the live table are removed. */
async function copyDocuments(live: ChunkStore, target: ChunkStore, embedder: EmbeddingProvider | null, ids: string[]): Promise<void> {
  const rows = await live.rowsOf(ids, false);
  const vectors = embedder && rows.length ? await embedder.embedPassages(rows.map(embeddingTextOf)) : null;
  rows.forEach((r, i) => (r.vector = vectors?.[i]));
  const byDoc = new Map<string, ChunkRow[]>(ids.map((id) => [id, []]));
  for (const r of rows) byDoc.get(r.documentId)?.push(r);
  await target.replaceDocuments([...byDoc].map(([documentId, docRows]) => ({ documentId, rows: docRows })));
}

/** Plans the job: decides the target table and records one row per document. */
async function plan(deps: JobDeps, ctx: JobRunContext): Promise<ReembedParams> {
  const { index, jobs } = deps;
  const p = ctx.job.params as ReembedParams;
  const active = await index.pointer();
  let info: IndexInfo;
  if (p.table) {
    if (p.table === active.table) throw new IngestError("already_active", `${p.table} is already the active table`);
    const names = await index.store.tableNames();
    if (!names.includes(p.table)) throw new IngestError("no_such_table", `there is no chunk table ${p.table}`);
    const t = await index.table(p.table);
    info = { table: p.table, model: t.vectors?.model ?? null, dimension: t.vectors?.dimension ?? null };
  } else {
    const wanted = p.model === undefined ? index.wantedModel : p.model;
    let layout: VectorLayout | null = null;
    if (wanted) {
      const m = await index.models.load(wanted).catch((err: Error) => {
        throw new IngestError("model_unavailable", err.message);
      });
      layout = { model: m.modelId, dimension: m.dimension };
    }
    const name = shadowTableName(layout?.model ?? null, layout?.dimension ?? null, ctx.job.id);
    info = { table: name, model: layout?.model ?? null, dimension: layout?.dimension ?? null };
    if (!p.force && active.model === info.model && active.dimension === info.dimension) {
      await jobs.mergeParams(ctx.job.id, { planned: true, noop: true, targetTable: active.table, model: info.model, dimension: info.dimension });
      return (await jobs.byId(ctx.job.id))!.params as ReembedParams;
    }
    await index.table(name, layout);
  }
  await deps.metadata.withTransaction(async (tx) => {
    if (((await tx.jobs.byId(ctx.job.id))?.params as ReembedParams).planned) return;
    const rows: NewJobFile[] = (await tx.documents.all())
      .filter((d) => d.status === "ready")
      .map((d, ordinal) => ({ ordinal, source: d.source, path: "", documentId: d.id, action: "reembed" as const }));
    await tx.jobs.addFiles(ctx.job.id, rows);
    await tx.jobs.mergeParams(ctx.job.id, { planned: true, targetTable: info.table, model: info.model, dimension: info.dimension });
  });
  return (await jobs.byId(ctx.job.id))!.params as ReembedParams;
}

/** Runs a re-embed job; false when it stopped early (cancelled, or the worker is stopping). */
export async function runReembed(deps: JobDeps, writer: DocumentWriter, ctx: JobRunContext): Promise<boolean> {
  const { index, jobs } = deps;
  const jobId = ctx.job.id;
  let p = ctx.job.params as ReembedParams;
  if (!p.planned) {
    await jobs.setPhase(jobId, "planning");
    p = await plan(deps, ctx);
  }
  if (p.noop) {
    ctx.log("re-embed: the model is already active; nothing to do");
    return true;
  }
  const targetName = p.targetTable!;
  const targetInfo: IndexInfo = { table: targetName, model: p.model ?? null, dimension: p.dimension ?? null, jobId };
  const target = await index.table(targetName, layoutOf(targetInfo));
  const embedder = targetInfo.model ? await index.models.load(targetInfo.model) : null;
  if (embedder && embedder.dimension !== targetInfo.dimension) {
    throw new IngestError("model_changed", `model ${targetInfo.model} now produces ${embedder.dimension}d vectors, the target table holds ${targetInfo.dimension}d`);
  }

  if ((await index.pointer()).table !== targetName) {
    // 2. Copy, skipping documents the target already holds as the live table does (rollback, resume).
    await jobs.setPhase(jobId, "copying");
    let live = await index.writeTarget();
    const liveSigs = await live.store.documentSignatures();
    const targetSigs = await target.documentSignatures();
    const pending = await jobs.pendingFiles(jobId);
    for (let i = 0; i < pending.length; i += COPY_BATCH) {
      if (!(await ctx.shouldContinue())) return false;
      const files = pending.slice(i, i + COPY_BATCH);
      const ids = files.map((f) => f.documentId!).filter((id) => !sameSignature(liveSigs.get(id), targetSigs.get(id)));
      await jobs.setFiles(jobId, files.map((f) => ({ ordinal: f.ordinal, status: "running" as const })));
      live = await index.writeTarget();
      if (live.name === targetName) break;
      if (ids.length) await copyDocuments(live.store, target, embedder, ids);
      const copied = new Set(ids);
      await jobs.setFiles(jobId, files.map((f) => ({ ordinal: f.ordinal, status: copied.has(f.documentId!) ? ("succeeded" as const) : ("unchanged" as const) })));
      await ctx.progress(files.at(-1)!.source);
    }

    // 3. Catch up and switch.
    await jobs.setPhase(jobId, "indexing");
    await target.ensureIndexes();
    await jobs.setPhase(jobId, "catching up");
    let switched = false;
    for (let round = 0; round < MAX_CATCHUP_ROUNDS && !switched; round++) {
      if (!(await ctx.shouldContinue())) return false;
      const gen = await index.generation();
      live = await index.writeTarget();
      if (live.name === targetName) {
        switched = true;
        break;
      }
      const [a, b] = await Promise.all([live.store.documentSignatures(), target.documentSignatures()]);
      const differ = [...new Set([...a.keys(), ...b.keys()])].filter((id) => !sameSignature(a.get(id), b.get(id)));
      if (differ.length === 0) {
        await jobs.setPhase(jobId, "switching");
        switched = await index.trySwitch(targetInfo, gen);
        if (!switched) await jobs.setPhase(jobId, "catching up");
        continue;
      }
      ctx.log("re-embed: catching up", { documents: differ.length, round });
      for (let i = 0; i < differ.length; i += COPY_BATCH) await copyDocuments(live.store, target, embedder, differ.slice(i, i + COPY_BATCH));
      if (round > 2) await sleep(Math.min(1000, 50 * round)); // busy writers: give them room
    }
    if (!switched) throw new IngestError("switch_timeout", "the live table kept changing; the switch was not made (run the job again)");
    ctx.log("re-embed: switched the active table", { table: targetName, model: targetInfo.model, dimension: targetInfo.dimension });
  }
  // This process follows at once; other processes follow their next poll.
  await index.refresh();

  // 4. Settle: writes that were in flight at the switch have landed; check against SQLite.
  await jobs.setPhase(jobId, "verifying");
  await reconcile(deps, writer, { full: true, settleMs: (deps.switchGraceS ?? 5) * 1000, log: ctx.log });
  await retireTables(deps, ctx.log);
  return true;
}

export const reembedKind: JobKindRunner = {
  async run(ctx, env) {
    return { changed: false, completed: await runReembed(env.deps, env.writer, ctx) };
  },
};
