/**
 * A damaged data folder stops start-up with a clear message; `kb doctor` finds the damage and
 * repairs a chunk table by returning it to its last good version; `kb backup` runs beside a
 * serving knowledge base and `kb restore` rebuilds an identical one in an empty folder.
 * Everything real: SQLite and LanceDB files in temp folders, the real container and server.
 * With KB_TEST_DATABASE_URL the metadata store is PostgreSQL (a database per knowledge base):
 * the tests of a damaged SQLite file skip then, the others run on it.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../src/config.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { DataDamagedError } from "../src/services/data-damage.ts";
import { backup, doctor, restore } from "../src/services/maintenance.ts";
import { manifests, tableDir } from "../src/stores/lance/table-files.ts";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, onPostgres, openTestKb, startTestServer, storeForFolder } from "./helpers/kb.ts";

const cleanup: (string | (() => Promise<void>))[] = [];
afterEach(async () => {
  for (const d of cleanup.splice(0)) {
    if (typeof d === "string") fs.rmSync(d, { recursive: true, force: true });
    else await d();
  }
});
/** Why the tests of a damaged SQLite file do not run on PostgreSQL. */
const SQLITE_FILE_SKIP = onPostgres() ? "they damage app.sqlite, which a PostgreSQL store does not have (the SQLite pass runs them)" : null;
if (SQLITE_FILE_SKIP) console.warn(`[backup-doctor] the damaged-SQLite tests skip on PostgreSQL: ${SQLITE_FILE_SKIP}`);
/** A metadata store for a folder of the test's own (PostgreSQL: a new database, dropped after the test). */
async function storeFor(): Promise<Partial<Config>> {
  const store = await storeForFolder();
  cleanup.push(() => store.drop());
  return store.overrides;
}
const tmpDir = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanup.push(d);
  return d;
};
const configFor = (dataDir: string, store: Partial<Config> = {}): Config => loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "silent", ...store });
const open = (dataDir: string, store: Partial<Config> = {}) => openKb(configFor(dataDir, store), { logger: pino({ level: "silent" }) });

const DOCS: Record<string, string> = {
  "leave.md": "# Annual leave\n\nEmployees receive fifteen days of annual leave after one year.",
  "remote.md": "# Remote work\n\nRemote work is allowed two days a week with approval.",
  "travel.md": "# Travel expenses\n\nTravel expenses are reimbursed within thirty days of the trip.",
  "parking.md": "# Parking\n\nThe visitor car park closes at nine in the evening.",
};
const FIRST_THREE = ["leave.md", "remote.md", "travel.md"];

/** Ingests each file in its own job, so each is its own chunk table version. */
async function ingestEach(kb: Kb & KbStores, dir: string, names = FIRST_THREE) {
  for (const name of names) {
    const file = path.join(dir, "src", name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, DOCS[name]!);
    const { job } = await ingestNow(kb, [{ source: name, path: file }]);
    expect(job.status).toBe("succeeded");
  }
}

const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

async function snapshot(kb: Kb & KbStores) {
  const docs = (await kb.metadata.documents.all())
    .map((d) => ({ id: d.id, source: d.source, version: d.version, status: d.status, title: d.title, chunks: d.chunkCount, blob: d.blobPath ? path.basename(d.blobPath) : null }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const search: Record<string, string[]> = {};
  for (const q of ["annual leave", "remote work", "travel expenses reimbursed"]) {
    search[q] = (await kb.retriever.retrieve(SYSTEM_ACTOR, q, { topK: 5 })).chunks.map((c) => `${c.documentId}#${c.ordinal}`);
  }
  return { docs, search, rows: await kb.chunks.count() };
}

describe("start-up on a damaged data folder", () => {
  it.skipIf(SQLITE_FILE_SKIP)("a SQLite file that is not a database stops the start naming the file and what to do", async () => {
    const dir = tmpDir("kb-dmg-");
    fs.writeFileSync(path.join(dir, "app.sqlite"), Buffer.alloc(16384, 0x5a));
    const err = await open(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDamagedError);
    expect((err as Error).message).toContain(path.join(dir, "app.sqlite"));
    expect((err as Error).message).toMatch(/is not a SQLite database.*Nothing was repaired or overwritten.*kb doctor.*kb restore/);
    const report = await doctor(configFor(dir));
    expect(report.ok).toBe(false);
    expect(report.findings.find((f) => f.check === "sqlite")).toMatchObject({ ok: false, detail: expect.stringMatching(/not a SQLite database.*kb restore/) });
  });

  it.skipIf(SQLITE_FILE_SKIP)("a truncated SQLite file stops the start as damaged", async () => {
    const store = await storeFor();
    const t = await openTestKb(store);
    cleanup.push(t.dir);
    await ingestEach(t.kb, t.dir);
    await t.kb.close();
    const file = path.join(t.dir, "app.sqlite");
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 3));
    const err = await open(t.dir, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDamagedError);
    expect((err as Error).message).toMatch(/app\.sqlite is damaged .*truncated.*kb doctor/);
    expect((await doctor(configFor(t.dir, store))).ok).toBe(false);
  });

  it("a truncated chunk table manifest stops the start; doctor --repair returns to the last good version and re-indexes what it lacks", async () => {
    const store = await storeFor();
    const t = await openTestKb(store);
    cleanup.push(t.dir);
    await ingestEach(t.kb, t.dir);
    const before = await snapshot(t.kb);
    const table = t.kb.index.info().table;
    await t.kb.close();
    const newest = manifests(tableDir(path.join(t.dir, "lancedb"), table))[0]!;
    fs.truncateSync(newest.file, 20);

    const err = await open(t.dir, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDamagedError);
    expect((err as Error).message).toContain(path.relative(t.dir, newest.file));
    expect((err as Error).message).toMatch(new RegExp(`latest version \\(${newest.version},.*damaged.*kb doctor --repair`));

    const check = await doctor(configFor(t.dir, store));
    expect(check.ok).toBe(false);
    expect(check.findings.find((f) => f.check === `active table ${table}`)).toMatchObject({ ok: false, detail: expect.stringMatching(/cannot be read.*--repair/) });

    const repaired = await doctor(configFor(t.dir, store), { repair: true });
    expect(repaired.ok).toBe(true);
    expect(repaired.findings.find((f) => f.check === `active table ${table}`)?.repaired).toMatch(new RegExp(`returned to version ${newest.version - 1}`));
    // The version before lacked the last document's chunks: re-indexed from its original.
    expect(repaired.findings.find((f) => f.check === "index consistency")?.repaired).toMatch(/re-indexed 1 from their originals/);

    const kb = await open(t.dir, store);
    try {
      expect(await snapshot(kb)).toEqual(before);
    } finally {
      await kb.close();
    }
    expect((await doctor(configFor(t.dir, store))).ok).toBe(true);
  });
});

describe("kb doctor", () => {
  it("--repair replaces a version whose data file is lost by the last good version (LanceDB checkout + restore) and re-indexes what it lacks", async () => {
    const store = await storeFor();
    const t = await openTestKb(store);
    cleanup.push(t.dir);
    await ingestEach(t.kb, t.dir);
    const before = await snapshot(t.kb);
    const table = t.kb.index.info().table;
    await t.kb.close();
    const dir = tableDir(path.join(t.dir, "lancedb"), table);
    const latest = manifests(dir)[0]!.version;
    // The newest data file: the last document's chunks, referenced by the latest version only.
    const data = fs.readdirSync(path.join(dir, "data")).map((f) => path.join(dir, "data", f));
    fs.rmSync(data.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]!);

    const check = await doctor(configFor(t.dir, store));
    expect(check.findings.find((f) => f.check === `active table ${table}`)).toMatchObject({ ok: false, detail: expect.stringMatching(/cannot be read/) });
    const repaired = await doctor(configFor(t.dir, store), { repair: true });
    expect(repaired.ok).toBe(true);
    const tableFix = repaired.findings.find((f) => f.check === `active table ${table}`)!.repaired!;
    const good = Number(/returned to version (\d+)/.exec(tableFix)?.[1]);
    expect(good).toBeLessThan(latest);
    // History is kept: the restore is a new version, nothing was moved aside.
    expect(manifests(dir)[0]!.version).toBeGreaterThan(latest);
    expect(tableFix).not.toMatch(/moved/);
    expect(repaired.findings.find((f) => f.check === "index consistency")?.repaired).toMatch(/re-indexed 1 from their originals/);
    const kb = await open(t.dir, store);
    try {
      expect(await snapshot(kb)).toEqual(before);
    } finally {
      await kb.close();
    }
  });
});

describe("kb doctor and a document being written", () => {
  it("leaves a queued job's document whose rows reached the table before its commit (a backup taken mid-write) to that job", async () => {
    const store = await storeFor();
    const t = await openTestKb(store);
    cleanup.push(t.dir);
    await ingestEach(t.kb, t.dir);
    const file = path.join(t.dir, "src", "parking.md");
    fs.writeFileSync(file, DOCS["parking.md"]!);
    // Queued, not run: its document row has no version yet.
    const { jobId, documents } = await t.kb.ingest.submit(SYSTEM_ACTOR, [{ source: "parking.md", path: file }]);
    const parking = documents[0]!.id;
    // Its rows as the writer puts them into the table before the SQLite commit.
    const [leave] = (await t.kb.metadata.documents.all()).filter((d) => d.source === "leave.md");
    const rows = (await t.kb.chunks.rowsOf([leave!.id])).map((r) => ({ ...r, documentId: parking, documentVersion: 1, chunkId: `${parking}:1:${r.ordinal}` }));
    await t.kb.chunks.replaceDocuments([{ documentId: parking, rows }]);
    await t.kb.close();

    const consistency = async (repair: boolean) => (await doctor(configFor(t.dir, store), { repair })).findings.find((f) => f.check === "index consistency");
    for (const repair of [false, true]) {
      expect(await consistency(repair)).toMatchObject({ ok: true, detail: expect.stringMatching(/; 1 document\(s\) being written by a queued or interrupted job, left to it/) });
    }
    // A difference outside any job is still damage.
    const kb = await open(t.dir, store);
    try {
      await kb.chunks.replaceDocuments([{ documentId: leave!.id, rows: [] }]);
    } finally {
      await kb.close();
    }
    expect(await consistency(false)).toMatchObject({ ok: false, detail: expect.stringMatching(/^1 document\(s\) missing or at another version.*; 1 document\(s\) being written/) });
    expect(await consistency(true)).toMatchObject({ ok: true, repaired: expect.stringMatching(/^re-indexed 1 from their originals.*; 1 document\(s\) being written/) });

    // The job then writes it, and nothing differs.
    const again = await open(t.dir, store);
    try {
      expect((await again.jobs.runHere(jobId))?.status).toBe("succeeded");
    } finally {
      await again.close();
    }
    expect(await consistency(false)).toMatchObject({ ok: true, detail: "the active table holds exactly the live versions of 4 document(s)" });
  });
});

describe("backup and restore", () => {
  it("backs up a serving knowledge base and restores an identical one into an empty folder", async () => {
    const s = await startTestServer();
    cleanup.push(s.dir);
    const dest = path.join(tmpDir("kb-bak-"), "backup");
    const target = path.join(tmpDir("kb-rst-"), "data");
    try {
      await ingestEach(s.kb, s.dir);
      const before = await snapshot(s.kb);
      expect(before.docs).toHaveLength(3);
      // Online: the server keeps answering and another document is written while the backup runs.
      // Whether it lands in the backup depends on timing; either way the restore must be consistent.
      const [manifest] = await Promise.all([backup(s.dir, dest, () => {}, { databaseUrl: s.kb.config.databaseUrl }), ingestEach(s.kb, s.dir, ["parking.md"])]);
      expect((await s.fetchAs(await s.tokenFor("ann", "admin"), "/api/v1/documents")).status).toBe(200);
      expect(manifest.documents).toBeGreaterThanOrEqual(3);
      expect(manifest.originals.count).toBeGreaterThanOrEqual(3);
      expect(manifest).toMatchObject({ originals: { missing: [] }, tables: [{ name: s.kb.index.info().table, role: "active" }] });
      if (!onPostgres()) expect(manifest.sqlite!.sha256).toBe(sha256(path.join(dest, "app.sqlite")));

      fs.mkdirSync(target, { recursive: true });
      fs.writeFileSync(path.join(target, "something"), "x");
      const targetStore = await storeFor();
      await expect(restore(dest, configFor(target, targetStore))).rejects.toThrow(/is not empty/);
      fs.rmSync(path.join(target, "something"));

      const r = await restore(dest, configFor(target, targetStore));
      expect(r.doctor.ok, JSON.stringify(r.doctor.findings)).toBe(true);
      const kb = await open(target, targetStore);
      try {
        const after = await snapshot(kb);
        expect(after.docs.filter((d) => d.source !== "parking.md")).toEqual(before.docs);
        expect(after.docs).toHaveLength(manifest.documents);
        expect(after.search).toEqual(before.search);
        // A document still being written at backup time has no original yet (and its job resumes on the next start).
        const ready = (await kb.metadata.documents.all()).filter((d) => d.status === "ready");
        expect(ready.length).toBeGreaterThanOrEqual(3);
        for (const d of ready) {
          expect(d.blobPath!.startsWith(path.join(target, "blobs") + path.sep)).toBe(true);
          expect(sha256(d.blobPath!)).toBe(path.basename(d.blobPath!));
          expect(fs.statSync(d.blobPath!).mode & 0o777).toBe(0o600);
        }
      } finally {
        await kb.close();
      }
      if (!onPostgres()) expect(fs.statSync(path.join(target, "app.sqlite")).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.join(target, "lancedb")).mode & 0o777).toBe(0o700);
    } finally {
      await s.close();
    }
  });
});

describe("storage folders outside the data folder (KB_LANCEDB_DIR, KB_BLOB_DIR)", () => {
  it("are where chunk tables and originals go; backup takes them from there and restore puts them into the new ones; an object-storage URL is refused", async () => {
    const root = tmpDir("kb-storage-");
    const configIn = (tag: string, store: Partial<Config>) =>
      loadConfig(
        { KB_LANCEDB_DIR: path.join(root, tag, "shared", "lance"), KB_BLOB_DIR: path.join(root, tag, "shared", "originals") },
        { dataDir: path.join(root, tag, "data"), modelsDir: path.join(root, "models"), embedModel: "none", logLevel: "silent", ...store },
      );
    const a = configIn("a", await storeFor());
    const kbA = await openKb(a, { logger: pino({ level: "silent" }) });
    let before: Awaited<ReturnType<typeof snapshot>>;
    try {
      await ingestEach(kbA, path.join(root, "a"));
      before = await snapshot(kbA);
      for (const d of await kbA.metadata.documents.all()) expect(d.blobPath!.startsWith(a.blobDir + path.sep)).toBe(true);
    } finally {
      await kbA.close();
    }
    expect(fs.readdirSync(a.lanceDir).some((n) => n.endsWith(".lance"))).toBe(true);
    expect(fs.existsSync(path.join(a.dataDir, "lancedb"))).toBe(false);
    expect(fs.existsSync(path.join(a.dataDir, "blobs"))).toBe(false);

    const dest = path.join(root, "backup");
    const manifest = await backup(a.dataDir, dest, () => {}, { databaseUrl: a.databaseUrl, lanceDir: a.lanceDir, blobDir: a.blobDir });
    expect(manifest).toMatchObject({ documents: 3, originals: { count: 3, missing: [] }, sourceBlobDir: a.blobDir });
    const b = configIn("b", await storeFor());
    fs.mkdirSync(b.lanceDir, { recursive: true });
    fs.writeFileSync(path.join(b.lanceDir, "something"), "x");
    await expect(restore(dest, b)).rejects.toThrow(/KB_LANCEDB_DIR.*is not empty/);
    fs.rmSync(path.join(b.lanceDir, "something"));
    const r = await restore(dest, b);
    expect(r.doctor.ok, JSON.stringify(r.doctor.findings)).toBe(true);
    const kbB = await openKb(b, { logger: pino({ level: "silent" }) });
    try {
      expect(await snapshot(kbB)).toEqual(before);
      for (const d of await kbB.metadata.documents.all()) {
        expect(d.blobPath!.startsWith(b.blobDir + path.sep)).toBe(true);
        expect(sha256(d.blobPath!)).toBe(path.basename(d.blobPath!));
      }
    } finally {
      await kbB.close();
    }

    expect(() => loadConfig({ KB_LANCEDB_DIR: "s3://bucket/kb" })).toThrow(/KB_LANCEDB_DIR: "s3:\/\/" locations are not supported: object storage \(S3 and compatible\) is not supported yet/);
    expect(() => loadConfig({ KB_BLOB_DIR: "gs://bucket/originals" })).toThrow(/KB_BLOB_DIR: "gs:\/\/" locations are not supported/);
    expect(loadConfig({ KB_LANCEDB_READ_INTERVAL_MS: "250" }).lanceReadIntervalMs).toBe(250);
  });
});

describe("kb CLI on a damaged folder", () => {
  it.skipIf(SQLITE_FILE_SKIP)("kb serve prints the diagnosis without a stack; kb doctor exits 2", async () => {
    const dir = tmpDir("kb-cli-dmg-");
    fs.writeFileSync(path.join(dir, "app.sqlite"), Buffer.alloc(16384, 0x5a));
    const env = { ...process.env, KB_DATA_DIR: dir, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent", KB_PORT: "0" };
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [path.resolve("bin/kb.js"), ...args], { env, timeout: 60_000 }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const serve = await run("serve");
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/^kb: the metadata database .*app\.sqlite is not a SQLite database/m);
    expect(serve.stderr).not.toMatch(/\n\s+at /);
    const dr = await run("doctor");
    expect(dr.code).toBe(2);
    expect(dr.stdout).toMatch(/FAIL\s+sqlite: .*not a SQLite database/);
  });
});
