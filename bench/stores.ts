/**
 * The metadata stores a bench compares: SQLite (the embedded default, in the knowledge base's data
 * folder) and, when `--database postgres://…` (or BENCH_DATABASE_URL) names a PostgreSQL server,
 * PostgreSQL in a fresh database per knowledge base, dropped afterwards (the user must be allowed
 * to CREATE DATABASE). The URL's database is only used to connect for CREATE/DROP.
 */
import crypto from "node:crypto";
import { admin, withDatabase } from "../test/helpers/pg.ts";

export type StoreName = "SQLite" | "PostgreSQL";

/** `--database URL`, `--database=URL` or BENCH_DATABASE_URL; undefined: SQLite only. */
export function benchDatabaseServer(argv = process.argv, env = process.env): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--database") return argv[i + 1];
    if (a.startsWith("--database=")) return a.slice("--database=".length);
  }
  return env.BENCH_DATABASE_URL || undefined;
}

/** `argv` without `--database URL` / `--database=URL` (for benches that parse their own options strictly). */
export function withoutDatabaseArg(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--database") i++;
    else if (!argv[i]!.startsWith("--database=")) out.push(argv[i]!);
  }
  return out;
}

export interface BenchDatabase {
  /** The knowledge base's `databaseUrl`: undefined for SQLite. */
  databaseUrl: string | undefined;
  drop(): Promise<void>;
}

/** A fresh metadata store of `store`: nothing to create for SQLite (the data folder holds it). */
export async function freshDatabase(store: StoreName, serverUrl: string | undefined): Promise<BenchDatabase> {
  if (store === "SQLite") return { databaseUrl: undefined, drop: async () => {} };
  if (!serverUrl) throw new Error("PostgreSQL needs --database postgres://… or BENCH_DATABASE_URL");
  const name = `kb_bench_${crypto.randomBytes(6).toString("hex")}`;
  // Byte-order collation, as SQLite's BINARY (as test/helpers/pg.ts does): lists sort alike on both stores.
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`));
  return {
    databaseUrl: withDatabase(serverUrl, name),
    drop: () => admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** The server's version line and where it listens, for the report (no password). */
export async function describeServer(serverUrl: string): Promise<string> {
  const version = await admin(serverUrl, (c) => c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).then((r) => r.rows[0]!.v);
  const u = new URL(serverUrl);
  return `PostgreSQL ${version} on ${u.hostname}:${u.port || 5432}`;
}

/** The stores to run: SQLite, plus PostgreSQL when a server is named. */
export function storesToRun(serverUrl: string | undefined): StoreName[] {
  return serverUrl ? ["SQLite", "PostgreSQL"] : ["SQLite"];
}
