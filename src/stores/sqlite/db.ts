/**
 * Opens the metadata database (SQLite in WAL mode, so `kb ingest` and `kb serve` can share
 * one data folder) and applies the committed migrations.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { ensurePrivateFile, makePrivateDir } from "../private-files.ts";
import * as schema from "./schema.ts";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

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
  migrate(db, { migrationsFolder });
  return db as Db;
}

export { schema };
