/**
 * The sync kind: a folder made to match its files (new and changed files ingested, documents
 * whose file is gone deleted). Planned on its first run: the folder scan becomes file rows, in
 * one SQLite transaction together with the "planned" mark, so a crash during planning leaves
 * nothing behind and the next run plans again from scratch. Then the batched file pipeline.
 */
import fs from "node:fs";
import path from "node:path";
import { IngestError } from "../../../../ingest/types.ts";
import { ownerKeepsRead, SYSTEM_ACTOR } from "../../../../policies/index.ts";
import { TEXT_LIMITS } from "../../../domain/limits.ts";
import { syncScope, type DocumentRow } from "../../../stores/metadata.ts";
import type { NewJobFile } from "../../../stores/metadata.ts";
import type { FileOptions, JobDeps, JobKindRunner, JobRunContext } from "../context.ts";
import { documentFor } from "../document-rows.ts";

export interface SyncParams {
  /** Absolute folder; every file under it (hidden ones excepted) is a document, sources are absolute paths. */
  folder: string;
  allow?: string[];
  deny?: string[];
  classification?: number;
  owner: string | null;
  /** The schedule (sources config) that submitted it, if any. */
  schedule?: string;
  planned?: boolean;
}

export interface ScannedFile {
  path: string;
  mtimeMs: number;
  size: number;
}

/** Files under a folder, depth first in name order, skipping hidden files and folders. */
export function scanFolder(folder: string): ScannedFile[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(folder);
  } catch (err) {
    // Never treat a missing (unmounted, mistyped) folder as "every file was deleted".
    throw new IngestError("folder_unreadable", `cannot read ${folder}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!st.isDirectory()) throw new IngestError("not_a_folder", `${folder} is not a folder`);
  const out: ScannedFile[] = [];
  const visit = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith(".")) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) {
        const s = fs.statSync(p);
        out.push({ path: p, mtimeMs: Math.trunc(s.mtimeMs), size: s.size });
      }
    }
  };
  visit(folder);
  return out;
}

const sameList = (a: string[] | undefined, b: string[]) => a === undefined || [...new Set(a)].sort().join() === [...b].sort().join();

/**
 * New and changed files become ingest rows, files whose size and mtime equal what the document
 * recorded are settled as unchanged without reading them, and documents whose file is gone
 * become delete rows.
 */
export async function planSync(deps: JobDeps, ctx: JobRunContext): Promise<void> {
  const p = ctx.job.params as unknown as SyncParams;
  const folder = path.resolve(p.folder);
  const files = scanFolder(folder);
  await deps.metadata.withTransaction(async (tx) => {
    if ((await tx.jobs.byId(ctx.job.id))?.params.planned) return;
    // A sync's documents are those it named: its root + each file's relative path. Documents that
    // merely share a source (an upload, `kb ingest`, another sync root) are not its to change.
    const scope = syncScope(folder);
    const existing = new Map<string, DocumentRow>((await tx.documents.inScope(scope)).map((d) => [d.identityKey!, d]));
    const options: FileOptions = { allow: p.allow, deny: p.deny, classification: p.classification, owner: p.owner, synced: true };
    const rows: NewJobFile[] = [];
    for (const f of files) {
      if (f.path.length > TEXT_LIMITS.path) {
        // Stored paths are bounded; this file is reported (under a shortened name) and not ingested.
        const shown = `${f.path.slice(0, TEXT_LIMITS.path - 1)}…`;
        const error = `path is ${f.path.length} characters; at most ${TEXT_LIMITS.path} are accepted`;
        rows.push({ ordinal: rows.length, source: shown, path: shown, status: "failed", errorCode: "path_too_long", error });
        continue;
      }
      const key = path.relative(folder, f.path);
      const doc = existing.get(key);
      existing.delete(key);
      const accessKept =
        doc !== undefined &&
        (p.allow === undefined || sameList(ownerKeepsRead(p.allow, doc.owner), doc.aclAllow)) &&
        sameList(p.deny, doc.aclDeny) &&
        (p.classification === undefined || p.classification === doc.classification);
      if (doc && doc.status === "ready" && doc.sourceMtimeMs === f.mtimeMs && doc.sizeBytes === f.size && accessKept) {
        rows.push({ ordinal: rows.length, source: f.path, path: f.path, documentId: doc.id, status: "unchanged", options: { documentId: doc.id } });
        continue;
      }
      const d = doc ?? (await documentFor({ ...deps, documents: tx.documents }, SYSTEM_ACTOR, { scope, key }, f.path, options));
      rows.push({ ordinal: rows.length, source: f.path, path: f.path, documentId: d.id, options: { ...options, documentId: d.id } });
    }
    for (const doc of existing.values()) {
      rows.push({ ordinal: rows.length, source: doc.source, path: doc.source, documentId: doc.id, action: "delete", options: { documentId: doc.id } });
    }
    await tx.jobs.addFiles(ctx.job.id, rows);
    await tx.jobs.mergeParams(ctx.job.id, { planned: true, scanned: files.length });
  });
}


export const syncKind: JobKindRunner = {
  async run(ctx, env) {
    const { jobs } = env.deps;
    if (!ctx.job.params.planned) {
      await jobs.setPhase(ctx.job.id, "planning");
      await planSync(env.deps, ctx);
    }
    await jobs.setPhase(ctx.job.id, null);
    const changed = await env.files.runFiles(ctx);
    return { changed, completed: (await jobs.pendingFiles(ctx.job.id)).length === 0 };
  },
};
