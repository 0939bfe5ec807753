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

/** Runs `fn` on a short-lived client of the server at `url` (CREATE/DROP DATABASE and the like). */
export async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The prefix of every database this test run creates: `kb_t_<run>_`, the run's id set once by
 * the global setup (KB_TEST_DB_RUN, inherited by the test workers), so the run's teardown drops
 * what is left of its own databases and never another run's on a shared server.
 */
export function runPrefix(): string {
  const run = process.env.KB_TEST_DB_RUN;
  return run && /^[a-z0-9]{1,20}$/.test(run) ? `kb_t_${run}_` : "kb_t_";
}

/** This test file's databases not dropped yet (test/helpers/pg-cleanup.ts drops them after the file). */
const live = new Map<string, () => Promise<void>>();

export async function createTestDatabase(serverUrl: string, options: { template?: string } = {}): Promise<TestDatabase> {
  const name = `${runPrefix()}${crypto.randomBytes(6).toString("hex")}`;
  // Byte-order collation, as SQLite's BINARY: lists sort the same on both stores. A copy of a
  // template database (the browser tests' prepared data) inherits the template's.
  const create = options.template
    ? `CREATE DATABASE ${name} TEMPLATE ${ident(options.template)}`
    : `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`;
  await admin(serverUrl, (c) => c.query(create));
  let dropped: Promise<void> | null = null;
  const drop = () => {
    live.delete(name);
    return (dropped ??= dropDatabases(serverUrl, [name]));
  };
  live.set(name, drop);
  return { url: withDatabase(serverUrl, name), name, drop };
}

/** Drops the databases this test file created and did not drop (a test that failed before its close). */
export async function dropLeftDatabases(): Promise<string[]> {
  const left = [...live.keys()];
  await Promise.all([...live.values()].map((drop) => drop()));
  return left;
}

/** Drops every database whose name starts with `prefix` (the run's teardown); returns their names. */
export async function dropDatabasesStartingWith(serverUrl: string, prefix: string): Promise<string[]> {
  const names = await admin(serverUrl, async (c) => (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [prefix])).rows.map((r) => r.datname));
  await dropDatabases(serverUrl, names);
  return names;
}

function dropDatabases(serverUrl: string, names: string[]): Promise<void> {
  if (names.length === 0) return Promise.resolve();
  // WITH (FORCE): a `kb` child process or a pool a failed test left open does not keep it alive.
  return admin(serverUrl, async (c) => {
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  });
}

function ident(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a test database name: ${name}`);
  return name;
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
