/** `kb sync`, `kb jobs …`, `kb index`, `kb worker --once` as an operator runs them. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeForFolder } from "./helpers/kb.ts";

const run = promisify(execFile);
const KB = path.resolve("bin/kb.js");
let dir: string;
let env: NodeJS.ProcessEnv;
let store: Awaited<ReturnType<typeof storeForFolder>>;
const kb = (...args: string[]) => run(process.execPath, [KB, ...args], { env, timeout: 120_000 });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-jobs-cli-"));
  store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  env = { ...process.env, KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", KB_SYNC_SOURCES: "", ...store.env };
  fs.mkdirSync(path.join(dir, "share"));
  fs.writeFileSync(path.join(dir, "share", "a.txt"), "alpha document about apples");
  fs.writeFileSync(path.join(dir, "share", "b.md"), "# Bravo\n\nbananas are yellow");
});
afterAll(async () => {
  await store?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Each test runs several `kb` processes, each a few seconds on a busy 2-core machine (more on
// PostgreSQL, where each one connects and checks the migrations): a limit above the default 60 s.
describe("kb jobs commands", { timeout: 180_000 }, () => {
  it("syncs a folder, lists and shows jobs, and reports the index", async () => {
    const sync = await kb("sync", path.join(dir, "share"));
    expect(sync.stdout).toMatch(/\(sync\): succeeded \(2 succeeded/);
    const jobId = /job (job_\w+)/.exec(sync.stdout)![1]!;
    fs.rmSync(path.join(dir, "share", "a.txt"));
    const again = await kb("sync", path.join(dir, "share"));
    expect(again.stdout).toMatch(/1 succeeded, 1 unchanged|1 unchanged, 1 succeeded/);
    const list = await kb("jobs", "list");
    expect(list.stdout.trim().split("\n")).toHaveLength(2);
    expect(list.stdout).toContain(jobId);
    const show = JSON.parse((await kb("jobs", jobId, "--json")).stdout);
    expect(show).toMatchObject({ id: jobId, kind: "sync", status: "succeeded", progress: { done: 2, total: 2 }, etaSeconds: 0 });
    const index = await kb("index");
    expect(index.stdout).toMatch(/active: +chunks \(no vectors\), \d+ chunks/);
  });

  it("refuses to cancel a finished job; `kb worker --once` exits when nothing is queued", async () => {
    const { stdout } = await kb("reindex");
    const jobId = /job (job_\w+)/.exec(stdout)![1]!;
    expect(stdout).toMatch(/succeeded/);
    await expect(kb("jobs", "cancel", jobId)).rejects.toMatchObject({ stderr: expect.stringMatching(/already succeeded/) });
    const w = await kb("worker", "--once", "--no-schedules");
    expect(w.stderr).not.toMatch(/error/i);
  });
});
