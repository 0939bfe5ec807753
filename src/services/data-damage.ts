/**
 * Start-up diagnostics for a damaged data folder. A SQLite file that is not a database (or is
 * truncated), or a chunk table whose latest version cannot be read, stops the start with one
 * message that names the file, says what is wrong, and what to do, instead of a driver error.
 */
import path from "node:path";
import { lanceReason, manifests, tableDir } from "../stores/lance/table-files.ts";

/** The data folder is damaged; the message says which file and what to do. Nothing was repaired. */
export class DataDamagedError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = "DataDamagedError";
  }
}

const SQLITE_DAMAGE: Record<string, string> = {
  SQLITE_NOTADB: "is not a SQLite database (overwritten or not a kb data folder)",
  SQLITE_CORRUPT: "is damaged (database disk image is malformed: truncated or overwritten)",
  SQLITE_IOERR_SHORT_READ: "is shorter than its own header says (truncated)",
};

const whatToDo = (dataDir: string) =>
  `Nothing was repaired or overwritten. Run \`kb doctor\` (KB_DATA_DIR=${dataDir}) for a full check; restore the last backup into an empty folder with \`kb restore <backup> --data-dir <folder>\``;

/** The damage a SQLite error reports, or null when it is another kind of error (locked, permission…). */
export function sqliteDamage(err: unknown): string | null {
  const code = (err as { code?: string })?.code ?? "";
  return SQLITE_DAMAGE[code] ?? (code.startsWith("SQLITE_CORRUPT") ? SQLITE_DAMAGE.SQLITE_CORRUPT! : null);
}

export function sqliteDamagedError(file: string, dataDir: string, err: unknown): DataDamagedError | null {
  const what = sqliteDamage(err);
  return what ? new DataDamagedError(`the metadata database ${file} ${what}. ${whatToDo(dataDir)}.`, file) : null;
}

/**
 * Errors that come from LanceDB reading a table's files (not ours, not the model's). A commit
 * conflict with another process writing the same table at that moment is not damage: it is
 * retried where it can happen (index creation) and otherwise reported as it is.
 */
export function isLanceError(err: unknown): boolean {
  const message = String((err as Error)?.message ?? err);
  return /lance error|LanceError/i.test(message) && !/retryable commit conflict|preempted by concurrent/i.test(message);
}

export function tableDamagedError(dataDir: string, lanceDir: string, table: string, err: unknown): DataDamagedError {
  const dir = tableDir(lanceDir, table);
  const newest = manifests(dir)[0];
  const where = newest ? `its latest version (${newest.version}, manifest ${path.relative(dataDir, newest.file)})` : "its version manifests";
  return new DataDamagedError(
    `the chunk table ${dir} cannot be read: ${where} is damaged (${lanceReason(err)}). ${whatToDo(dataDir)}; or run \`kb doctor --repair\`, which returns the table to its last good version and re-indexes the documents that version lacks from their stored originals.`,
    newest?.file ?? dir,
  );
}
