/**
 * Recovery after crashes: SQLite is the truth, the active chunk table is made to agree with it.
 *
 * Quick (every worker start, cheap, SQLite only):
 *  - files of finished (cancelled) jobs still marked running: their worker died mid-file; they
 *    are marked cancelled and their documents checked;
 *  - document rows created for a job that will never run them (cancelled before the file was
 *    reached; status processing, version 0, in no active job) are removed.
 * Full (in the background after start, periodically, and after a re-embed switch):
 *  - every document not being written by an active job: the active table must hold exactly its
 *    live version's chunks with its access; a difference that persists across two scans
 *    `settleMs` apart (so writes in flight are not "fixed") is repaired: access rewritten in
 *    place, or the version restored from the stored original; rows of documents that no longer
 *    exist are deleted.
 */
import { accessSignature } from "../../stores/access.ts";
import type { DocumentSignature } from "../../stores/lance/chunk-store.ts";
import { accessOfRow, type DocumentRow } from "../../stores/metadata.ts";
import type { DocumentWriter } from "../document-writer.ts";
import type { JobDeps } from "./context.ts";

type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface ReconcileReport {
  interruptedFiles: number;
  orphanDocuments: number;
  accessFixed: number;
  restored: number;
  orphanChunkDocuments: number;
}

const accessOf = (d: DocumentRow) => accessSignature(accessOfRow(d));

/** What the active table should hold of a document: undefined = nothing. */
function expected(d: DocumentRow): DocumentSignature | undefined {
  return d.status === "ready" && d.version > 0 ? { version: d.version, chunks: d.chunkCount, access: accessOf(d) } : undefined;
}

function differs(want: DocumentSignature | undefined, have: DocumentSignature | undefined): "none" | "access" | "content" {
  if (!want && !have) return "none";
  if (!want || !have || want.version !== have.version || want.chunks !== have.chunks) return "content";
  return want.access === have.access ? "none" : "access";
}

export interface IndexDifferences {
  /** Documents whose live version is not (exactly) in the table: missing, another version, another chunk count. */
  content: string[];
  /** Documents whose rows carry other access than SQLite says. */
  access: string[];
  /** Documents the table holds but SQLite does not know. */
  orphans: string[];
}

/** Where a chunk table disagrees with SQLite (one scan; `reconcile` repairs what persists). */
export function indexDifferences(docs: DocumentRow[], sigs: Map<string, DocumentSignature>): IndexDifferences {
  const out: IndexDifferences = { content: [], access: [], orphans: [] };
  const byId = new Map(docs.map((d) => [d.id, d]));
  for (const id of new Set([...sigs.keys(), ...byId.keys()])) {
    const d = byId.get(id);
    const kind = differs(d ? expected(d) : undefined, sigs.get(id));
    if (kind === "none") continue;
    if (!d) out.orphans.push(id);
    else out[kind].push(id);
  }
  return out;
}

/**
 * A document row created for a job that will never fill it: no version, still processing, in
 * no active job (read inside the commit that deletes it).
 */
export async function unfilled(d: DocumentRow | undefined, jobs: JobDeps["jobs"]): Promise<boolean> {
  return d !== undefined && d.version === 0 && d.status === "processing" && !(await jobs.documentsInActiveJobs()).has(d.id);
}

export async function reconcile(deps: JobDeps, writer: DocumentWriter, opts: { full: boolean; settleMs?: number; log?: Log }): Promise<ReconcileReport> {
  const { jobs, documents, index } = deps;
  const log: Log = opts.log ?? deps.log ?? (() => {});
  const report: ReconcileReport = { interruptedFiles: 0, orphanDocuments: 0, accessFixed: 0, restored: 0, orphanChunkDocuments: 0 };

  // Interrupted files of jobs that will not resume.
  const interrupted = await jobs.interruptedFiles();
  const check = new Set<string>();
  for (const f of interrupted) {
    await jobs.setFile(f.jobId, f.ordinal, { status: "cancelled", errorCode: "interrupted", error: "the worker stopped while processing this file and the job did not resume" });
    if (f.documentId) check.add(f.documentId);
  }
  report.interruptedFiles = interrupted.length;

  // Document rows nobody will fill.
  let busy = await jobs.documentsInActiveJobs();
  for (const d of await documents.unversioned()) {
    if (busy.has(d.id)) continue;
    // Re-checked inside the commit: a job submitted meanwhile may have picked the row up.
    if (await writer.delete(d.id, { onlyIf: (now, tx) => unfilled(now, tx.jobs) })) report.orphanDocuments++;
  }
  for (const id of check) {
    const d = await documents.byId(id);
    if (d && !busy.has(id) && (await writer.restoreIfDiverged(d).catch(() => false))) report.restored++;
  }

  if (opts.full) {
    const scan = async () => {
      const target = await index.writeTarget();
      return { name: target.name, sigs: await target.store.documentSignatures() };
    };
    const first = await scan();
    const firstDocs = new Map((await documents.all()).map((d) => [d.id, d]));
    const suspects = new Set<string>();
    for (const id of new Set([...first.sigs.keys(), ...firstDocs.keys()])) {
      const d = firstDocs.get(id);
      if (differs(d ? expected(d) : undefined, first.sigs.get(id)) !== "none") suspects.add(id);
    }
    if (suspects.size > 0) {
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 3000));
      const second = await scan();
      busy = await jobs.documentsInActiveJobs();
      for (const id of suspects) {
        if (busy.has(id)) continue;
        const d = await documents.byId(id);
        const before = firstDocs.get(id);
        // Changed in SQLite between the scans: a writer is at work; leave it.
        if ((d?.updatedAt ?? null) !== (before?.updatedAt ?? null)) continue;
        if (second.name !== first.name) continue;
        const kind = differs(d ? expected(d) : undefined, second.sigs.get(id));
        if (kind === "none") continue;
        if (!d) {
          // Rows of a document SQLite does not know: removed (a row created meanwhile is kept).
          await writer.delete(id, { onlyIf: (now) => now === undefined });
          report.orphanChunkDocuments++;
        } else if (kind === "access") {
          await writer.repairAccess(d);
          report.accessFixed++;
        } else {
          try {
            await writer.restore(d);
            report.restored++;
          } catch (err) {
            log("could not restore a document's chunks", { documentId: id, err: String(err) });
          }
        }
      }
    }
  }
  const fixed = Object.values(report).some((n) => n > 0);
  if (fixed) log("reconciled the index with SQLite", { ...report });
  return report;
}

/**
 * Drops chunk tables that are neither active nor the previous one (kept for rollback) nor
 * the target of a re-embed job still to run.
 */
export async function retireTables(deps: Pick<JobDeps, "index" | "jobs">, log?: Log): Promise<string[]> {
  const { index, jobs } = deps;
  const keep = new Set<string>([(await index.pointer()).table, index.info().table]);
  const prev = await index.previous();
  if (prev) keep.add(prev.table);
  for (const j of await jobs.list({ status: ["queued", "running"], kind: ["reembed"], limit: 1000 })) {
    const t = (j.params as { targetTable?: string; table?: string }).targetTable ?? (j.params as { table?: string }).table;
    if (t) keep.add(t);
    // A re-embed not yet planned will name its table after its id.
    if (!(j.params as { planned?: boolean }).planned) keep.add(`*${j.id.replace(/^job_/, "")}`);
  }
  const dropped: string[] = [];
  for (const name of await index.store.tableNames()) {
    if (keep.has(name) || [...keep].some((k) => k.startsWith("*") && name.endsWith(k.slice(1)))) continue;
    try {
      await index.store.dropTable(name);
      dropped.push(name);
    } catch (err) {
      log?.("could not drop a retired chunk table", { table: name, err: String(err) });
    }
  }
  if (dropped.length) log?.("dropped retired chunk tables", { tables: dropped });
  return dropped;
}
