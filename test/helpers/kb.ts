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

export interface TestKb {
  /** Services, and the stores under them (tests set up and inspect state directly). */
  kb: Kb & KbStores;
  dir: string;
  close(): Promise<void>;
}

export async function openTestKb(overrides: Partial<Config> = {}, options: Omit<OpenKbOptions, "logger"> = {}): Promise<TestKb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-test-"));
  const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent", ...overrides });
  const kb = await openKb(config, { ...options, logger: pino({ level: "silent" }) });
  return {
    kb,
    dir,
    async close() {
      await kb.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
  return {
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
      await server.close();
      await t.close();
    },
  };
}

/** Ingests files synchronously in this process (as the operator unless `actor` is given). */
export async function ingestNow(
  kb: Kb & KbStores,
  files: { source: string; path: string; allow?: string[]; deny?: string[]; title?: string; classification?: number }[],
  actor: Actor = SYSTEM_ACTOR,
) {
  const { jobId, documents } = await kb.ingest.submit(actor, files);
  const workerId = `test-${process.pid}`;
  if (!kb.jobsRepo.claimJob(jobId, workerId, STALE_MS)) {
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
