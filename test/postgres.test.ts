/**
 * PostgreSQL specifics of the metadata store (the rest of the suite runs on it with
 * KB_TEST_DATABASE_URL set): job claims with SKIP LOCKED, migrations on an empty database, and
 * the URL's password kept out of logs and errors. Skips with the reason when no server answers.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { loadConfig } from "../src/config.ts";
import { openKb } from "../src/services/container.ts";
import { openPg, pgMigrationsFolder, redactUrl } from "../src/stores/pg/db.ts";
import { PgMetadataStore } from "../src/stores/pg/metadata-store.ts";
import * as pgSchema from "../src/stores/pg/schema.ts";
import { createTestDatabase, pgUnavailable, type TestDatabase } from "./helpers/pg.ts";
import { ingestNow, startTestServer } from "./helpers/kb.ts";
import { backup, doctor, restore } from "../src/services/maintenance.ts";
import { DUMP_ORDER } from "../src/stores/pg/dump.ts";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import type { Kb, KbStores } from "../src/services/container.ts";

const serverUrl = process.env.KB_TEST_DATABASE_URL;
const unavailable = await pgUnavailable(serverUrl);
if (unavailable) console.warn(`test/postgres.test.ts skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)("PostgreSQL metadata store", () => {
  const databases: TestDatabase[] = [];
  const fresh = async () => {
    const d = await createTestDatabase(serverUrl!);
    databases.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of databases) await d.drop();
  });

  it("applies the migrations to an empty database: every table of the schema module, recorded once; reopening changes nothing", async () => {
    const d = await fresh();
    const first = await openPg(d.url, { max: 2 });
    await first.close();
    const second = await openPg(d.url, { max: 2 });
    try {
      const tables = (await second.pool.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")).rows.map((r) => r.table_name as string);
      const expected = Object.values(pgSchema)
        .filter((t) => is(t, PgTable))
        .map((t) => getTableConfig(t as PgTable).name);
      expect(tables.sort()).toEqual(expected.sort());
      const journal = JSON.parse(fs.readFileSync(path.join(pgMigrationsFolder, "meta/_journal.json"), "utf8")) as { entries: unknown[] };
      const applied = (await second.pool.query("SELECT count(*) AS n FROM drizzle.__drizzle_migrations")).rows[0].n;
      expect(applied).toBe(journal.entries.length);
      // The hand-written trigger: a deleted user's conversations go with them.
      await second.pool.query("INSERT INTO users (id, name) VALUES ('u1', 'kim')");
      await second.pool.query("INSERT INTO conversations (id, owner_id, title) VALUES ('c1', 'u1', 't')");
      await second.pool.query("DELETE FROM users WHERE id = 'u1'");
      expect((await second.pool.query("SELECT count(*) AS n FROM conversations")).rows[0].n).toBe(0);
    } finally {
      await second.close();
    }
  });

  describe("job claims", () => {
    let d: TestDatabase;
    let a: PgMetadataStore;
    let b: PgMetadataStore;
    beforeAll(async () => {
      d = await fresh();
      a = new PgMetadataStore(await openPg(d.url, { max: 4 }));
      b = new PgMetadataStore(await openPg(d.url, { max: 4 }));
    });
    afterAll(async () => {
      await a.close();
      await b.close();
    });

    it("skips a job another transaction holds instead of waiting for it", async () => {
      await a.jobs.create({ id: "job_1", kind: "ingest", createdBy: null });
      await a.jobs.create({ id: "job_2", kind: "ingest", createdBy: null });
      const holder = new pg.Client({ connectionString: d.url });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT id FROM jobs WHERE id = 'job_1' FOR UPDATE");
        // job_1 is the oldest and claimable, but locked: the claim takes job_2 at once.
        expect(await b.jobs.claim("worker-b", 60_000)).toBe("job_2");
        expect(await b.jobs.claimJob("job_1", "worker-b", 60_000)).toBe(false);
        await holder.query("ROLLBACK");
        expect(await b.jobs.claim("worker-b", 60_000)).toBe("job_1");
      } finally {
        await holder.end();
      }
    });

    it("two workers claiming concurrently never get the same job, and together get every job", async () => {
      const ids = Array.from({ length: 60 }, (_, i) => `job_c${String(i).padStart(2, "0")}`);
      for (const id of ids) await a.jobs.create({ id, kind: "reindex", createdBy: null });
      const drain = async (store: PgMetadataStore, worker: string) => {
        const got: string[] = [];
        for (;;) {
          // Several claims in flight per worker, as several pool connections.
          const batch = await Promise.all([0, 1, 2].map(() => store.jobs.claim(worker, 60_000, ["reindex"])));
          const claimed = batch.filter((x): x is string => x !== undefined);
          got.push(...claimed);
          if (claimed.length === 0) return got;
        }
      };
      const [gotA, gotB] = await Promise.all([drain(a, "worker-a"), drain(b, "worker-b")]);
      const all = [...gotA, ...gotB];
      expect(new Set(all).size).toBe(all.length); // no job twice
      expect(all.sort()).toEqual(ids);
      expect(gotA.length).toBeGreaterThan(0);
      expect(gotB.length).toBeGreaterThan(0);
      for (const id of gotA) expect((await b.jobs.byId(id))!.workerId).toBe("worker-a");
      for (const id of gotB) expect((await a.jobs.byId(id))!.workerId).toBe("worker-b");
    });
  });

  describe("kb backup / kb restore", () => {
    it("copies every table from one snapshot while the server writes, and restores an identical knowledge base into an empty database", async () => {
      const s = await startTestServer();
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pg-backup-"));
      const dest = path.join(root, "backup");
      const target = path.join(root, "data");
      const into = await fresh();
      const ingest = async (name: string, text: string) => {
        const file = path.join(root, "src", name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        expect((await ingestNow(s.kb, [{ source: name, path: file }])).job.status).toBe("succeeded");
      };
      const state = async (kb: Kb & KbStores) => ({
        docs: (await kb.metadata.documents.all()).map((d) => ({ id: d.id, source: d.source, version: d.version, status: d.status, acl: d.aclAllow, chunks: d.chunkCount, blob: d.blobPath && path.basename(d.blobPath) })),
        users: (await kb.metadata.users.list()).map((u) => u.name),
        search: (await kb.retriever.retrieve(SYSTEM_ACTOR, "annual leave days", { topK: 5 })).chunks.map((c) => `${c.documentId}#${c.ordinal}`),
      });
      try {
        await ingest("leave.md", "# Annual leave\n\nEmployees receive fifteen days of annual leave after one year.");
        await ingest("remote.md", "# Remote work\n\nRemote work is allowed two days a week with approval.");
        await s.kb.accounts.createUser({ name: "kim", role: "viewer" });
        const before = await state(s.kb);
        const [manifest] = await Promise.all([
          backup(s.dir, dest, () => {}, { databaseUrl: s.kb.config.databaseUrl }),
          ingest("parking.md", "# Parking\n\nThe visitor car park closes at nine in the evening."),
        ]);
        expect(manifest.formatVersion).toBe(2);
        expect(manifest.sqlite).toBeUndefined();
        expect(manifest.postgres!.tables.map((t) => t.name).sort()).toEqual(DUMP_ORDER.map((t) => getTableConfig(t).name).sort());
        expect(DUMP_ORDER.length).toBe(Object.values(pgSchema).filter((t) => is(t, PgTable)).length);
        expect(manifest.documents).toBeGreaterThanOrEqual(2);
        const auditRows = manifest.postgres!.tables.find((t) => t.name === "audit_events")!.rows;
        expect(auditRows).toBeGreaterThan(0);

        const config = (url: string) => loadConfig({}, { dataDir: target, modelsDir: path.join(target, "models"), embedModel: "none", logLevel: "silent", databaseUrl: url });
        // The serving database is not empty: refused, nothing written there.
        await expect(restore(dest, config(s.kb.config.databaseUrl!))).rejects.toThrow(/not empty/);
        fs.rmSync(target, { recursive: true, force: true });
        const r = await restore(dest, config(into.url));
        // A document whose job was writing it at snapshot time is left to that job (the repair does
        // not touch documents of active jobs): then that is the only finding, and the job ends it.
        const failing = r.doctor.findings.filter((f) => !f.ok);
        if (failing.length) expect(failing.map((f) => f.check)).toEqual(["index consistency"]);
        const kb = await openKb(config(into.url), { logger: pino({ level: "silent" }) });
        try {
          if (failing.length) {
            expect((await kb.metadata.jobs.documentsInActiveJobs()).size).toBeGreaterThan(0);
            await kb.startWorker({ schedules: false });
            while ((await kb.metadata.jobs.list({ status: ["queued", "running"] })).length) await new Promise((res) => setTimeout(res, 100));
          }
          const after = await state(kb);
          expect(after.docs.filter((d) => d.source !== "parking.md")).toEqual(before.docs);
          expect(after.docs).toHaveLength(manifest.documents);
          expect(after.users).toEqual(before.users);
          expect(after.search).toEqual(before.search);
          for (const d of await kb.metadata.documents.all()) if (d.status === "ready") expect(d.blobPath!.startsWith(path.join(target, "blobs") + path.sep)).toBe(true);
          // Identity columns continue after the restored rows.
          const restored = await kb.metadata.audit.query({ limit: 10_000 });
          expect(restored.length).toBeGreaterThanOrEqual(auditRows);
          await kb.metadata.audit.append({ action: "test.after-restore" });
          const [newest] = await kb.metadata.audit.query({ limit: 1 });
          expect(newest!.action).toBe("test.after-restore");
          expect(newest!.id).toBeGreaterThan(Math.max(...restored.map((e) => e.id)));
        } finally {
          await kb.close();
        }
        // (Not "permissions": files LanceDB wrote while the worker ran are tightened at the next start, as in SQLite mode.)
        expect((await doctor(config(into.url))).findings.filter((f) => !f.ok && f.check !== "permissions")).toEqual([]);
      } finally {
        await s.close();
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe("the URL's password", () => {
    const password = "s3cret-Pa55-never-shown";

    it("is not in the error when the server refuses it", async () => {
      const u = new URL(serverUrl!);
      u.password = password;
      const err = await openPg(u.toString(), { max: 1 }).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(/password authentication failed|no password|authentication/i);
      expect(String(err!.message) + String((err as { cause?: Error }).cause?.message)).not.toContain(password);
      expect(redactUrl(u.toString())).not.toContain(password);
    });

    it("is not in the log of a knowledge base that opens with it (read from KB_DATABASE_URL_FILE)", async () => {
      const d = await fresh();
      const role = `kb_role_${Math.random().toString(36).slice(2, 8)}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pg-secret-"));
      try {
        await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
        await admin.query(`ALTER DATABASE ${d.name} OWNER TO ${role}`);
        const u = new URL(d.url);
        u.username = role;
        u.password = password;
        const file = path.join(dir, "database-url");
        fs.writeFileSync(file, `${u.toString()}\n`, { mode: 0o600 });
        const config = loadConfig({ KB_DATABASE_URL_FILE: file, KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none" });
        expect(config.databaseUrl).toBe(u.toString());
        let logged = "";
        const sink = new Writable({
          write(chunk, _enc, done) {
            logged += String(chunk);
            done();
          },
        });
        const kb = await openKb(config, { logger: pino({ level: "trace" }, sink) });
        try {
          expect(kb.metadataKind).toBe("postgres");
          await kb.accounts.createUser({ name: "kim", role: "viewer" });
        } finally {
          await kb.close();
        }
        expect(logged).toContain("metadata store: PostgreSQL");
        expect(logged).toContain(role); // the database is named…
        expect(logged).not.toContain(password); // …never with its password
      } finally {
        await d.drop();
        databases.splice(databases.indexOf(d), 1);
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
        await admin.end();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("keeps one audit hash chain across stores appending at once, names an edited row, and stays verifiable after a purge", async () => {
    const d = await fresh();
    // Two stores on two pools: as two processes (a server and a worker) appending at once.
    const [a, b] = [new PgMetadataStore(await openPg(d.url, { max: 4 })), new PgMetadataStore(await openPg(d.url, { max: 4 }))];
    const kb = await openKb(loadConfig({}, { dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "kb-pg-audit-")), embedModel: "none", logLevel: "silent", databaseUrl: d.url }), {
      logger: pino({ level: "silent" }),
    });
    try {
      await Promise.all([
        ...Array.from({ length: 40 }, (_, i) => a.audit.append({ actor: "user:a", action: "test.a", details: { i, 한글: "값" } })),
        ...Array.from({ length: 40 }, (_, i) => b.audit.append({ actor: "user:b", action: "test.b", details: { i } })),
      ]);
      const rows = await a.audit.chain(0, 1000);
      expect(rows.filter((r) => r.action.startsWith("test.")).length).toBe(80);
      expect(rows.every((r) => typeof r.hash === "string" && r.hash.length === 64)).toBe(true);
      expect((await kb.audit.verify(SYSTEM_ACTOR)).ok).toBe(true);
      // An edit made in the database directly is named at its row.
      const victim = rows[30]!.id;
      await a.handle.pool.query("UPDATE audit_events SET actor = 'user:mallory' WHERE id = $1", [victim]);
      const broken = await kb.audit.verify(SYSTEM_ACTOR);
      expect(broken.ok).toBe(false);
      expect(broken.broken?.id).toBe(victim);
      await a.handle.pool.query("UPDATE audit_events SET actor = $2 WHERE id = $1", [victim, rows[30]!.actor]);
      // Retention: the oldest rows go, the anchor keeps the rest verifiable.
      await a.handle.pool.query("UPDATE audit_events SET at = '2000-01-01T00:00:00.000Z' WHERE id <= $1", [rows[19]!.id]);
      expect(await a.audit.purgeBefore("2001-01-01T00:00:00.000Z")).toBe(20);
      expect(await a.audit.chainAnchor()).toEqual({ id: rows[19]!.id, hash: rows[19]!.hash });
      expect((await kb.audit.verify(SYSTEM_ACTOR)).ok).toBe(true);
    } finally {
      await kb.close();
      await a.close();
      await b.close();
    }
  });
});
