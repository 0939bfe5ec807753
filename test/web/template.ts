/**
 * The browser tests' data-folder template: the demo corpus (data/demo) ingested the way
 * `npm start` does it, the documents of fixtures.ts, and the accounts of fixtures.ts with their
 * passwords. Built once per test run by global-setup.ts; each test copies it (copyTemplate).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../../policies/index.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { ensureDemoCorpus } from "../../src/services/bootstrap.ts";
import { openKb, type Kb, type KbStores } from "../../src/services/container.ts";
import { STALE_MS } from "../../src/services/jobs/worker.ts";
import { DOCS, USERS } from "./fixtures.ts";
import { makeTextPdf } from "./make-pdf.ts";

/** The configuration every browser test's server runs with (lexical retrieval, extractive answers). */
export function webTestConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "silent", ...overrides });
}

async function runJob(kb: Kb & KbStores, jobId: string): Promise<void> {
  if (!(await kb.metadata.jobs.claimJob(jobId, `web-template-${process.pid}`, STALE_MS))) throw new Error(`template: job ${jobId} was claimed by someone else`);
  const v = await kb.jobs.run(jobId, `web-template-${process.pid}`);
  if (v.status !== "succeeded") throw new Error(`template: job ${jobId} ended ${v.status}: ${JSON.stringify(v)}`);
}

/**
 * Builds the template in `dir`; with `databaseUrl` (a new PostgreSQL database: KB_TEST_DATABASE_URL
 * runs), its metadata goes there, and each test's server gets a copy of that database too
 * (harness.ts, CREATE DATABASE … TEMPLATE).
 */
export async function buildTemplate(dir: string, databaseUrl?: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const kb = await openKb(webTestConfig(dir, { databaseUrl }), { logger: pino({ level: "silent" }) });
  try {
    await kb.accounts.createUser({ name: USERS.admin.name, role: "admin", clearance: 3 });
    await kb.accounts.createUser({ name: USERS.minji.name, role: "viewer", groups: ["staff"] });
    await kb.accounts.createUser({ name: USERS.hana.name, role: "viewer", groups: ["hr"] });
    // As `kb users passwd` sets them.
    for (const u of Object.values(USERS)) await kb.signIn.setPassword(SYSTEM_ACTOR, u.name, { password: u.password });

    const demoJob = await ensureDemoCorpus(kb);
    if (!demoJob) throw new Error("template: the demo corpus (data/demo) was not submitted");
    await runJob(kb, demoJob);

    const srcDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-docs-"));
    try {
      const files = Object.values(DOCS).map((d) => {
        const p = path.join(srcDir, path.basename(d.source));
        fs.writeFileSync(p, "pages" in d ? makeTextPdf(d.pages.map((l) => [...l])) : d.text);
        return { source: d.source, path: p, title: d.title, allow: [...d.allow] };
      });
      await runJob(kb, (await kb.ingest.submit(SYSTEM_ACTOR, files)).jobId);
    } finally {
      fs.rmSync(srcDir, { recursive: true, force: true });
    }
  } finally {
    await kb.close();
  }
}

/** A fresh copy of the template for one test. */
export function copyTemplate(template: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-"));
  fs.cpSync(template, dir, { recursive: true });
  return dir;
}
