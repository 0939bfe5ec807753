/**
 * Document identity in the store (issue 10, finding 1): folder syncs name their documents by
 * root + relative path; a v0.1 data folder (unique sources, no identity columns) migrates so
 * its syncs keep updating and deleting their own documents; commands that take a document by
 * source answer with the candidates when several documents share it.
 */
import { runKb } from "./helpers/cli.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import pino from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { registerAdminCommands } from "../src/cli/commands/admin.ts";
import { loadConfig } from "../src/config.ts";
import { openKb, type Kb } from "../src/services/container.ts";
import { sha256Hex } from "../src/stores/ids.ts";
import { ingestNow, onPostgres, openTestKb, storeForFolder, writeFiles, type TestKb } from "./helpers/kb.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function runNow(kb: Kb, jobId: string) {
  const job = await kb.jobs.runHere(jobId);
  expect(job).toBeDefined();
  return job!;
}

async function sync(kb: Kb, folder: string) {
  return runNow(kb, (await kb.jobs.submitSync(SYSTEM_ACTOR, { folder })).jobId);
}

describe("folder sync identity", () => {
  it("names documents by root + relative path: other roots and same-named uploads are separate documents", async () => {
    const t: TestKb = await openTestKb();
    cleanups.push(() => t.close());
    const { kb } = t;
    const a = path.join(t.dir, "share-a");
    const b = path.join(t.dir, "share-b");
    writeFiles(a, { "policy.md": "# Policy A\n\nTravel is booked through the portal.", "sub/x.md": "# X\n\nA nested file in share a." });
    writeFiles(b, { "policy.md": "# Policy B\n\nParking is free on weekends." });
    expect((await sync(kb, a)).status).toBe("succeeded");
    expect((await sync(kb, b)).status).toBe("succeeded");
    const inA = await kb.metadata.documents.inScope(`sync:${a}`);
    expect(inA.map((d) => d.identityKey)).toEqual(["policy.md", path.join("sub", "x.md")]);
    const inB = await kb.metadata.documents.inScope(`sync:${b}`);
    expect(inB.map((d) => d.identityKey)).toEqual(["policy.md"]);

    // An operator's ingestion of a file of share a is the operator's document, not the sync's.
    const { documents } = await ingestNow(kb, [{ source: path.join(a, "policy.md"), path: path.join(a, "policy.md") }]);
    expect(documents[0]!.id).not.toBe(inA[0]!.id);

    // Changing and removing files updates and deletes only the sync's own documents.
    fs.writeFileSync(path.join(a, "policy.md"), "# Policy A\n\nTravel is booked through the new portal.");
    fs.rmSync(path.join(a, "sub"), { recursive: true });
    const job = await sync(kb, a);
    expect(job.files.map((f) => [f.documentId, f.action ?? "ingest", f.status])).toEqual([
      [inA[0]!.id, "ingest", "succeeded"],
      [inA[1]!.id, "delete", "succeeded"],
    ]);
    expect((await kb.metadata.documents.byId(inA[0]!.id))!.version).toBe(2);
    expect((await kb.metadata.documents.byId(documents[0]!.id))!.version).toBe(1);
    expect((await kb.metadata.documents.byId(inB[0]!.id))!.version).toBe(1);
  });
});

describe("updates by id", () => {
  it("hold If-Match at write time: of two updates accepted against version 1, the second one fails with version_conflict", async () => {
    const t: TestKb = await openTestKb();
    cleanups.push(() => t.close());
    const { kb } = t;
    await kb.accounts.createUser({ name: "alice", role: "editor" });
    const alice = await kb.accounts.actorByName("alice");
    const bytes = (s: string) => new TextEncoder().encode(s);
    const first = await kb.documents.upload(alice, [{ name: "memo.md", bytes: bytes("# Memo\n\nVersion one.") }], {});
    expect((await runNow(kb, first.jobId)).status).toBe("succeeded");
    const id = first.documents[0]!.id;
    const a = await kb.documents.upload(alice, [{ name: "memo-a.md", bytes: bytes("# Memo\n\nEdit A.") }], {}, { documentId: id, expectedVersion: 1 });
    const b = await kb.documents.upload(alice, [{ name: "memo-b.md", bytes: bytes("# Memo\n\nEdit B.") }], {}, { documentId: id, expectedVersion: 1 });
    expect([a.documents[0]!.id, b.documents[0]!.id]).toEqual([id, id]);
    expect((await runNow(kb, a.jobId)).status).toBe("succeeded");
    const lost = await runNow(kb, b.jobId);
    expect(lost.files[0]).toMatchObject({ documentId: id, status: "failed", errorCode: "version_conflict" });
    expect((await kb.metadata.documents.byId(id))!.version).toBe(2);
    expect((await kb.documents.text(alice, id)).pages[0]!.text).toContain("Edit A");
    // Submitting against the old version now is refused at once.
    await expect(kb.documents.upload(alice, [{ name: "memo.md", bytes: bytes("late") }], {}, { documentId: id, expectedVersion: 1 })).rejects.toThrow(/version 2, not 1/);
  });
});

// v0.1 wrote SQLite only: its upgrade is SQLite's (the same test runs in the SQLite pass).
const V01_SKIP = onPostgres() ? "a v0.1 data folder is a SQLite file: its migration has no PostgreSQL counterpart (covered by the SQLite pass)" : null;
if (V01_SKIP) console.warn(`[document-identity-store] skipped on PostgreSQL: ${V01_SKIP}`);

describe.skipIf(V01_SKIP)("a v0.1 data folder", () => {
  it("migrates: sync documents keep their sync, uploads their owner, and nothing is duplicated", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-identity-migration-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    // The migrations of v0.1 (everything before document identity).
    const oldMigrations = path.join(dir, "drizzle-v0.1");
    fs.cpSync(path.resolve("drizzle/sqlite"), oldMigrations, { recursive: true });
    const journalFile = path.join(oldMigrations, "meta", "_journal.json");
    const journal = JSON.parse(fs.readFileSync(journalFile, "utf8"));
    const identityIdx = journal.entries.findIndex((e: { tag: string }) => e.tag.endsWith("_document_identity"));
    expect(identityIdx).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, identityIdx);
    fs.writeFileSync(journalFile, JSON.stringify(journal));

    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir);
    const share = path.join(dir, "share");
    const [kept, gone, nested] = writeFiles(share, { "kept.md": "# Kept\n\nThe kept file.", "gone.md": "# Gone\n\nRemoved later.", "team/deep.md": "# Deep\n\nIn a nested sync root." });
    const sqlite = new Database(path.join(dataDir, "app.sqlite"));
    migrate(drizzle(sqlite), { migrationsFolder: oldMigrations });
    const insertJob = sqlite.prepare("INSERT INTO jobs (id, kind, status, params) VALUES (?, 'sync', 'succeeded', ?)");
    insertJob.run("job_old1", JSON.stringify({ folder: share, owner: null, planned: true }));
    insertJob.run("job_old2", JSON.stringify({ folder: path.join(share, "team"), owner: null, planned: true }));
    const insertDoc = sqlite.prepare(
      "INSERT INTO documents (id, source, title, status, owner, acl_allow, acl_deny, content_hash, version, size_bytes, source_mtime_ms) VALUES (?, ?, ?, 'ready', ?, '[\"group:everyone\"]', '[]', ?, 1, ?, ?)",
    );
    const legacy = (id: string, source: string, owner: string | null, file?: string) => {
      const bytes = file ? fs.readFileSync(file) : Buffer.from(source);
      insertDoc.run(id, source, path.basename(source), owner, sha256Hex(bytes), bytes.length, file ? Math.trunc(fs.statSync(file).mtimeMs) : null);
    };
    legacy("doc_kept", kept!, null, kept);
    legacy("doc_gone", gone!, "user:root", gone);
    legacy("doc_deep", nested!, null, nested);
    legacy("doc_upload", "report.md", "user:alice");
    legacy("doc_cli", "/home/operator/notes.md", null);
    sqlite.close();
    fs.rmSync(gone!);

    const kb = await openKb(loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "silent" }), { logger: pino({ level: "silent" }) });
    cleanups.push(() => kb.close());
    const identity = async (id: string) => {
      const d = (await kb.metadata.documents.byId(id))!;
      return [d.identityScope, d.identityKey];
    };
    expect(await identity("doc_kept")).toEqual([`sync:${share}`, "kept.md"]);
    expect(await identity("doc_gone")).toEqual([`sync:${share}`, "gone.md"]);
    expect(await identity("doc_deep")).toEqual([`sync:${path.join(share, "team")}`, "deep.md"]); // the longest synced folder
    expect(await identity("doc_upload")).toEqual(["owner:user:alice", "report.md"]);
    expect(await identity("doc_cli")).toEqual(["owner:system", "/home/operator/notes.md"]);

    // The sync of the share still owns its documents: kept is re-read in place, gone is deleted, nothing new.
    const job = await sync(kb, share);
    expect(job.files.map((f) => [f.source, f.documentId, f.action ?? "ingest"])).toEqual([
      [kept, "doc_kept", "ingest"],
      [path.join(share, "team", "deep.md"), expect.stringMatching(/^doc_/), "ingest"],
      [gone, "doc_gone", "delete"],
    ]);
    expect(job.files[1]!.documentId).not.toBe("doc_deep"); // share/team's own sync keeps that one
    expect(await kb.metadata.documents.byId("doc_gone")).toBeUndefined();
    // A re-upload by alice under the same name updates her document; bob's is a new one.
    await kb.accounts.createUser({ name: "alice", role: "editor" });
    await kb.accounts.createUser({ name: "bob", role: "editor" });
    const [file] = writeFiles(path.join(dir, "up"), { "report.md": "# Report\n\nThe new report." });
    expect((await kb.ingest.submit(await kb.accounts.actorByName("alice"), [{ source: "report.md", path: file! }])).documents[0]!.id).toBe("doc_upload");
    expect((await kb.ingest.submit(await kb.accounts.actorByName("bob"), [{ source: "report.md", path: file! }])).documents[0]!.id).not.toBe("doc_upload");
  });
});

describe("commands that take a document by source", () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  async function cli(...args: string[]): Promise<string> {
    return runKb([registerAdminCommands], args);
  }

  it("answer with the candidates when a source names several documents", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-identity-cli-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
    cleanups.push(() => store.drop());
    Object.assign(process.env, { KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent", ...store.env });
    const kb = await openKb(loadConfig(process.env), { logger: pino({ level: "silent" }) });
    let ids: string[];
    let single: string;
    try {
      await kb.accounts.createUser({ name: "alice", role: "editor" });
      await kb.accounts.createUser({ name: "bob", role: "editor" });
      const [shared, other] = writeFiles(path.join(dir, "files"), { "plan.md": "# Plan\n\nThe plan.", "solo.md": "# Solo\n\nOnly one." });
      ids = [];
      for (const user of ["alice", "bob"]) {
        const { documents } = await ingestNow(kb, [{ source: "plan.md", path: shared! }], await kb.accounts.actorByName(user));
        ids.push(documents[0]!.id);
      }
      single = (await ingestNow(kb, [{ source: "solo.md", path: other! }], await kb.accounts.actorByName("alice"))).documents[0]!.id;
      expect(new Set(ids).size).toBe(2);
      // The admin API: 409 with the candidates.
      let err: any;
      try {
        await kb.access.explain(SYSTEM_ACTOR, "bob", "plan.md");
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ status: 409, code: "ambiguous_document" });
      expect(err.details.candidates.map((c: any) => c.id).sort()).toEqual([...ids].sort());
    } finally {
      await kb.close();
    }

    await expect(cli("acl", "set", "plan.md", "--allow", "user:alice")).rejects.toThrow(new RegExp(`names 2 documents; give one of these ids:\\n[\\s\\S]*${ids[0]}[\\s\\S]*owner=user:alice`));
    await expect(cli("policy", "explain", "--as", "bob", "plan.md")).rejects.toThrow(/names 2 documents/);
    // A source one document has, or an id, still works.
    expect(await cli("policy", "explain", "--as", "bob", "solo.md")).toContain(`read ${single}`);
    expect(await cli("acl", "set", ids[1]!, "--allow", "user:bob")).toContain(`${ids[1]}:`);
  });
});
