/**
 * The data folder holds originals, page texts, the chunk index and the audit log: nobody but
 * the account running kb may read it. Three layers keep it so:
 * - the `kb` process runs with umask 077 (src/cli/main.ts), which covers files that native code
 *   creates (LanceDB fragments and indexes, SQLite's -wal/-shm);
 * - what we create ourselves gets an explicit mode (folders 0700, files 0600), so a process with
 *   a looser umask (a library user, a test) does not open the folder either; SQLite gives its
 *   -wal and -shm files the mode of the database file;
 * - at start, what an earlier version or another tool left open is tightened
 *   (`tightenDataDir`): group and other permission bits are removed, and what changed is logged.
 */
import fs from "node:fs";
import path from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** The umask that gives new files 0600 and new folders 0700. */
export const PRIVATE_UMASK = 0o077;

/** Creates `dir` (and missing parents) as 0700; an existing folder keeps its mode (tightenTree fixes it). */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Writes a file readable by its owner only (also when it existed with a looser mode). */
export function writePrivateFile(file: string, data: string | Uint8Array): void {
  fs.writeFileSync(file, data, { mode: PRIVATE_FILE_MODE });
  fs.chmodSync(file, PRIVATE_FILE_MODE);
}

/** Creates an empty file as 0600 if it is missing, and takes group/other bits off if it exists. */
export function ensurePrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, "a", PRIVATE_FILE_MODE));
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) fs.chmodSync(file, mode & 0o700);
}

export interface TightenReport {
  /** Paths whose group/other bits were removed. */
  changed: string[];
  /** Paths that could not be changed (not ours, read-only file system), with the reason. */
  failed: { path: string; error: string }[];
}

/** What kb itself writes in the data folder; anything else there is the operator's. */
const DATA_ENTRIES = ["app.sqlite", "app.sqlite-wal", "app.sqlite-shm", "app.sqlite-journal", "admin-token", "admin-credentials", "lancedb", "blobs"];

/**
 * Removes group and other permission bits from the data folder itself and from everything kb
 * writes in it (database, chunk index, originals, admin token and credentials), at any depth. Other entries
 * (the models folder, policy files, whatever an operator keeps beside them) are left as they
 * are: a data folder pointed at a shared place must not have its neighbours changed.
 */
export function tightenDataDir(dataDir: string): TightenReport {
  const report: TightenReport = { changed: [], failed: [] };
  tighten(path.resolve(dataDir), report, false);
  for (const name of DATA_ENTRIES) tighten(path.join(path.resolve(dataDir), name), report, true);
  return report;
}

/** Removes group/other bits from `root` (and, when `deep`, everything under it); links are neither followed nor changed. */
function tighten(root: string, report: TightenReport, deep: boolean): void {
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return; // removed meanwhile
    }
    if (st.isSymbolicLink()) return;
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      try {
        fs.chmodSync(p, mode & 0o700);
        report.changed.push(p);
      } catch (err) {
        report.failed.push({ path: p, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
    if (!st.isDirectory() || !deep) return;
    let entries: string[];
    try {
      entries = fs.readdirSync(p);
    } catch {
      return;
    }
    for (const e of entries) visit(path.join(p, e));
  };
  visit(root);
}
