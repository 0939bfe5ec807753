/** Test harness: a real knowledge base in a temporary folder, optionally served on loopback. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { loadConfig, type Config } from "../../src/config.ts";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { openKb, type Kb, type KbStores, type OpenKbOptions } from "../../src/services/container.ts";
import { STALE_MS } from "../../src/services/jobs/worker.ts";
import { SYSTEM_ACTOR, type Actor } from "../../policies/index.ts";
import { createTestDatabase, type TestDatabase } from "./pg.ts";
import type { PgMetadataStore } from "../../src/stores/pg/metadata-store.ts";

export interface TestKb {
  /** Services, and the stores under them (tests set up and inspect state directly). */
  kb: Kb & KbStores;
  dir: string;
  /**
   * The environment a `kb` command (in-process through commander or a child process) needs to
   * open this same knowledge base: its data folder and, on PostgreSQL, its database.
   */
  env: { KB_DATA_DIR: string; KB_DATABASE_URL?: string };
  close(): Promise<void>;
}

/**
 * A knowledge base in a new temporary folder. With KB_TEST_DATABASE_URL set (a PostgreSQL
 * server's URL), its metadata store is a new database on that server, dropped at close
 * (helpers/pg.ts); without it, SQLite in the folder as in production's default.
 */
export async function openTestKb(overrides: Partial<Config> = {}, options: Omit<OpenKbOptions, "logger"> = {}): Promise<TestKb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-test-"));
  let database: TestDatabase | null = null;
  if (process.env.KB_TEST_DATABASE_URL && overrides.databaseUrl === undefined) database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL);
  return await openOn(dir, database, overrides, options);
}

/**
 * The knowledge base of `closed` (closed by the test, its folder and database kept) opened again
 * on the same folder and, on PostgreSQL, the same database; this one's close removes both.
 */
export async function reopenTestKb(closed: TestKb, overrides: Partial<Config> = {}, options: Omit<OpenKbOptions, "logger"> = {}): Promise<TestKb> {
  const database = databases.get(closed) ?? null;
  return await openOn(closed.dir, database, { dataDir: closed.kb.config.dataDir, databaseUrl: closed.kb.config.databaseUrl, ...overrides }, options);
}

const databases = new WeakMap<TestKb, TestDatabase>();

async function openOn(dir: string, database: TestDatabase | null, overrides: Partial<Config>, options: Omit<OpenKbOptions, "logger">): Promise<TestKb> {
  const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent", databaseUrl: database?.url, ...overrides });
  let kb: Kb & KbStores;
  try {
    kb = await openKb(config, { ...options, logger: pino({ level: "silent" }) });
  } catch (err) {
    await database?.drop();
    throw err;
  }
  const databaseUrl = config.databaseUrl;
  const t: TestKb = {
    kb,
    dir,
    env: { KB_DATA_DIR: config.dataDir, ...(databaseUrl ? { KB_DATABASE_URL: databaseUrl } : {}) },
    async close() {
      try {
        await kb.close();
      } finally {
        await database?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  if (database) databases.set(t, database);
  return t;
}

/** True when this run's knowledge bases use PostgreSQL (KB_TEST_DATABASE_URL); tests of SQLite internals skip then. */
export const onPostgres = () => Boolean(process.env.KB_TEST_DATABASE_URL);

export interface TestServer extends TestKb {
  server: RunningServer;
  url: string;
  /** A token for a new user (created on the fly). */
  tokenFor(name: string, role?: string, groups?: string[]): Promise<string>;
  fetchAs(token: string | null, pathname: string, init?: RequestInit): Promise<Response>;
}

export async function startTestServer(overrides: Partial<Config> = {}, options: Omit<OpenKbOptions, "logger"> = {}): Promise<TestServer> {
  const t = await openTestKb(overrides, options);
  await t.kb.startWorker();
  const server = await startServer(t.kb, { port: 0, host: "127.0.0.1" });
  const s: TestServer = {
    ...t,
    server,
    url: server.url,
    async tokenFor(name, role = "viewer", groups = []) {
      if (!(await t.kb.accounts.listUsers()).some((u) => u.name === name)) await t.kb.accounts.createUser({ name, role, groups });
      return (await t.kb.accounts.createToken(name)).token;
    },
    fetchAs(token, pathname, init = {}) {
      const headers = new Headers(init.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(server.url + pathname, { ...init, headers });
    },
    async close() {
      try {
        await server.close();
      } finally {
        await t.close();
      }
    },
  };
  const database = databases.get(t);
  if (database) databases.set(s, database);
  return s;
}

/** Ingests files synchronously in this process (as the operator unless `actor` is given). */
export async function ingestNow(
  kb: Kb & KbStores,
  files: { source: string; path: string; allow?: string[]; deny?: string[]; title?: string; classification?: number }[],
  actor: Actor = SYSTEM_ACTOR,
) {
  const { jobId, documents } = await kb.ingest.submit(actor, files);
  const workerId = `test-${process.pid}`;
  if (!(await kb.metadata.jobs.claimJob(jobId, workerId, STALE_MS))) {
    // An in-process worker took it: wait for it.
    for (;;) {
      const v = (await kb.jobs.view(jobId))!;
      if (!["queued", "running"].includes(v.status)) return { job: v, documents };
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { job: await kb.jobs.run(jobId, workerId), documents };
}

/** Writes files into a temp folder and returns their paths. */
export function writeFiles(dir: string, files: Record<string, string | Uint8Array>): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, content]) => {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    return p;
  });
}

export async function waitForJob(t: TestServer, token: string, jobId: string, timeoutMs = 60_000): Promise<any> {
  const start = Date.now();
  for (;;) {
    const res = await t.fetchAs(token, `/api/v1/jobs/${jobId}`);
    const body = (await res.json()) as any;
    if (!["queued", "running"].includes(body.status)) return body;
    if (Date.now() - start > timeoutMs) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An error body without its request id (random per request, src/http/middleware/observe.ts), for
 * tests that show two answers are alike (a hidden document and a missing one, failed sign-ins).
 */
export function withoutRequestId<T>(body: T): T {
  const b = body as { error?: { requestId?: string } } | null;
  if (!b?.error || typeof b.error !== "object") return body;
  const { requestId: _id, ...error } = b.error;
  return { ...b, error } as T;
}

/**
 * Raw rows of a SQL query on the knowledge base's metadata store, SQLite or PostgreSQL (tests
 * that check what is stored, e.g. a hash and never the token, or set up what no service writes,
 * e.g. an event from years ago; a statement without rows returns []). `?` placeholders; PostgreSQL's
 * jsonb columns come back parsed, SQLite's JSON columns as text.
 */
export async function sqlRows(kb: Kb & KbStores, text: string, ...params: unknown[]): Promise<Record<string, unknown>[]> {
  if (kb.metadataKind === "sqlite") {
    const statement = kb.db.$client.prepare(text);
    if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
    statement.run(...params); // INSERT, UPDATE, DELETE without RETURNING
    return [];
  }
  let n = 0;
  const pool = (kb.metadata as unknown as PgMetadataStore).handle.pool;
  return (await pool.query(text.replace(/\?/g, () => `$${++n}`), params)).rows as Record<string, unknown>[];
}

/** The metadata store's own tables (not the migrations' bookkeeping). */
export async function tableNames(kb: Kb & KbStores): Promise<string[]> {
  const rows =
    kb.metadataKind === "sqlite"
      ? await sqlRows(kb, "SELECT name FROM sqlite_master WHERE type = 'table'")
      : await sqlRows(kb, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
  return rows.map((r) => String(r.name));
}

/**
 * For tests that run `kb` processes on a data folder of their own: on PostgreSQL
 * (KB_TEST_DATABASE_URL), a fresh database for it, with the environment those processes need
 * and the override for openTestKb on the same folder; on SQLite, nothing to add.
 */
export async function storeForFolder(): Promise<{ env: Record<string, string>; overrides: Partial<Config>; drop(): Promise<void> }> {
  if (!process.env.KB_TEST_DATABASE_URL) return { env: {}, overrides: {}, drop: async () => {} };
  const database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL);
  return { env: { KB_DATABASE_URL: database.url }, overrides: { databaseUrl: database.url }, drop: () => database.drop() };
}
