/**
 * A data folder written by v0.1 (test/fixtures/v01-data, made by running v0.1's own code:
 * test/fixtures/make-v01-data.ts) opens with today's code, answers the searches v0.1 answered
 * (test/fixtures/v01-data.expected.json), and can be re-indexed (the stale-detector job a
 * worker submits at start, then `kb reindex`), answering the same afterwards.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as lancedb from "@lancedb/lancedb";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../src/domain/sensitive/index.ts";
import { startServer, type RunningServer } from "../src/http/server.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { CHUNK_LAYOUT_VERSION, layoutVersionOf, upgradeLayout, LAYOUT_STEPS } from "../src/stores/lance/layout.ts";
import { CHUNKS_TABLE } from "../src/stores/lance/chunk-store.ts";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { onPostgres, openTestKb } from "./helpers/kb.ts";

/**
 * On PostgreSQL (KB_TEST_DATABASE_URL) the tests of an old or moved SQLite data folder skip:
 * v0.1 and the layout-2 folders are SQLite files, a newer version's migration is recorded in
 * SQLite, and rebasing the stored paths of a moved folder is SQLite mode's (docs/architecture.md:
 * PostgreSQL replicas share the database, each with its own folder path). The SQLite pass runs them.
 */
const SQLITE_FOLDER_SKIP = onPostgres() ? "an old or moved SQLite data folder (v0.1, layout 2, a newer migration, rebased paths) has no PostgreSQL counterpart" : null;
if (SQLITE_FOLDER_SKIP) console.warn(`[upgrade-v01] skipped on PostgreSQL: ${SQLITE_FOLDER_SKIP}`);

const run = promisify(execFile);
const FIXTURE = path.resolve("test/fixtures/v01-data");
const EXPECTED = JSON.parse(fs.readFileSync(path.resolve("test/fixtures/v01-data.expected.json"), "utf8")) as {
  syncFolder: string;
  documents: { id: string; source: string; allow: string[]; deny: string[] }[];
  searches: { user: string; query: string; documentIds: string[] }[];
};
const docId = (source: string) => EXPECTED.documents.find((d) => d.source.endsWith(source))!.id;

/**
 * Searches whose answer changed on purpose since v0.1. hr-contact.txt holds a resident
 * registration number written with a dot ("850315.2345678"), which v0.1's personal-data
 * detector did not find, so v0.1 indexed its digits as words and a reader who sees personal
 * data masked (all three users here) could find the document by them, confirming the value.
 * Today's detector finds the number: before the re-index, hits reached through such a value are
 * dropped for masked readers (services/retrieval.ts, withoutHitsThroughValues); after it, the
 * value is no longer in the index as words at all. Either way: no result.
 */
const CHANGED_ON_PURPOSE = new Set(["2345678", "850315.2345678"]);

let dir: string;
let dataDir: string;

function configFor() {
  return loadConfig({}, { dataDir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent" });
}

async function open(): Promise<{ kb: Kb & KbStores; server: RunningServer; close(): Promise<void> }> {
  const kb = await openKb(configFor(), { logger: pino({ level: "silent" }) });
  const server = await startServer(kb, { port: 0, host: "127.0.0.1" });
  return {
    kb,
    server,
    async close() {
      await server.close();
      await kb.close();
    },
  };
}

/** Every recorded search, asked over HTTP as its user (v0.1's spelling of the name: "Kim" signs in as kim). */
async function searchAll(kb: Kb, url: string): Promise<{ user: string; query: string; documentIds: string[] }[]> {
  const tokens = new Map<string, string>();
  const out = [];
  for (const s of EXPECTED.searches) {
    if (!tokens.has(s.user)) tokens.set(s.user, (await kb.accounts.createToken(s.user)).token);
    const res = await fetch(`${url}/api/v1/search`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.get(s.user)}`, "content-type": "application/json" },
      body: JSON.stringify({ query: s.query, topK: 10 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { documentId: string }[] };
    out.push({ user: s.user, query: s.query, documentIds: body.results.map((r) => r.documentId) });
  }
  return out;
}

/** Chunk rows whose tags/version_at differ from their document's row in SQLite. */
async function scopeColumnsBySqlite(kb: Kb & KbStores): Promise<{ rows: number; mismatches: unknown[] }> {
  const docs = new Map((await kb.metadata.documents.all()).map((d) => [d.id, d]));
  const rows = await kb.chunks.list(null, ["chunk_id", "document_id", "ordinal", "tags", "version_at"]);
  const mismatches = rows.flatMap((r) => {
    const d = docs.get(String(r.document_id));
    const tags = Array.from(r.tags as Iterable<string>);
    return d && d.versionAt !== null && r.version_at === d.versionAt && tags.join(",") === d.tags.join(",") ? [] : [{ chunk: r.chunk_id, tags, versionAt: r.version_at, want: d && { tags: d.tags, versionAt: d.versionAt } }];
  });
  return { rows: rows.length, mismatches };
}

function expectSameAnswers(got: { user: string; query: string; documentIds: string[] }[]): void {
  const want = EXPECTED.searches.map((s) => (CHANGED_ON_PURPOSE.has(s.query) ? { ...s, documentIds: [] } : s));
  expect(got).toEqual(want);
}

async function waitForJob(kb: Kb, jobId: string): Promise<string> {
  for (;;) {
    const v = await kb.jobs.get(SYSTEM_ACTOR, jobId);
    if (!["queued", "running"].includes(v.status)) return v.status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-upgrade-"));
  dataDir = path.join(dir, "data");
  fs.cpSync(FIXTURE, dataDir, { recursive: true });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(SQLITE_FOLDER_SKIP)("a v0.1 data folder", () => {
  it("is a v0.1 folder: no layout version, no SQLite migrations past 0003, v0.1's recorded answers", async () => {
    const db = await lancedb.connect(path.join(dataDir, "lancedb"));
    const table = await db.openTable(CHUNKS_TABLE);
    expect(await layoutVersionOf(table)).toBe(1);
    table.close();
    db.close();
    // v0.1 could find hr-contact.txt by the digits of the number in it (see CHANGED_ON_PURPOSE).
    expect(EXPECTED.searches.find((s) => s.user === "Kim" && s.query === "2345678")!.documentIds).toEqual([docId("hr-contact.txt")]);
  });

  it("opens with today's code and answers the same searches", async () => {
    const t = await open();
    try {
      const { kb } = t;
      const sql = kb.db.$client;
      // SQLite: every migration applied, the identity backfill (0005) done.
      const journal = JSON.parse(fs.readFileSync(path.resolve("drizzle/sqlite/meta/_journal.json"), "utf8")) as { entries: unknown[] };
      expect((sql.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n).toBe(journal.entries.length);
      const identities = sql.prepare("SELECT source, identity_scope AS scope, identity_key AS key, sensitive_version AS sv FROM documents ORDER BY source").all();
      expect(identities).toEqual(
        EXPECTED.documents.map((d) =>
          d.source.startsWith(`${EXPECTED.syncFolder}/`)
            ? { source: d.source, scope: `sync:${EXPECTED.syncFolder}`, key: path.basename(d.source), sv: 0 }
            : { source: d.source, scope: "owner:system", key: d.source, sv: 0 },
        ),
      );
      // The stored originals: recorded under the folder v0.1 wrote them in, now under this one.
      const blobPaths = sql.prepare("SELECT blob_path AS p FROM documents").all() as { p: string }[];
      expect(blobPaths).toHaveLength(EXPECTED.documents.length);
      for (const { p } of blobPaths) {
        expect(p.startsWith(path.join(dataDir, "blobs") + path.sep)).toBe(true);
        expect(fs.existsSync(p)).toBe(true);
      }
      // Principal names canonicalized, in SQLite and in the chunk rows.
      expect((await kb.accounts.listUsers()).map((u) => [u.name, u.groups])).toEqual(
        expect.arrayContaining([
          ["kim", ["hr"]],
          ["lee", []],
          ["park", ["hr"]],
        ]),
      );
      const security = kb.documentsRepo.byId(docId("보안-정책.md"))!;
      expect([security.aclAllow, security.aclDeny]).toEqual([["group:hr"], ["user:kim"]]);
      const rows = await kb.chunks.rowsOf([security.id]);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect([r.allow, r.deny]).toEqual([["group:hr"], ["user:kim"]]);
      // The chunk table: upgraded in place to the current layout, nothing to re-index for it.
      expect(await kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
      expect(await kb.jobs.list(SYSTEM_ACTOR, { kind: ["reindex"] })).toEqual([]);
      // Layout 3's scope columns, filled from SQLite: the version's date (migration 0008 takes
      // the row's last update as the best date known) and the tags (none in v0.1's folder).
      expect(await scopeColumnsBySqlite(kb)).toEqual({ rows: (await kb.chunks.count()), mismatches: [] });
      const dates = sql.prepare("SELECT version_at AS v, updated_at AS u FROM documents").all() as { v: string; u: string }[];
      // (The principal-name migration changed some rows after it: their updated_at moved, the date of their content did not.)
      expect(dates.length).toBe(EXPECTED.documents.length);
      expect(dates.filter((d) => !(d.v <= d.u))).toEqual([]);

      expectSameAnswers(await searchAll(kb, t.server.url));
    } finally {
      await t.close();
    }
  });

  it("is re-indexed by the worker (older personal-data detector), then by `kb reindex`, answering the same", async () => {
    let t = await open();
    const datesBefore = t.kb.db.$client.prepare("SELECT id, version_at FROM documents ORDER BY id").all();
    try {
      await t.kb.startWorker({ schedules: false });
      const [job] = await t.kb.jobs.list(SYSTEM_ACTOR, { kind: ["reindex"] });
      expect(job).toBeDefined();
      expect(await waitForJob(t.kb, job!.id)).toBe("succeeded");
      // The rewritten rows join the full-text index at the next optimize (a worker runs it after
      // jobs); done here so the answers do not depend on whether it had run yet (see the fixture).
      await t.kb.jobs.optimizeNow();
      const versions = t.kb.db.$client.prepare("SELECT DISTINCT sensitive_version AS v FROM documents").all();
      expect(versions).toEqual([{ v: SENSITIVE_DETECTOR_VERSION }]);
      expect(await t.kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
      // A re-index rewrites the live version: its date (the date scope) stays.
      expect(t.kb.db.$client.prepare("SELECT id, version_at FROM documents ORDER BY id").all()).toEqual(datesBefore);
      expect((await scopeColumnsBySqlite(t.kb)).mismatches).toEqual([]);
      expectSameAnswers(await searchAll(t.kb, t.server.url));
    } finally {
      await t.close();
    }

    // `kb reindex` as an operator runs it (its own process), every document.
    const env = { ...process.env, KB_DATA_DIR: dataDir, KB_MODELS_DIR: path.join(dir, "models"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", KB_SYNC_SOURCES: "" };
    const { stdout } = await run(process.execPath, [path.resolve("bin/kb.js"), "reindex"], { env, timeout: 120_000 });
    expect(stdout).toMatch(/\(reindex\): succeeded/);

    t = await open();
    try {
      await t.kb.jobs.optimizeNow();
      expect(await t.kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
      expectSameAnswers(await searchAll(t.kb, t.server.url));
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(SQLITE_FOLDER_SKIP)("a data folder moved to another path", () => {
  it("ingests an upload queued before the move and re-indexes what was ingested before it", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "kb-moved-"));
    const config = (d: string) => loadConfig({}, { dataDir: d, modelsDir: path.join(base, "models"), embedModel: "none", logLevel: "silent" });
    try {
      let kb = await openKb(config(path.join(base, "before")), { logger: pino({ level: "silent" }) });
      const first = await kb.documents.upload(SYSTEM_ACTOR, [{ name: "first.txt", bytes: Buffer.from("apples grow in orchards") }], {});
      await kb.startWorker({ schedules: false });
      expect(await waitForJob(kb, first.jobId)).toBe("succeeded");
      await kb.close();
      kb = await openKb(config(path.join(base, "before")), { logger: pino({ level: "silent" }) });
      // Queued, no worker in this process: the job holds the blob's path under "before".
      const queued = await kb.documents.upload(SYSTEM_ACTOR, [{ name: "second.txt", bytes: Buffer.from("bananas ripen in the sun") }], {});
      await kb.close();

      fs.renameSync(path.join(base, "before"), path.join(base, "after"));
      kb = await openKb(config(path.join(base, "after")), { logger: pino({ level: "silent" }) });
      try {
        await kb.startWorker({ schedules: false });
        expect(await waitForJob(kb, queued.jobId)).toBe("succeeded");
        const reindex = await kb.jobs.submitReindex(SYSTEM_ACTOR);
        expect(await waitForJob(kb, reindex.jobId)).toBe("succeeded");
        const hits = await kb.retriever.retrieve(SYSTEM_ACTOR, "bananas apples", { topK: 5 });
        expect(new Set(hits.chunks.map((c) => c.documentId))).toEqual(new Set([first.documents[0]!.id, queued.documents[0]!.id]));
      } finally {
        await kb.close();
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe.skipIf(SQLITE_FOLDER_SKIP)("a data folder written by a newer version", () => {
  it("is refused, not migrated: its SQLite holds a migration this version does not ship", async () => {
    const newer = fs.mkdtempSync(path.join(os.tmpdir(), "kb-newer-"));
    try {
      fs.cpSync(FIXTURE, newer, { recursive: true });
      const sqlite = new Database(path.join(newer, "app.sqlite"));
      sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', ?)").run(Date.now() + 365 * 24 * 3600 * 1000);
      sqlite.close();
      const config = loadConfig({}, { dataDir: newer, modelsDir: path.join(newer, "models"), embedModel: "none", logLevel: "silent" });
      await expect(openKb(config, { logger: pino({ level: "silent" }) })).rejects.toThrow(/written by a newer version of kb/);
    } finally {
      fs.rmSync(newer, { recursive: true, force: true });
    }
  });
});

describe("chunk layout steps", () => {
  it("a new data folder's table is created at the current layout", async () => {
    const t = await openTestKb();
    try {
      expect(await t.kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
    } finally {
      await t.close();
    }
  });

  it("a step that needs a reindex submits it before stamping its version; a newer layout is refused", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kb-layout-"));
    try {
      fs.cpSync(path.join(FIXTURE, "lancedb"), tmp, { recursive: true });
      const db = await lancedb.connect(tmp);
      const table = await db.openTable(CHUNKS_TABLE);
      const submitted: { why: string; versionThen: number }[] = [];
      const steps = [...LAYOUT_STEPS, { from: 4, to: 5, what: "a test step", kind: "reindex" as const }];
      const documentFacts = async () => new Map<string, { tags: string[]; versionAt: string | null }>();
      const up = await upgradeLayout(table, { steps, documentFacts, submitReindex: async (why) => void submitted.push({ why, versionThen: await layoutVersionOf(table) }) });
      expect(up).toMatchObject({ from: 1, to: 5, steps: [{ from: 1, kind: "in-place" }, { from: 2, kind: "in-place" }, { from: 3, kind: "in-place" }, { from: 4, kind: "reindex" }] });
      expect(submitted).toEqual([{ why: "chunk layout 4 → 5: a test step", versionThen: 4 }]);
      expect(await layoutVersionOf(table)).toBe(5);
      // Today's code meets a table of layout 5: refused, not written to.
      await expect(upgradeLayout(table, { documentFacts, submitReindex: () => {} })).rejects.toThrow(/layout version 5, newer than this version of kb knows \(4\)/);
      table.close();
      db.close();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

/** Turns a data folder's chunk table into an older layout: the columns that layout lacked dropped, its version recorded. */
async function makeOlderLayout(dataDir: string, version: number, dropColumns: string[]): Promise<void> {
  const db = await lancedb.connect(path.join(dataDir, "lancedb"));
  const table = await db.openTable(CHUNKS_TABLE);
  await table.dropColumns(dropColumns);
  await table.updateFieldMetadata([{ path: "chunk_id", metadata: { "private_kb.layout": String(version) } }]);
  expect(await layoutVersionOf(table)).toBe(version);
  table.close();
  db.close();
}

async function layoutOnDisk(dataDir: string): Promise<number> {
  const db = await lancedb.connect(path.join(dataDir, "lancedb"));
  const table = await db.openTable(CHUNKS_TABLE);
  try {
    return await layoutVersionOf(table);
  } finally {
    table.close();
    db.close();
  }
}

describe.skipIf(SQLITE_FOLDER_SKIP)("a data folder of chunk layout 2 (the version before the scope columns)", () => {
  it("gets tags and version_at from SQLite in place (no re-index), and tag/date scopes answer from them", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kb-layout2-"));
    const config = loadConfig({}, { dataDir: tmp, modelsDir: path.join(tmp, "models"), embedModel: "none", logLevel: "silent" });
    try {
      const docs = path.join(tmp, "docs");
      fs.mkdirSync(docs);
      fs.writeFileSync(path.join(docs, "leave.md"), "# 연차\n\n휴가는 매년 15일입니다.\n");
      fs.writeFileSync(path.join(docs, "notice.md"), "# 공지\n\n휴가 신청 안내.\n");
      let kb = await openKb(config, { logger: pino({ level: "silent" }) });
      const { jobId, documents } = await kb.ingest.submit(SYSTEM_ACTOR, [
        { source: path.join(docs, "leave.md"), path: path.join(docs, "leave.md"), tags: ["hr", "규정"] },
        { source: path.join(docs, "notice.md"), path: path.join(docs, "notice.md") },
      ] as never);
      await kb.jobs.runHere(jobId);
      const [leave, notice] = documents.map((d: { id: string }) => d.id) as [string, string];
      await kb.close();

      // What layout 2 was: the same table without the two columns, version 2 recorded.
      await makeOlderLayout(tmp, 2, ["tags", "version_at"]);

      kb = await openKb(config, { logger: pino({ level: "silent" }) });
      try {
        expect(await kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
        expect(await kb.jobs.list(SYSTEM_ACTOR, { kind: ["reindex"] })).toEqual([]);
        const check = await scopeColumnsBySqlite(kb);
        expect(check.mismatches).toEqual([]);
        expect(check.rows).toBeGreaterThanOrEqual(2);
        const ids = async (scope: Record<string, string>) => (await kb.retriever.retrieve(SYSTEM_ACTOR, "휴가", { topK: 10, scope })).chunks.map((c) => c.documentId);
        expect(await ids({ tag: "규정" })).toEqual([leave]);
        expect((await ids({ updatedSince: "2000-01-01T00:00:00Z" })).sort()).toEqual([leave, notice].sort());
        expect(await ids({ updatedSince: "2999-01-01T00:00:00Z" })).toEqual([]);
      } finally {
        await kb.close();
      }
      // Opened again: nothing left to do.
      expect(await layoutOnDisk(tmp)).toBe(CHUNK_LAYOUT_VERSION);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe.skipIf(SQLITE_FOLDER_SKIP)("a data folder of chunk layout 3 (the version before the context column)", () => {
  it("gets an empty context column in place (no re-index, a warning to run one), answers as before, and a reindex job fills it", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kb-layout3-"));
    // With the fixture embedding model: a table with vectors, whose chunks a reindex re-embeds.
    const config = loadConfig({}, { dataDir: tmp, modelsDir: process.env.KB_TEST_EMBED_MODELS_DIR!, embedModel: process.env.KB_TEST_EMBED_MODEL!, logLevel: "silent" });
    const warnings: string[] = [];
    const logger = () => pino({ level: "warn" }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    try {
      const docs = path.join(tmp, "인사팀", "규정");
      fs.mkdirSync(docs, { recursive: true });
      fs.writeFileSync(path.join(docs, "leave.md"), "# 연차\n\n휴가는 매년 15일입니다.\n");
      let kb = await openKb(config, { logger: logger() });
      const { jobId, documents } = await kb.ingest.submit(SYSTEM_ACTOR, [{ source: path.join(docs, "leave.md"), path: path.join(docs, "leave.md") }] as never);
      await kb.jobs.runHere(jobId);
      const [leave] = documents.map((d: { id: string }) => d.id) as [string];
      const [written] = await kb.chunks.rowsOf([leave], true);
      expect(written!.context).toMatch(/인사팀 규정$/);
      await kb.close();
      expect(warnings.filter((w) => w.includes("kb reindex"))).toEqual([]);

      // As layout 3 wrote it: no context column. (The vectors stay today's: that a reindex
      // re-embeds rows written without the context is test/document-context.test.ts's.)
      await makeOlderLayout(tmp, 3, ["context"]);

      kb = await openKb(config, { logger: logger() });
      try {
        expect(await kb.chunks.layoutVersion()).toBe(CHUNK_LAYOUT_VERSION);
        expect(await kb.jobs.list(SYSTEM_ACTOR, { kind: ["reindex"] })).toEqual([]);
        expect(warnings.filter((w) => w.includes("kb reindex"))).toHaveLength(1);
        expect((await kb.chunks.rowsOf([leave])).map((r) => r.context)).toEqual([null]);
        expect((await kb.retriever.retrieve(SYSTEM_ACTOR, "휴가", { topK: 5 })).chunks.map((c) => c.documentId)).toEqual([leave]);
        const reindex = await kb.jobs.submitReindex(SYSTEM_ACTOR);
        expect((await kb.jobs.runHere(reindex.jobId))?.counts).toEqual({ succeeded: 1 });
        const [again] = await kb.chunks.rowsOf([leave], true);
        expect(again!.context).toBe(written!.context);
        expect(Array.from(again!.vector!)).toEqual(Array.from(written!.vector!));
      } finally {
        await kb.close();
      }
      expect(await layoutOnDisk(tmp)).toBe(CHUNK_LAYOUT_VERSION);
      // Opened again: nothing to upgrade, nothing to advise.
      kb = await openKb(config, { logger: logger() });
      await kb.close();
      expect(warnings.filter((w) => w.includes("kb reindex"))).toHaveLength(1);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
