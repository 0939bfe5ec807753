/**
 * Opens the PostgreSQL metadata database (KB_DATABASE_URL) as a connection pool and applies the
 * committed migrations (drizzle/pg) under an advisory lock, so replicas starting together do not
 * run them twice. The URL's password never appears in a message: errors and logs name the
 * database by `redactUrl`.
 */
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import * as schema from "./schema.ts";
import { NulFreeClient } from "./nul.ts";
import { packagePath } from "../../paths.ts";

export type PgDb = NodePgDatabase<typeof schema>;

export const pgMigrationsFolder = packagePath("drizzle", "pg");
/** pg_advisory_lock key of the migration step (any constant; "kbmigrate" as hex digits). */
const MIGRATION_LOCK = 0x6b626d69;

/** The URL with its password replaced, for messages; an unparseable URL is not shown at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an invalid database URL)";
  }
}

/** Removes the URL and its password from a driver error's message (pg quotes neither, but a wrapper might). */
export function scrubError(err: unknown, url: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  let password = "";
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    /* not a URL: nothing to hide but the whole string */
  }
  const clean = (s: string) => {
    let out = s.split(url).join(redactUrl(url));
    if (password) out = out.split(password).join("***");
    return out;
  };
  const copy = new Error(clean(e.message));
  copy.name = e.name;
  (copy as { code?: unknown }).code = (e as { code?: unknown }).code;
  return copy;
}

// int8 (count(*), bigint columns) as JS numbers: our values stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

export interface OpenPgOptions {
  /** Connections in the pool (default 10). */
  max?: number;
}

export interface PgHandle {
  db: PgDb;
  pool: pg.Pool;
  /** The URL without its password, for messages. */
  display: string;
  close(): Promise<void>;
}

export async function openPg(url: string, options: OpenPgOptions = {}): Promise<PgHandle> {
  // NulFreeClient: PostgreSQL refuses U+0000 in text and jsonb; the store drops it (nul.ts).
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, types, application_name: "kb", Client: NulFreeClient });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const display = redactUrl(url);
  const db = drizzle(pool, { schema });
  try {
    const client = await pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      try {
        await refuseNewerSchema(client);
        await migrate(drizzle(client, { schema }), { migrationsFolder: pgMigrationsFolder });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    const clean = scrubError(err, url);
    throw new Error(`PostgreSQL metadata store ${display}: ${clean.message}`, { cause: clean });
  }
  return { db, pool, display, close: () => pool.end() };
}

/** As in SQLite (sqlite/db.ts): a database migrated by a newer kb is refused, not "migrated". */
async function refuseNewerSchema(client: pg.PoolClient): Promise<void> {
  const exists = await client.query("SELECT to_regclass('drizzle.__drizzle_migrations') AS t");
  if (!exists.rows[0]?.t) return;
  const applied = (await client.query("SELECT max(created_at) AS at FROM drizzle.__drizzle_migrations")).rows[0]?.at as number | string | null;
  const journal = JSON.parse(fs.readFileSync(path.join(pgMigrationsFolder, "meta/_journal.json"), "utf8")) as { entries: { when: number; tag: string }[] };
  const known = Math.max(0, ...journal.entries.map((e) => e.when));
  if (applied !== null && Number(applied) > known) {
    throw new Error(`this database was written by a newer version of kb (database migration of ${new Date(Number(applied)).toISOString()}, this version knows up to ${journal.entries.at(-1)?.tag ?? "none"}): upgrade kb, do not open it with this one`);
  }
}

export { schema };
