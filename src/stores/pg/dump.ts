/**
 * A logical copy of the PostgreSQL metadata store for `kb backup` / `kb restore`: every table
 * of the schema, read in one REPEATABLE READ, READ ONLY transaction (one snapshot, as SQLite's
 * online backup gives), written as JSON lines per table; and loaded back, in one transaction,
 * into a database that holds none of our rows yet (new, or only migrated).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { writePrivateFile } from "../private-files.ts";
import { openPg, pgMigrationsFolder } from "./db.ts";
import * as schema from "./schema.ts";

/** Parents before children (foreign keys), so a load inserts in this order. */
export const DUMP_ORDER: PgTable[] = [
  schema.users,
  schema.groups,
  schema.groupMembers,
  schema.apiTokens,
  schema.documents,
  schema.documentPages,
  schema.jobs,
  schema.jobFiles,
  schema.settings,
  schema.sensitiveSpans,
  schema.auditEvents,
  schema.workers,
  schema.conversations,
  schema.conversationMessages,
  schema.userCredentials,
  schema.sessions,
  schema.answerFeedback,
  schema.scimTokens,
  schema.scimResources,
  // Transient, kept for completeness (a SQLite backup copies them too): announcement versions
  // and rate-limit counters.
  schema.changes,
  schema.rateLimits,
];

export interface DumpManifest {
  /** How many migrations the database had (drizzle/pg's journal entries). */
  migrations: number;
  tables: { name: string; file: string; rows: number; sha256: string }[];
}

const journalLength = () => (JSON.parse(fs.readFileSync(path.join(pgMigrationsFolder, "meta/_journal.json"), "utf8")) as { entries: unknown[] }).entries.length;

/** Rows of every table from one snapshot, into `dir/<table>.jsonl`; `inspect` sees the rows of the same snapshot as they are written. */
export async function dumpPg(url: string, dir: string): Promise<DumpManifest> {
  const h = await openPg(url, { max: 1 });
  try {
    return await h.db.transaction(
      async (tx) => {
        const migrations = Number((await tx.execute<{ n: number }>(sql`SELECT count(*) AS n FROM drizzle.__drizzle_migrations`)).rows[0]!.n);
        const tables: DumpManifest["tables"] = [];
        for (const table of DUMP_ORDER) {
          const { name } = getTableConfig(table);
          const rows = await tx.select().from(table);
          const file = `${name}.jsonl`;
          const text = rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
          writePrivateFile(path.join(dir, file), text);
          tables.push({ name, file, rows: rows.length, sha256: crypto.createHash("sha256").update(text).digest("hex") });
        }
        return { migrations, tables };
      },
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
  } finally {
    await h.close();
  }
}

/** The rows of one dumped table (for a backup's own checks: pointers, documents). */
export function readDumped<T>(dir: string, manifest: DumpManifest, name: string): T[] {
  const entry = manifest.tables.find((t) => t.name === name);
  if (!entry) return [];
  return fs
    .readFileSync(path.join(dir, entry.file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** Checks every file against the manifest; throws naming the first that differs. */
export function verifyDump(dir: string, manifest: DumpManifest): void {
  for (const t of manifest.tables) {
    const text = fs.readFileSync(path.join(dir, t.file), "utf8");
    if (crypto.createHash("sha256").update(text).digest("hex") !== t.sha256) throw new Error(`${path.join(dir, t.file)} does not match its checksum: the backup is damaged`);
  }
}

/**
 * Loads a dump into the database at `url` (migrated first, as at start), in one transaction.
 * Refused when any of our tables already holds a row, or when the dump comes from a newer schema.
 * `rewrite` may change each row before it is inserted (originals' paths of the new data folder).
 */
export async function loadPg(url: string, dir: string, manifest: DumpManifest, rewrite: (table: string, row: Record<string, unknown>) => Record<string, unknown> = (_t, r) => r): Promise<void> {
  if (manifest.migrations > journalLength()) throw new Error(`the backup's database has ${manifest.migrations} migrations, this version of kb knows ${journalLength()}: restore it with a newer kb`);
  const h = await openPg(url, { max: 1 });
  try {
    await h.db.transaction(async (tx) => {
      for (const table of DUMP_ORDER) {
        const { name } = getTableConfig(table);
        const n = Number((await tx.execute<{ n: number }>(sql`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
        if (n > 0) throw new Error(`the database to restore into is not empty (table ${name} has ${n} row(s)); give a new, empty database`);
      }
      for (const table of DUMP_ORDER) {
        const { name } = getTableConfig(table);
        const rows = readDumped<Record<string, unknown>>(dir, manifest, name).map((r) => rewrite(name, r));
        for (let i = 0; i < rows.length; i += 500) await tx.insert(table).values(rows.slice(i, i + 500));
        // Identity columns continue after the restored ids.
        const identity = getTableConfig(table).columns.find((c) => (c as { generatedIdentity?: unknown }).generatedIdentity);
        if (identity && rows.length) await tx.execute(sql.raw(`SELECT setval(pg_get_serial_sequence('"${name}"', '${identity.name}'), (SELECT max("${identity.name}") FROM "${name}"))`));
      }
    });
  } finally {
    await h.close();
  }
}
