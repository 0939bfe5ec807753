/**
 * PostgreSQL for tests: a fresh database per knowledge base on the server KB_TEST_DATABASE_URL
 * names (its user must be allowed to CREATE DATABASE), dropped afterwards. `pgAvailable` tells
 * pg-only tests whether a server answers, so they can skip with a printed reason.
 */
import crypto from "node:crypto";
import pg from "pg";

export interface TestDatabase {
  /** The new database's URL (the server's URL with its name). */
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** `url` with another database name. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `kb_t_${crypto.randomBytes(6).toString("hex")}`;
  // Byte-order collation, as SQLite's BINARY: lists sort the same on both stores.
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`));
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: () => admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Null when a server answers at `url`, else why not (for a skip message). */
export async function pgUnavailable(url: string | undefined): Promise<string | null> {
  if (!url) return "KB_TEST_DATABASE_URL is not set (a PostgreSQL server's URL, e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres)";
  try {
    await admin(url, (c) => c.query("SELECT 1"));
    return null;
  } catch (err) {
    return `no PostgreSQL server answers at KB_TEST_DATABASE_URL (${(err as Error).message})`;
  }
}
