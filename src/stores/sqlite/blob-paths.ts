/**
 * Stored originals are recorded by absolute path (documents.blob_path, and job_files.path for
 * uploads not yet ingested): `<data>/blobs/<2 hex>/<sha-256>`. A data folder that was moved or
 * restored somewhere else (an upgrade onto a new machine or mount point) would keep pointing at
 * the old place, and re-indexing (which reads the originals) would fail with blob_missing. At
 * open, every such path outside the current blobs folder is pointed at the same blob inside it.
 * Paths of another shape (a local file `kb ingest` reads in place) are left alone.
 */
import path from "node:path";
import type { Db } from "./db.ts";

const BLOB_TAIL = /(?:^|[\\/])blobs[\\/]([0-9a-f]{2})[\\/]([0-9a-f]{64})$/;

/** The same blob under `blobsDir`, or null when `stored` is not a blob path. */
function rebased(stored: string, blobsDir: string): string | null {
  const m = BLOB_TAIL.exec(stored);
  if (!m || !m[2]!.startsWith(m[1]!)) return null;
  return path.join(blobsDir, m[1]!, m[2]!);
}

/** Points blob paths recorded under another data folder at `blobsDir`; returns how many rows changed. */
export function rebaseBlobPaths(db: Db, blobsDir: string): { documents: number; jobFiles: number } {
  const sql = db.$client;
  const prefix = blobsDir + path.sep;
  const outside = (table: string, column: string, extra = "") =>
    sql.prepare(`SELECT rowid AS id, ${column} AS p FROM ${table} WHERE ${column} IS NOT NULL AND substr(${column}, 1, ?) <> ?${extra}`).all(prefix.length, prefix) as {
      id: number;
      p: string;
    }[];
  return sql.transaction(() => {
    const count = { documents: 0, jobFiles: 0 };
    const setDoc = sql.prepare("UPDATE documents SET blob_path = ? WHERE rowid = ?");
    for (const r of outside("documents", "blob_path")) {
      const to = rebased(r.p, blobsDir);
      if (to) count.documents += setDoc.run(to, r.id).changes;
    }
    // Only files still to be read: finished ones are history.
    const setFile = sql.prepare("UPDATE job_files SET path = ? WHERE rowid = ?");
    for (const r of outside("job_files", "path", " AND status IN ('queued', 'running')")) {
      const to = rebased(r.p, blobsDir);
      if (to) count.jobFiles += setFile.run(to, r.id).changes;
    }
    return count;
  })();
}
