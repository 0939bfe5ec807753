/**
 * Opens the metadata database (SQLite in WAL mode, so `kb ingest` and `kb serve` can share
 * one data folder) and applies the committed migrations.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { ensurePrivateFile, makePrivateDir } from "../private-files.ts";
import * as schema from "./schema.ts";
import { packagePath } from "../../paths.ts";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const migrationsFolder = packagePath("drizzle", "sqlite");

export function openDb(file: string): Db {
  makePrivateDir(path.dirname(file));
  // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
  ensurePrivateFile(file);
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  // Deleted rows are overwritten with zeros, so a deleted document's text does not linger in
  // free pages of the database (the WAL is truncated after an erasure: erasure-repo.ts).
  sqlite.pragma("secure_delete = ON");
  // Another process (kb ingest beside kb serve) may hold the write lock for a moment.
  sqlite.pragma("busy_timeout = 10000");
  const db = drizzle(sqlite, { schema });
  refuseNewerSchema(sqlite);
  migrate(db, { migrationsFolder });
  return db as Db;
}

/**
 * The migrations are versioned by drizzle's journal (drizzle/sqlite/meta/_journal.json); each applied one
 * is recorded in __drizzle_migrations with its journal time. A database that holds a migration
 * later than the last one this code ships was written by a newer kb: migrating it "forward" would
 * skip nothing and then write rows that version does not expect, so it is refused.
 */
function refuseNewerSchema(sqlite: Database.Database): void {
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return;
  const applied = (sqlite.prepare("SELECT max(created_at) AS at FROM __drizzle_migrations").get() as { at: number | null }).at;
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder, "meta/_journal.json"), "utf8")) as { entries: { when: number; tag: string }[] };
  const known = Math.max(0, ...journal.entries.map((e) => e.when));
  if (applied !== null && Number(applied) > known) {
    sqlite.close();
    throw new Error(`this data folder was written by a newer version of kb (database migration of ${new Date(Number(applied)).toISOString()}, this version knows up to ${journal.entries.at(-1)?.tag ?? "none"}): upgrade kb, do not open it with this one`);
  }
}

export { schema };
