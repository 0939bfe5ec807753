/**
 * Two API replicas and two workers on one PostgreSQL database and one shared folder for LanceDB
 * and the originals, as separate real processes on loopback (issue 15): replicas A and B are
 * `kb serve --no-worker`, each with its own data folder and port; two `kb worker` processes run
 * the jobs. What one process changes, the others must see on their next request: a document
 * ingested through A is found by B once A reports the job done, an ACL change through A applies
 * to B's next query, a token revoked through A is refused by B, a worker killed with SIGKILL
 * mid-job is resumed by the other and ends as a clean run does, a re-embed switch made by a
 * worker is followed by both replicas (announced by NOTIFY: replicas do not read the pointer per
 * query while they hear announcements), and a token's rate limit holds for both together.
 *
 * Needs a PostgreSQL server (KB_TEST_DATABASE_URL); skipped with the reason printed otherwise.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { modelsWithVariant } from "./helpers/embed-variant.ts";
import { createTestDatabase, pgUnavailable, type TestDatabase } from "./helpers/pg.ts";

const KB_BIN = path.resolve("bin/kb.js");
const run = promisify(execFile);
const unavailable = await pgUnavailable(process.env.KB_TEST_DATABASE_URL);
if (unavailable) console.log(`replicas test skipped: ${unavailable}`);

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  killed: boolean;
}

let root: string;
let database: TestDatabase;
let shared: { lanceDir: string; blobDir: string };
let models: ReturnType<typeof modelsWithVariant>;
let baseEnv: NodeJS.ProcessEnv;
const procs: Proc[] = [];
let portA = 0;
let portB = 0;
let admin = "";

const envFor = (dataDir: string): NodeJS.ProcessEnv => ({ ...baseEnv, KB_DATA_DIR: dataDir });

function start(name: string, args: string[], dataDir: string): Proc {
  const child = spawn(process.execPath, [KB_BIN, ...args], { env: envFor(dataDir), stdio: ["ignore", "pipe", "pipe"] });
  const p: Proc = { name, child, out: "", killed: false };
  const keep = (d: Buffer) => (p.out = (p.out + d.toString()).slice(-20_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  child.once("exit", (code, signal) => {
    if (!p.killed) p.out += `\n[${name} exited by itself: code ${code}, signal ${signal}]`;
  });
  procs.push(p);
  return p;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${procs.map((p) => `--- ${p.name}:\n${p.out.slice(-3000)}`).join("\n")}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function startServer(name: string, port: number): Promise<Proc> {
  const p = start(name, ["serve", "--no-worker", "--port", String(port)], path.join(root, name));
  await until(`${name} to listen`, async () => p.out.includes("listening") || (p.child.exitCode !== null ? Promise.reject(new Error(p.out)) : false), 180_000);
  return p;
}

async function api(port: number, token: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await fetch(`http://127.0.0.1:${port}${url}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const search = async (port: number, token: string, query: string) => {
  const r = await api(port, token, "POST", "/api/v1/search", { query, topK: 10 });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.results as { documentId: string; title: string }[];
};

async function upload(port: number, files: Record<string, string>, fields: Record<string, string> = {}): Promise<{ jobId: string; documents: { id: string; source: string }[] }> {
  const form = new FormData();
  for (const [name, text] of Object.entries(files)) form.append("file", new Blob([text], { type: "text/markdown" }), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const r = await api(port, admin, "POST", "/api/v1/documents", form);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body;
}

/** Polls A until the job is finished (what a client does), and returns A's view. */
const jobDone = (port: number, jobId: string, timeoutMs = 120_000) =>
  until(`job ${jobId}`, async () => {
    const r = await api(port, admin, "GET", `/api/v1/jobs/${jobId}`);
    return ["succeeded", "failed", "partial", "cancelled"].includes(r.body?.status) ? r.body : null;
  }, timeoutMs);

beforeAll(async () => {
  if (unavailable) return;
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kb-replicas-"));
  database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL!);
  shared = { lanceDir: path.join(root, "shared", "lancedb"), blobDir: path.join(root, "shared", "blobs") };
  models = modelsWithVariant(root, 48);
  baseEnv = {
    ...process.env,
    KB_DATABASE_URL: database.url,
    KB_LANCEDB_DIR: shared.lanceDir,
    KB_BLOB_DIR: shared.blobDir,
    KB_LANCEDB_READ_INTERVAL_MS: "0",
    KB_MODELS_DIR: models.modelsDir,
    KB_EMBED_MODEL: models.base,
    KB_EXTRACT_PROCESSES: "0",
    KB_OPTIMIZE_INTERVAL_S: "3600",
    KB_SYNC_SOURCES: "",
    KB_RATE_LIMIT_PER_MIN: "100000",
    KB_LOG_LEVEL: "info",
  };
  // The first admin and its token, through the CLI on the shared database (this also migrates it).
  const cli = (...args: string[]) => run(process.execPath, [KB_BIN, ...args], { env: envFor(path.join(root, "cli")), timeout: 120_000 });
  await cli("users", "add", "ops", "--role", "admin");
  admin = (await cli("tokens", "create", "ops")).stdout.trim();
  portA = 20000 + Math.floor(Math.random() * 20000);
  portB = portA + 1;
  await startServer("replica-a", portA);
  await startServer("replica-b", portB);
  start("worker-1", ["worker", "--no-schedules"], path.join(root, "worker-1"));
  start("worker-2", ["worker", "--no-schedules"], path.join(root, "worker-2"));
}, 300_000);

afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    p.killed = true;
    const exited = new Promise((r) => p.child.once("exit", r));
    p.child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
  await database?.drop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

describe.skipIf(unavailable !== null)("two API replicas and two workers on one PostgreSQL and one shared LanceDB folder", () => {
  it("a document uploaded through A is found by B's next search once A reports the job done", { timeout: 180_000 }, async () => {
    // B searches once before, so it has the table open and a snapshot to go stale.
    expect(await search(portB, admin, "parking garage basement")).toEqual([]);
    const up = await upload(portA, { "parking.md": "# Parking\n\nThe parking garage in the basement is free for employees. 지하 주차장은 무료입니다." });
    const view = await jobDone(portA, up.jobId);
    expect(view.status, JSON.stringify(view)).toBe("succeeded");
    const hits = await search(portB, admin, "parking garage basement");
    expect(hits.map((h) => h.title)).toContain("Parking");
    // The original stored by a worker in the shared folder is served by B.
    const original = await fetch(`http://127.0.0.1:${portB}/api/v1/documents/${up.documents[0]!.id}/original`, { headers: { authorization: `Bearer ${admin}` } });
    expect(original.status).toBe(200);
    expect(await original.text()).toContain("free for employees");
  });

  it("an ACL change made through A applies to B's next query; a token revoked through A is refused by B at once", { timeout: 180_000 }, async () => {
    expect((await api(portA, admin, "POST", "/api/v1/admin/users", { name: "kim", role: "viewer" })).status).toBe(201);
    const created = await api(portA, admin, "POST", "/api/v1/admin/users/kim/tokens", {});
    expect(created.status).toBe(201);
    const kim = created.body.token as string;
    const up = await upload(portA, { "cafeteria.md": "# Cafeteria\n\nThe cafeteria menu changes every Monday morning." }, { allow: "group:nobody" });
    expect((await jobDone(portA, up.jobId)).status).toBe("succeeded");
    const id = up.documents[0]!.id;
    const q = "cafeteria menu monday";
    // B: kim may not read it yet (admin may: the document is there).
    expect((await search(portB, admin, q)).map((h) => h.documentId)).toContain(id);
    const kimSees = async () => (await search(portB, kim, q)).map((h) => h.documentId);
    expect(await kimSees()).not.toContain(id);
    expect((await api(portB, kim, "GET", `/api/v1/documents/${id}`)).status).toBe(404);
    // A grants kim: B's next query finds it.
    expect((await api(portA, admin, "PUT", `/api/v1/documents/${id}/acl`, { allow: ["user:kim"], deny: [] })).status).toBe(200);
    expect(await kimSees()).toContain(id);
    expect((await api(portB, kim, "GET", `/api/v1/documents/${id}`)).status).toBe(200);
    // A takes it away again: B's next query no longer finds it.
    expect((await api(portA, admin, "PUT", `/api/v1/documents/${id}/acl`, { allow: ["group:nobody"], deny: [] })).status).toBe(200);
    expect(await kimSees()).not.toContain(id);
    expect((await api(portB, kim, "GET", `/api/v1/documents/${id}`)).status).toBe(404);

    // The token works on B, is revoked through A, and B refuses it on the very next request.
    expect((await api(portB, kim, "GET", "/api/v1/me")).status).toBe(200);
    expect((await api(portA, admin, "POST", `/api/v1/admin/tokens/${created.body.info.id}/revoke`)).status).toBe(200);
    expect((await api(portB, kim, "GET", "/api/v1/me")).status).toBe(401);
    expect((await api(portA, kim, "GET", "/api/v1/me")).status).toBe(401);
  });

  it("a token's rate limit holds across both replicas together, not per replica", { timeout: 60_000 }, async () => {
    expect((await api(portA, admin, "POST", "/api/v1/admin/users", { name: "rate", role: "viewer" })).status).toBe(201);
    const created = await api(portA, admin, "POST", "/api/v1/admin/users/rate/tokens", { rateLimitPerMinute: 6 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const token = created.body.token as string;
    // 20 requests alternating between A and B: 6 answered in all (per-replica buckets would answer 12).
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await api(i % 2 ? portB : portA, token, "GET", "/api/v1/me")).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6).every((s) => s === 429)).toBe(true);
  });

  it("a web session and a conversation started on A continue on B; signing out on A ends the session on B", { timeout: 120_000 }, async () => {
    const password = "replica session password 7";
    expect((await api(portA, admin, "POST", "/api/v1/admin/users", { name: "lee", role: "viewer" })).status).toBe(201);
    expect((await api(portA, admin, "PUT", "/api/v1/admin/users/lee/password", { password })).status).toBe(200);
    const login = await fetch(`http://127.0.0.1:${portA}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "lee", password }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith("kb_session="))!.split(";")[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    // A browser on the replica it talks to: the cookie, the CSRF token and that replica's origin.
    const asLee = async (port: number, method: string, url: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}${url}`, {
        method,
        headers: { cookie, "x-csrf-token": csrfToken, origin: `http://127.0.0.1:${port}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
    };
    const session = await asLee(portB, "GET", "/api/v1/auth/session");
    expect(session.status).toBe(200);
    expect(session.body.user.name).toBe("lee");
    const first = await asLee(portA, "POST", "/api/v1/ask", { question: "Where is the parking garage?" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await asLee(portB, "POST", "/api/v1/ask", { question: "Is it free for employees?", conversationId: first.body.conversationId });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.conversationId).toBe(first.body.conversationId);
    const conversation = await asLee(portB, "GET", `/api/v1/conversations/${first.body.conversationId}`);
    expect(conversation.status).toBe(200);
    expect(conversation.body.messages.filter((m: { role: string }) => m.role === "user").map((m: { content: string }) => m.content)).toEqual([
      "Where is the parking garage?",
      "Is it free for employees?",
    ]);
    const logout = await asLee(portA, "POST", "/api/v1/auth/logout");
    expect(logout.status, JSON.stringify(logout.body)).toBeLessThan(300);
    expect((await asLee(portB, "GET", "/api/v1/auth/session")).status).toBe(401);
  });

  it("a worker killed with SIGKILL mid-job is resumed by the other, and the end state equals a clean run's", { timeout: 300_000 }, async () => {
    const FILES = 64;
    const words = ["budget", "invoice", "printer", "network", "contract", "meeting", "report", "security", "badge", "vacation"];
    const files: Record<string, string> = {};
    for (let k = 0; k < FILES; k++) {
      const paras = Array.from({ length: 12 }, (_, p) => `${Array.from({ length: 60 }, (_, w) => words[(k * 7 + p * 3 + w) % words.length]).join(" ")}. 연차 휴가 ${k}-${p}.`);
      files[`batch${String(k).padStart(2, "0")}.md`] = `# Batch ${k}\n\n${paras.join("\n\n")}`;
    }
    // The clean run: the same files, one in-process knowledge base on SQLite, nothing killed.
    const corpus = path.join(root, "clean-corpus");
    fs.mkdirSync(corpus);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(corpus, name), text);
    const clean = await openKb(loadConfig({}, { dataDir: path.join(root, "clean"), modelsDir: models.modelsDir, embedModel: models.base, extractProcesses: 0, logLevel: "silent" }), {
      logger: pino({ level: "silent" }),
    });
    let expected: string[];
    try {
      const { jobId } = await clean.ingest.submit(SYSTEM_ACTOR, Object.keys(files).map((name) => ({ source: name, path: path.join(corpus, name) })));
      expect(await clean.metadata.jobs.claimJob(jobId, "clean", STALE_MS)).toBe(true);
      expect((await clean.jobs.run(jobId, "clean")).status).toBe("succeeded");
      expected = await state(clean);
    } finally {
      await clean.close();
    }

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const up = await upload(portA, files);
      const workerOf = async () => {
        const r = await client.query<{ status: string; done: number; total: number; worker_id: string | null }>("SELECT status, done, total, worker_id FROM jobs WHERE id = $1", [up.jobId]);
        return r.rows[0]!;
      };
      // Kill whichever worker holds the job once it has finished a file and before it finishes all.
      const holder = await until("a worker to be part-way through the job", async () => {
        const j = await workerOf();
        if (j.status !== "queued" && j.status !== "running") throw new Error(`the job ended (${j.status}) before a worker could be killed mid-job: make the batch larger`);
        return j.status === "running" && j.done >= 1 && j.done < j.total && j.worker_id ? j : null;
      }, 120_000, 2);
      const pid = (await client.query<{ pid: number }>("SELECT pid FROM workers WHERE id = $1", [holder.worker_id])).rows[0]!.pid;
      const victim = procs.find((p) => p.child.pid === pid)!;
      expect(victim, `worker pid ${pid} is one of ours`).toBeDefined();
      victim.killed = true;
      const exited = new Promise((r) => victim.child.once("exit", r));
      victim.child.kill("SIGKILL");
      await exited;
      const view = await jobDone(portA, up.jobId, 180_000);
      expect(view.status, JSON.stringify(view.files.filter((f: { status: string }) => f.status !== "succeeded"))).toBe("succeeded");
      expect(view.progress).toEqual({ done: FILES, total: FILES });
      console.log(`replicas test: worker ${holder.worker_id} killed at ${holder.done} of ${holder.total} files`);
      const after = await workerOf();
      expect(after.worker_id === null || after.worker_id !== holder.worker_id).toBe(true);
      const survivor = procs.find((p) => p.name.startsWith("worker-") && p !== victim)!;
      expect(survivor.out).toMatch(/found dead workers/);
    } finally {
      await client.end();
    }
    // The documents of that batch and their chunks, read through a third process's view of the stores.
    const inspector = await openKb(loadConfig({ ...baseEnv, KB_DATA_DIR: path.join(root, "inspector") }, { logLevel: "silent" }), { logger: pino({ level: "silent" }) });
    try {
      const got = (await state(inspector)).filter((line) => line.includes('"batch'));
      expect(got).toEqual(expected);
      // B's searches find every document of the batch.
      const titles = new Set<string>();
      for (const w of words) for (const h of await search(portB, admin, w)) titles.add(h.title);
      expect([...titles].filter((t) => t.startsWith("Batch")).length).toBeGreaterThan(0);
    } finally {
      await inspector.close();
    }
  });

  it("a re-embed switch made by a worker is followed by both replicas", { timeout: 300_000 }, async () => {
    const before = await api(portA, admin, "GET", "/api/v1/admin/status");
    expect(before.body.index.model).toBe(models.base);
    const r = await api(portA, admin, "POST", "/api/v1/jobs/reembed", { model: models.variant });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await jobDone(portA, r.body.jobId, 240_000)).status).toBe("succeeded");
    // Each replica's next query after the switch uses the new table and its model (a query reads
    // the pointer first; the poll every second would leave a window), and its status says so.
    for (const port of [portA, portB]) {
      const hits = await search(port, admin, "parking garage basement");
      expect(hits.map((h) => h.title)).toContain("Parking");
      const status = (await api(port, admin, "GET", "/api/v1/admin/status")).body;
      expect(status.index.model).toBe(models.variant);
      expect(status.index.table).not.toBe(before.body.index.table);
    }
  });
});

/** Each document (by source) and its chunks, normalised: ids and times differ between runs. */
async function state(kb: Kb & KbStores): Promise<string[]> {
  await kb.index.refresh();
  const docs = await kb.metadata.documents.all();
  const store = kb.chunks.snapshot();
  const rows = await store.rowsOf(docs.map((d) => d.id), true);
  return docs.map((d) => {
    const own = rows.filter((r) => r.documentId === d.id).sort((a, b) => a.ordinal - b.ordinal);
    return JSON.stringify([
      path.basename(d.source),
      d.title,
      d.contentHash,
      d.version,
      d.status,
      d.pageCount,
      d.chunkCount,
      own.length,
      own.map((r) => [r.ordinal, r.documentVersion, r.text, r.vector ? r.vector.length : 0]),
      d.blobPath !== null && fs.existsSync(d.blobPath),
    ]);
  }).sort();
}
