/**
 * Data folder maintenance: `kb doctor` (integrity checks, repair), `kb backup` and `kb restore`.
 *
 * These work on the files, not only through `openKb`: a damaged folder does not open, and a
 * backup runs beside a running `kb serve` with connections of its own.
 *
 * A backup is consistent because of the write order every index change follows
 * (ActiveIndex.write): the chunk table is written first, SQLite commits after. So the SQLite
 * snapshot is taken first (online backup API), and the chunk tables are copied at the version
 * they have right after it, which holds every change that snapshot committed; what the table
 * holds beyond it (a write whose SQLite commit came later) is repaired from SQLite, the truth,
 * by the consistency repair that `kb restore` runs. Originals are content-addressed and never
 * rewritten: those the snapshot's documents refer to are copied and their hashes checked.
 *
 * In PostgreSQL mode (KB_DATABASE_URL) the database's part is a logical copy instead: every
 * table read in one REPEATABLE READ snapshot (stores/pg/dump.ts), taken first as SQLite's is,
 * and restored into a new, empty database; the rest is the same.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Config } from "../config.ts";
import { copyTableAt, currentVersion, probeTable, rollBackToReadable, tableDir } from "../stores/lance/table-files.ts";
import { CHUNKS_TABLE } from "../stores/lance/chunk-store.ts";
import { makePrivateDir, PRIVATE_FILE_MODE, tightenDataDir, writePrivateFile } from "../stores/private-files.ts";
import { ACTIVE_KEY, PREVIOUS_KEY, type IndexInfo } from "./active-index.ts";
import { openKb } from "./container.ts";
import { sqliteDamage } from "./data-damage.ts";
import { indexDifferences } from "./jobs/consistency.ts";
import { dumpPg, loadPg, readDumped, verifyDump, type DumpManifest } from "../stores/pg/dump.ts";
import { openPg } from "../stores/pg/db.ts";
import { PgMetadataStore } from "../stores/pg/metadata-store.ts";

export const BACKUP_FORMAT = "private-kb-backup";
const MANIFEST = "backup.json";

export interface Finding {
  check: string;
  /** Healthy now (after the repair, if one was made). */
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What --repair did about it. */
  repaired?: string;
}

export interface DoctorReport {
  ok: boolean;
  findings: Finding[];
}

const sha256File = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

function readPointers(sqlite: Database.Database): { table: string; role: "active" | "previous" }[] {
  return pointersFrom((key) => {
    const row = sqlite.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as IndexInfo) : undefined;
  });
}

function pointersFrom(get: (key: string) => IndexInfo | undefined): { table: string; role: "active" | "previous" }[] {
  const active = get(ACTIVE_KEY)?.table ?? CHUNKS_TABLE;
  const prev = get(PREVIOUS_KEY)?.table;
  return [{ table: active, role: "active" as const }, ...(prev && prev !== active ? [{ table: prev, role: "previous" as const }] : [])];
}

/** Files and folders kb writes that group or others may read (tightened at every start and by --repair). */
function loosePermissions(dataDir: string): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) out.push(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  for (const name of ["app.sqlite", "app.sqlite-wal", "app.sqlite-shm", "admin-token", "admin-credentials", "lancedb", "blobs"]) visit(path.join(dataDir, name));
  return out;
}

/**
 * Checks the data folder: SQLite integrity and foreign keys, the chunk tables (active and the
 * rollback one) read through, the active table agrees with SQLite document by document, the
 * originals of live documents exist and hash right, permissions. With `repair`: a table whose
 * latest version cannot be read goes back to its last good version, the documents that version
 * lacks (or holds differently) are re-indexed from their originals, permissions are tightened.
 * A damaged SQLite file is not repaired here: restore a backup.
 */
export async function doctor(config: Config, options: { repair?: boolean; log?: (msg: string) => void } = {}): Promise<DoctorReport> {
  const { dataDir } = config;
  const repair = options.repair ?? false;
  const findings: Finding[] = [];
  const add = (f: Finding) => {
    findings.push(f);
    options.log?.(`${f.ok ? (f.repaired ? "fixed" : "ok   ") : "FAIL "} ${f.check}: ${f.detail}${f.repaired ? ` → ${f.repaired}` : ""}`);
  };
  const done = () => ({ ok: findings.every((f) => f.ok), findings });

  const loose = loosePermissions(dataDir);
  if (loose.length === 0) add({ check: "permissions", ok: true, detail: "data files are private (owner only)" });
  else {
    const f: Finding = { check: "permissions", ok: false, detail: `${loose.length} path(s) readable by group or others, e.g. ${loose.slice(0, 3).join(", ")}` };
    if (repair) {
      const r = tightenDataDir(dataDir);
      f.repaired = r.failed.length ? `could not tighten ${r.failed.length} path(s)` : `tightened ${r.changed.length} path(s)`;
      f.ok = r.failed.length === 0;
    }
    add(f);
  }

  const dbFile = path.join(dataDir, "app.sqlite");
  let tables: { table: string; role: "active" | "previous" }[] = [];
  if (config.databaseUrl) {
    // PostgreSQL checks its own pages; here: it answers, its migrations apply, the pointers read.
    try {
      const store = new PgMetadataStore(await openPg(config.databaseUrl, { max: 1 }));
      try {
        const settings = await store.settings.withPrefix<IndexInfo>("index.");
        tables = pointersFrom((key) => settings.get(key));
        add({ check: "postgresql", ok: true, detail: `${store.handle.display}: connected, migrations applied` });
      } finally {
        await store.close();
      }
    } catch (err) {
      add({ check: "postgresql", ok: false, detail: (err as Error).message });
      return done();
    }
  } else if (!fs.existsSync(dbFile)) {
    add({ check: "sqlite", ok: false, detail: `${dbFile} does not exist (not a kb data folder, or never started)` });
    return done();
  }
  if (!config.databaseUrl) {
    let sqlite: Database.Database | null = null;
    try {
      sqlite = new Database(dbFile, { fileMustExist: true });
      sqlite.pragma("busy_timeout = 10000");
      const integrity = (sqlite.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check);
      if (integrity.length === 1 && integrity[0] === "ok") add({ check: "sqlite", ok: true, detail: "integrity_check ok" });
      else add({ check: "sqlite", ok: false, detail: `integrity_check: ${integrity.slice(0, 5).join("; ")}. Restore a backup (kb restore)` });
      const fk = sqlite.pragma("foreign_key_check") as unknown[];
      add(fk.length ? { check: "sqlite foreign keys", ok: false, detail: `${fk.length} row(s) refer to missing rows` } : { check: "sqlite foreign keys", ok: true, detail: "ok" });
      tables = readPointers(sqlite);
    } catch (err) {
      const what = sqliteDamage(err);
      add({ check: "sqlite", ok: false, detail: `${dbFile} ${what ?? `cannot be read: ${(err as Error).message}`}. Restore the last backup into an empty folder (kb restore <backup> --data-dir <folder>)` });
      return done();
    } finally {
      sqlite?.close();
    }
  }
  if (findings.some((f) => f.check === "sqlite" && !f.ok)) return done();

  const lanceDir = config.lanceDir;
  let activeReadable = false;
  for (const { table, role } of tables) {
    if (!fs.existsSync(tableDir(lanceDir, table))) {
      add({ check: `${role} table ${table}`, ok: role === "previous", detail: role === "previous" ? "not present (dropped)" : "missing" });
      continue;
    }
    const probe = await probeTable(lanceDir, table);
    if (probe.ok) {
      add({ check: `${role} table ${table}`, ok: true, detail: `version ${probe.version}, ${probe.rows} rows, all readable` });
      if (role === "active") activeReadable = true;
      continue;
    }
    const f: Finding = { check: `${role} table ${table}`, ok: false, detail: `latest version cannot be read (${probe.error})` };
    if (repair) {
      try {
        const r = await rollBackToReadable(lanceDir, table, path.join(dataDir, "quarantine", `${table}.lance-${new Date().toISOString().replace(/[:.]/g, "-")}`));
        f.repaired = `returned to version ${r.goodVersion} (${r.rows} rows)${r.quarantined.length ? `; damaged manifest(s) moved to ${r.quarantined.join(", ")}` : ""}`;
        f.ok = true;
        if (role === "active") activeReadable = true;
      } catch (err) {
        f.repaired = `could not: ${(err as Error).message}. Restore a backup (kb restore)`;
      }
    } else f.detail += "; `kb doctor --repair` returns it to its last good version";
    add(f);
  }
  if (!activeReadable) return done();

  // SQLite and the active table open: compare them, and check the originals.
  const kb = await openKb(config, { llmLoad: "lazy" });
  try {
    // A document of a queued or interrupted job differs until that job (re)writes it when a worker
    // runs: a backup taken while it was being written holds its rows but not yet its commit. It
    // is the job's to finish, not a repair's (reconcile leaves it alone too).
    const compare = async () => {
      const all = indexDifferences(await kb.metadata.documents.all(), await (await kb.index.writeTarget()).store.documentSignatures());
      const busy = await kb.metadata.jobs.documentsInActiveJobs();
      const inJobs = [...all.content, ...all.access].filter((id) => busy.has(id)).length;
      return { content: all.content.filter((id) => !busy.has(id)), access: all.access.filter((id) => !busy.has(id)), orphans: all.orphans, inJobs };
    };
    let diff = await compare();
    const n = diff.content.length + diff.access.length + diff.orphans.length;
    const describe = (d: typeof diff) =>
      `${d.content.length} document(s) missing or at another version, ${d.access.length} with other access, ${d.orphans.length} unknown to SQLite`;
    const jobsNote = (d: typeof diff) => (d.inJobs ? `; ${d.inJobs} document(s) being written by a queued or interrupted job, left to it (it finishes them when a worker runs)` : "");
    if (n === 0) add({ check: "index consistency", ok: true, detail: `the active table holds exactly the live versions of ${(await kb.metadata.documents.all()).filter((d) => d.status === "ready").length} document(s)${jobsNote(diff)}` });
    else {
      const f: Finding = { check: "index consistency", ok: false, detail: describe(diff) + jobsNote(diff) };
      if (repair) {
        const r = await kb.jobs.reconcile({ full: true });
        diff = await compare();
        const left = diff.content.length + diff.access.length + diff.orphans.length;
        f.repaired = `re-indexed ${r.restored} from their originals, fixed access of ${r.accessFixed}, removed ${r.orphanChunkDocuments} unknown${left ? `; still differing: ${describe(diff)} (documents being written now are left alone)` : ""}${jobsNote(diff)}`;
        f.ok = left === 0;
      } else f.detail += "; `kb doctor --repair` re-indexes them from their stored originals";
      add(f);
    }
    const bad: string[] = [];
    let checked = 0;
    for (const d of await kb.metadata.documents.all()) {
      if (!d.blobPath || d.status !== "ready") continue;
      checked++;
      if (!fs.existsSync(d.blobPath)) bad.push(`${d.source}: original missing (${d.blobPath})`);
      else if (sha256File(d.blobPath) !== path.basename(d.blobPath)) bad.push(`${d.source}: original does not match its hash (${d.blobPath})`);
    }
    add(
      bad.length
        ? { check: "originals", ok: false, detail: `${bad.length} of ${checked}: ${bad.slice(0, 5).join("; ")}. Re-ingest those files from their source, or restore a backup` }
        : { check: "originals", ok: true, detail: `${checked} stored original(s) present and matching their SHA-256` },
    );
  } finally {
    await kb.close();
  }
  return done();
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  /** 1: SQLite; 2: PostgreSQL (an older kb refuses it rather than misreading it). */
  formatVersion: 1 | 2;
  createdAt: string;
  /** The data folder it was taken from. */
  sourceDataDir: string;
  /** The originals' folder it was taken from (KB_BLOB_DIR; stored paths start with it); absent: `<sourceDataDir>/blobs`. */
  sourceBlobDir?: string;
  /** SQLite mode (format 1): the database file. */
  sqlite?: { file: string; bytes: number; sha256: string };
  /** PostgreSQL mode (format 2): the logical copy, one JSON-lines file per table under `dir`. */
  postgres?: DumpManifest & { dir: string };
  tables: { name: string; role: "active" | "previous"; version: number; rows: number }[];
  documents: number;
  originals: { count: number; bytes: number; missing: string[] };
  extras: string[];
}

function requireEmpty(dir: string, what: string): void {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`${what} ${dir} is not empty; give a new or empty folder`);
  makePrivateDir(dir);
}

function copyPrivate(from: string, to: string): void {
  makePrivateDir(path.dirname(to));
  fs.copyFileSync(from, to);
  fs.chmodSync(to, PRIVATE_FILE_MODE);
}

function copyTree(from: string, to: string): void {
  makePrivateDir(to);
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyTree(path.join(from, e.name), path.join(to, e.name));
    else if (e.isFile()) copyPrivate(path.join(from, e.name), path.join(to, e.name));
  }
}

/**
 * Backs the data folder up into `dest` (new or empty), online: `kb serve` and workers may keep
 * running. See the file comment for why the result is consistent.
 */
export async function backup(
  dataDir: string,
  dest: string,
  log: (msg: string) => void = () => {},
  options: { databaseUrl?: string; lanceDir?: string; blobDir?: string } = {},
): Promise<BackupManifest> {
  dataDir = path.resolve(dataDir);
  dest = path.resolve(dest);
  // KB_LANCEDB_DIR and KB_BLOB_DIR may lie outside the data folder (a shared mount).
  const dirs: StorageDirs = { lanceDir: path.resolve(options.lanceDir ?? path.join(dataDir, "lancedb")), blobDir: path.resolve(options.blobDir ?? path.join(dataDir, "blobs")) };
  if (options.databaseUrl) return backupPg(dataDir, dirs, dest, options.databaseUrl, log);
  const dbFile = path.join(dataDir, "app.sqlite");
  if (!fs.existsSync(dbFile)) throw new Error(`${dataDir} is not a kb data folder (no app.sqlite)`);
  requireEmpty(dest, "the backup folder");

  // 1. SQLite, through the online backup API: a consistent snapshot while others write.
  const destDb = path.join(dest, "app.sqlite");
  const live = new Database(dbFile, { fileMustExist: true });
  try {
    live.pragma("busy_timeout = 10000");
    await live.backup(destDb);
  } finally {
    live.close();
  }
  fs.chmodSync(destDb, PRIVATE_FILE_MODE);
  const snap = new Database(destDb, { fileMustExist: true });
  let tables: { table: string; role: "active" | "previous" }[];
  let docs: { source: string; blob_path: string | null; status: string }[];
  try {
    const integrity = snap.pragma("integrity_check", { simple: true });
    if (integrity !== "ok") throw new Error(`the database snapshot fails its integrity check (${String(integrity)}): run \`kb doctor\` on ${dataDir}`);
    tables = readPointers(snap);
    docs = snap.prepare("SELECT source, blob_path, status FROM documents").all() as typeof docs;
    // One file, no -wal beside it: the copy stands alone.
    snap.pragma("journal_mode = DELETE");
  } finally {
    snap.close();
  }
  log(`database: ${docs.length} document(s)`);
  const rest = await copyRest(dataDir, dirs, dest, tables, docs, log);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    sourceDataDir: dataDir,
    sourceBlobDir: dirs.blobDir,
    sqlite: { file: "app.sqlite", bytes: fs.statSync(destDb).size, sha256: sha256File(destDb) },
    ...rest,
  };
  writePrivateFile(path.join(dest, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** PostgreSQL mode: the tables from one snapshot, then the same files as in SQLite mode. */
interface StorageDirs {
  lanceDir: string;
  blobDir: string;
}

async function backupPg(dataDir: string, dirs: StorageDirs, dest: string, url: string, log: (msg: string) => void): Promise<BackupManifest> {
  requireEmpty(dest, "the backup folder");
  const dir = "metadata";
  makePrivateDir(path.join(dest, dir));
  const dump = await dumpPg(url, path.join(dest, dir));
  const settings = new Map(readDumped<{ key: string; value: IndexInfo }>(path.join(dest, dir), dump, "settings").map((r) => [r.key, r.value]));
  const tables = pointersFrom((key) => settings.get(key));
  const docs = readDumped<{ source: string; blobPath: string | null; status: string }>(path.join(dest, dir), dump, "documents").map((d) => ({ source: d.source, blob_path: d.blobPath, status: d.status }));
  log(`database: ${docs.length} document(s), ${dump.tables.reduce((n, t) => n + t.rows, 0)} row(s) in ${dump.tables.length} tables`);
  const rest = await copyRest(dataDir, dirs, dest, tables, docs, log);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: 2,
    createdAt: new Date().toISOString(),
    sourceDataDir: dataDir,
    sourceBlobDir: dirs.blobDir,
    postgres: { dir, ...dump },
    ...rest,
  };
  writePrivateFile(path.join(dest, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** Steps 2-4 of a backup: the chunk tables the snapshot names, the originals, the extras. */
async function copyRest(
  dataDir: string,
  { lanceDir, blobDir }: StorageDirs,
  dest: string,
  tables: { table: string; role: "active" | "previous" }[],
  docs: { source: string; blob_path: string | null; status: string }[],
  log: (msg: string) => void,
): Promise<Pick<BackupManifest, "tables" | "documents" | "originals" | "extras">> {
  // 2. The chunk tables the snapshot names, at the version they have now (after the snapshot).
  const destLance = path.join(dest, "lancedb");
  const manifestTables: BackupManifest["tables"] = [];
  for (const { table, role } of tables) {
    if (!fs.existsSync(tableDir(lanceDir, table))) {
      if (role === "active") throw new Error(`the active chunk table ${tableDir(lanceDir, table)} is missing: run \`kb doctor\``);
      continue;
    }
    const version = await currentVersion(lanceDir, table);
    copyTableAt(lanceDir, table, version, destLance);
    const probe = await probeTable(destLance, table);
    if (!probe.ok || probe.version !== version) throw new Error(`the copy of chunk table ${table} at version ${version} does not read back (${probe.error ?? `version ${probe.version}`}); try again`);
    manifestTables.push({ name: table, role, version, rows: probe.rows! });
    log(`chunk table ${table} (${role}): version ${version}, ${probe.rows} rows`);
  }

  // 3. Originals of the snapshot's documents, checked against their hash.
  const originals = { count: 0, bytes: 0, missing: [] as string[] };
  const seen = new Set<string>();
  for (const d of docs) {
    if (!d.blob_path) continue;
    const hash = path.basename(d.blob_path);
    if (seen.has(hash)) continue;
    seen.add(hash);
    const from = fs.existsSync(d.blob_path) ? d.blob_path : path.join(blobDir, hash.slice(0, 2), hash);
    const to = path.join(dest, "blobs", hash.slice(0, 2), hash);
    if (!fs.existsSync(from)) {
      if (d.status === "ready") originals.missing.push(d.source);
      continue;
    }
    copyPrivate(from, to);
    if (sha256File(to) !== hash) throw new Error(`the original of ${d.source} (${from}) does not match its hash: run \`kb doctor\``);
    originals.count++;
    originals.bytes += fs.statSync(to).size;
  }
  log(`originals: ${originals.count} (${originals.bytes} bytes)${originals.missing.length ? `; missing: ${originals.missing.length}` : ""}`);

  // 4. The admin token, the first admin's credentials and the policy folder, when they live in the data folder.
  const extras: string[] = [];
  for (const name of ["admin-token", "admin-credentials", "policies"]) {
    const p = path.join(dataDir, name);
    if (!fs.existsSync(p)) continue;
    if (fs.statSync(p).isDirectory()) copyTree(p, path.join(dest, name));
    else copyPrivate(p, path.join(dest, name));
    extras.push(name);
  }
  return { tables: manifestTables, documents: docs.length, originals, extras };
}

export interface RestoreReport {
  manifest: BackupManifest;
  doctor: DoctorReport;
}

/**
 * Restores a backup into `config.dataDir`, which must be new or empty: checks every checksum,
 * copies, points the documents' originals at the new folder, then runs `doctor --repair` so the
 * chunk tables agree with the restored database (documents written during the backup).
 */
export async function restore(src: string, config: Config, log: (msg: string) => void = () => {}): Promise<RestoreReport> {
  src = path.resolve(src);
  const dataDir = path.resolve(config.dataDir);
  const manifestFile = path.join(src, MANIFEST);
  if (!fs.existsSync(manifestFile)) throw new Error(`${src} is not a kb backup (no ${MANIFEST})`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT || (manifest.formatVersion !== 1 && manifest.formatVersion !== 2)) throw new Error(`${manifestFile}: unknown backup format`);
  const pgDump = manifest.postgres;
  if (pgDump) {
    if (!config.databaseUrl) throw new Error(`${src} is a backup of a PostgreSQL metadata store: set KB_DATABASE_URL (or KB_DATABASE_URL_FILE) to a new, empty database to restore it into`);
    verifyDump(path.join(src, pgDump.dir), pgDump);
  } else {
    if (config.databaseUrl) throw new Error(`${src} is a backup of a SQLite metadata store: restore it without KB_DATABASE_URL (moving SQLite's rows into PostgreSQL is not supported)`);
    const file = manifest.sqlite!.file;
    if (sha256File(path.join(src, file)) !== manifest.sqlite!.sha256) throw new Error(`${path.join(src, file)} does not match the checksum in ${MANIFEST}: the backup is damaged`);
  }
  requireEmpty(dataDir, "the data folder to restore into");
  // KB_LANCEDB_DIR / KB_BLOB_DIR outside the data folder (a shared mount) must be empty too.
  const lanceDir = path.resolve(config.lanceDir);
  const blobDir = path.resolve(config.blobDir);
  if (!lanceDir.startsWith(dataDir + path.sep)) requireEmpty(lanceDir, "the chunk table folder (KB_LANCEDB_DIR) to restore into");
  if (!blobDir.startsWith(dataDir + path.sep)) requireEmpty(blobDir, "the originals' folder (KB_BLOB_DIR) to restore into");

  const dbFile = path.join(dataDir, "app.sqlite");
  if (!pgDump) copyPrivate(path.join(src, manifest.sqlite!.file), dbFile);
  if (fs.existsSync(path.join(src, "lancedb"))) copyTree(path.join(src, "lancedb"), lanceDir);
  if (fs.existsSync(path.join(src, "blobs"))) {
    copyTree(path.join(src, "blobs"), blobDir);
    for (const sub of fs.readdirSync(blobDir)) {
      for (const hash of fs.readdirSync(path.join(blobDir, sub))) {
        if (sha256File(path.join(blobDir, sub, hash)) !== hash) throw new Error(`the original ${hash} in ${src} does not match its hash: the backup is damaged`);
      }
    }
  }
  for (const name of manifest.extras ?? []) {
    const p = path.join(src, name);
    if (fs.statSync(p).isDirectory()) copyTree(p, path.join(dataDir, name));
    else copyPrivate(p, path.join(dataDir, name));
  }

  // Originals are recorded by absolute path: those of the old folder now live in this one.
  const oldBlobs = (manifest.sourceBlobDir ?? path.join(manifest.sourceDataDir, "blobs")) + path.sep;
  const newBlobs = blobDir + path.sep;
  if (pgDump) {
    const moved = (p: unknown) => (typeof p === "string" && p.startsWith(oldBlobs) ? newBlobs + p.slice(oldBlobs.length) : p);
    await loadPg(config.databaseUrl!, path.join(src, pgDump.dir), pgDump, (table, row) =>
      table === "documents" ? { ...row, blobPath: moved(row.blobPath) } : table === "job_files" ? { ...row, path: moved(row.path) } : row,
    );
  } else {
    const db = new Database(dbFile, { fileMustExist: true });
    try {
      const rebase = (table: string, column: string) =>
        db.prepare(`UPDATE ${table} SET ${column} = ? || substr(${column}, ?) WHERE substr(${column}, 1, ?) = ?`).run(newBlobs, oldBlobs.length + 1, oldBlobs.length, oldBlobs).changes;
      db.transaction(() => {
        rebase("documents", "blob_path");
        rebase("job_files", "path");
      })();
    } finally {
      db.close();
    }
  }
  for (const t of manifest.tables) {
    const v = await currentVersion(lanceDir, t.name);
    if (v !== t.version) throw new Error(`chunk table ${t.name} restored at version ${v}, the backup recorded ${t.version}`);
  }
  log(`restored ${manifest.documents} document(s), ${manifest.originals.count} original(s), tables ${manifest.tables.map((t) => `${t.name}@${t.version}`).join(", ")} into ${dataDir}`);
  const report = await doctor({ ...config, dataDir }, { repair: true, log });
  return { manifest, doctor: report };
}
