/**
 * Issue 10, finding 13: the data folder (originals, page texts, chunk index, audit log, admin
 * token) is for the account running kb only: folders 0700, files 0600, no group or other bits
 * on anything. Checked on the real `kb` processes (umask and everything native code writes),
 * on what the services create in a process with a looser umask, and on an existing folder that
 * was left world-readable.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ensureAdmin } from "../src/services/bootstrap.ts";
import { onPostgres, openTestKb, storeForFolder, writeFiles } from "./helpers/kb.ts";

const run = promisify(execFile);
const KB = path.resolve("bin/kb.js");
let dir: string;
let data: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess | null = null;
let store: Awaited<ReturnType<typeof storeForFolder>>;
/** The SQLite database and its -wal/-shm files: in the data folder unless the store is PostgreSQL (KB_TEST_DATABASE_URL). */
const SQLITE_FILES = onPostgres() ? [] : ["app.sqlite", "app.sqlite-wal", "app.sqlite-shm"];

/** Every path under `root` (itself included) with group or other permission bits, as "mode path". */
function tooOpen(root: string, skip: string[] = []): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    if (skip.includes(p)) return;
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) out.push(`${(st.mode & 0o777).toString(8)} ${path.relative(root, p) || "."}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(root);
  return out;
}

function allPaths(root: string): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    out.push(path.relative(root, p));
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(root);
  return out;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-perms-"));
  data = path.join(dir, "data");
  store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  env = { ...process.env, KB_DATA_DIR: data, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", ...store.env };
});
afterAll(async () => {
  server?.kill("SIGKILL");
  await store?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the data folder", () => {
  it("is private from the first start: database (with -wal/-shm), chunk index, originals, admin token and credentials", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    server = spawn(process.execPath, [KB, "serve", "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<void>((resolve) => server!.on("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let out = "";
      server!.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("listening")) resolve();
      });
      server!.on("exit", (code) => reject(new Error(`server exited ${code}`)));
    });
    const token = fs.readFileSync(path.join(data, "admin-token"), "utf8").trim();
    const form = new FormData();
    form.append("file", new Blob(["Payroll runs on the 25th. Contact payroll at 010-2345-6789."]), "payroll.txt");
    const base = `http://127.0.0.1:${port}`;
    const up = await fetch(`${base}/api/v1/documents`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}` } });
    expect(up.status).toBe(202);
    const { jobId } = (await up.json()) as { jobId: string };
    for (;;) {
      const job = (await (await fetch(`${base}/api/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
      if (!["queued", "running"].includes(job.status)) {
        expect(job.status).toBe("succeeded");
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const search = await fetch(`${base}/api/v1/search`, { method: "POST", body: JSON.stringify({ query: "payroll" }), headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } });
    expect(((await search.json()) as { results: unknown[] }).results.length).toBeGreaterThan(0);

    // While the server runs (the -wal and -shm files exist), and after it stopped.
    const names = allPaths(data);
    for (const expected of [...SQLITE_FILES, "admin-token", "admin-credentials", "lancedb", "blobs"]) expect(names).toContain(expected);
    expect(names.some((n) => n.startsWith("lancedb/") && n.endsWith(".lance"))).toBe(true);
    expect(names.filter((n) => n.startsWith("blobs/")).length).toBeGreaterThan(1);
    expect(tooOpen(data)).toEqual([]);
    server.kill("SIGTERM");
    await exited;
    server = null;
    expect(tooOpen(data)).toEqual([]);
  });

  it("is tightened at start when it was left open, and the change is logged; the operator's files beside it are left alone", async () => {
    const models = path.join(data, "models");
    fs.mkdirSync(path.join(models, "e5"), { recursive: true });
    fs.writeFileSync(path.join(models, "e5", "config.json"), "{}");
    const notes = path.join(data, "notes");
    writeFiles(notes, { "readme.txt": "kept by the operator" });
    for (const p of allPaths(data)) {
      const full = path.join(data, p);
      fs.chmodSync(full, fs.statSync(full).isDirectory() ? 0o755 : 0o644);
    }
    expect(tooOpen(data).length).toBeGreaterThan(5);
    const { stderr } = await run(process.execPath, [KB, "users", "list"], { env, timeout: 60_000 });
    expect(stderr).toContain("data folder: removed group/other permissions");
    expect(tooOpen(data, [models, notes])).toEqual([]);
    // An operator's models folder may be shared, and other files are not kb's: left as they were.
    expect(fs.statSync(path.join(models, "e5", "config.json")).mode & 0o777).toBe(0o644);
    expect(fs.statSync(path.join(notes, "readme.txt")).mode & 0o777).toBe(0o644);
  });

  it("gets private files from the services even in a process with a looser umask", async () => {
    const previous = process.umask(0o022);
    const t = await openTestKb();
    try {
      await ensureAdmin(t.kb);
      await t.kb.documents.upload(SYSTEM_ACTOR, [{ name: "note.txt", bytes: new TextEncoder().encode("a private note") }], {});
      const stored = allPaths(t.dir).filter((p) => p.startsWith("admin-") || p.startsWith("app.sqlite") || p.startsWith("blobs"));
      expect(stored).toEqual(expect.arrayContaining(["admin-token", "admin-credentials", ...SQLITE_FILES, "blobs"]));
      expect(stored.filter((p) => p.startsWith("blobs/")).length).toBe(2); // a prefix folder and the original
      const open = stored.map((p) => path.join(t.dir, p)).filter((p) => fs.statSync(p).mode & 0o077);
      expect(open).toEqual([]);
      expect(fs.statSync(t.dir).mode & 0o077).toBe(0);
    } finally {
      await t.close();
      process.umask(previous);
    }
  });
});
