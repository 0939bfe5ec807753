/**
 * Encrypted PDFs with their password: given with an upload (the `password` field) or to
 * `kb ingest --pdf-password-stdin`, used to read the file, and gone from the job's rows once the
 * file is processed (read, refused or cancelled), never in the job's view or the audit log. Real
 * server on loopback, real metadata store (SQLite, or PostgreSQL in the second pass), an
 * RC4-encrypted fixture PDF (test/ingest/fixtures.ts).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { buildPdf } from "./ingest/fixtures.ts";
import { spawnKb } from "./helpers/cli.ts";
import { openTestKb, sqlRows, startTestServer, storeForFolder, waitForJob, type TestServer } from "./helpers/kb.ts";

const PASSWORD = "s3cret-Payroll!";
const encrypted = (line: string) => buildPdf({ pages: [[line]], encrypt: { userPassword: "s3cret" } });

/** Every job file row's options that still hold a password, as the store keeps them. */
async function passwordsKept(t: { kb: Parameters<typeof sqlRows>[0] }): Promise<unknown[]> {
  const rows = await sqlRows(t.kb, "SELECT options FROM job_files");
  return rows.map((r) => (typeof r.options === "string" ? JSON.parse(r.options) : r.options) as Record<string, unknown>).filter((o) => "password" in o);
}

describe("encrypted PDFs through the HTTP upload", () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await t.tokenFor("root", "admin");
  });
  afterAll(async () => t?.close());

  async function upload(name: string, bytes: Uint8Array, password?: string) {
    const fd = new FormData();
    fd.append("file", new Blob([bytes as never]), name);
    if (password !== undefined) fd.append("password", password);
    const res = await t.fetchAs(admin, "/api/v1/documents", { method: "POST", body: fd });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string };
    return waitForJob(t, admin, body.jobId);
  }

  it("reads an encrypted PDF with its password; without it or with a wrong one the file fails with a named code", async () => {
    const none = await upload("payroll-a.pdf", encrypted("Payroll table for the Busan branch."));
    expect(none.files[0]).toMatchObject({ status: "failed", errorCode: "encrypted_pdf" });
    const wrong = await upload("payroll-b.pdf", encrypted("Payroll table for the Busan branch."), "not-it");
    expect(wrong.files[0]).toMatchObject({ status: "failed", errorCode: "wrong_password" });
    const right = await upload("payroll-c.pdf", encrypted("Payroll table for the Daegu branch."), "s3cret");
    expect(right.files[0]).toMatchObject({ status: "succeeded" });
    const res = await t.fetchAs(admin, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "Daegu payroll" }) });
    const search = (await res.json()) as { results: { source: string }[] };
    expect(search.results.map((r) => r.source)).toContain("payroll-c.pdf");

    // The job's view and the audit log never carry it; the rows no longer do either.
    for (const job of [none, wrong, right]) expect(JSON.stringify(job)).not.toContain("s3cret");
    expect(JSON.stringify(await sqlRows(t.kb, "SELECT * FROM audit_events"))).not.toContain("s3cret");
    expect(await passwordsKept(t)).toEqual([]);
  });

  it("a password over the limit is refused before anything is stored", async () => {
    const blobs = () => (fs.existsSync(t.kb.config.blobDir) ? fs.readdirSync(t.kb.config.blobDir, { recursive: true }).length : 0);
    const before = blobs();
    const fd = new FormData();
    fd.append("file", new Blob([encrypted("x") as never]), "long.pdf");
    fd.append("password", "p".repeat(257));
    const res = await t.fetchAs(admin, "/api/v1/documents", { method: "POST", body: fd });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("too_long");
    expect(blobs()).toBe(before);
  });
});

describe("the store drops a file's password when the file or its job ends", () => {
  it("cancelled files and a finished job's queued files keep no password; a running file keeps it until it ends", async () => {
    const t = await openTestKb();
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pdfpw-"));
      const files = ["a.pdf", "b.pdf", "c.pdf"].map((n) => {
        fs.writeFileSync(path.join(dir, n), encrypted(n));
        return { source: n, path: path.join(dir, n), password: PASSWORD };
      });
      // No worker runs these jobs: the rows are driven through the store as a worker drives them.
      const cancelled = await t.kb.ingest.submit(SYSTEM_ACTOR, files.slice(0, 1));
      const finished = await t.kb.ingest.submit(SYSTEM_ACTOR, files.slice(1));
      expect((await passwordsKept(t)).length).toBe(3);

      expect(await t.kb.metadata.jobs.cancel(cancelled.jobId)).toBe(true);
      expect((await passwordsKept(t)).length).toBe(2);

      await t.kb.metadata.jobs.setFile(finished.jobId, 0, { status: "running" });
      expect((await passwordsKept(t)).length).toBe(2); // still needed: the file is being read
      await t.kb.metadata.jobs.setFile(finished.jobId, 0, { status: "failed", errorCode: "wrong_password", error: "wrong" });
      expect((await passwordsKept(t)).length).toBe(1);
      await t.kb.metadata.jobs.finish(finished.jobId, "failed", "stopped"); // its second file never ran
      expect(await passwordsKept(t)).toEqual([]);
      // The other options are kept.
      const options = (await t.kb.metadata.jobs.files(finished.jobId)).map((f) => f.options);
      expect(options.every((o) => typeof o.documentId === "string")).toBe(true);
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      await t.close();
    }
  });
});

describe("the migration that clears rows written before the rule", () => {
  it("drops the password of finished files and of a finished job's files, and keeps a queued file's", async () => {
    const t = await openTestKb();
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pdfpw-mig-"));
      const file = (n: string) => {
        fs.writeFileSync(path.join(dir, n), encrypted(n));
        return { source: n, path: path.join(dir, n), password: PASSWORD };
      };
      const done = await t.kb.ingest.submit(SYSTEM_ACTOR, [file("a.pdf"), file("b.pdf")]);
      const active = await t.kb.ingest.submit(SYSTEM_ACTOR, [file("c.pdf"), file("d.pdf")]);
      await t.kb.metadata.jobs.finish(done.jobId, "failed", "stopped");
      await t.kb.metadata.jobs.setFile(active.jobId, 0, { status: "succeeded" });
      // As rows written by an older version hold them: the password back in every row.
      const json = t.kb.metadataKind === "sqlite" ? `json_set(options, '$.password', '${PASSWORD}')` : `options || '{"password": "${PASSWORD}"}'::jsonb`;
      await sqlRows(t.kb, `UPDATE job_files SET options = ${json}`);
      expect((await passwordsKept(t)).length).toBe(4);
      const migration = t.kb.metadataKind === "sqlite" ? "drizzle/sqlite/0016_drop_finished_job_secrets.sql" : "drizzle/pg/0004_drop_finished_job_secrets.sql";
      await sqlRows(t.kb, fs.readFileSync(migration, "utf8"));
      const kept = await sqlRows(t.kb, "SELECT job_id, ordinal, options FROM job_files");
      const withPassword = kept.filter((r) => JSON.stringify(r.options).includes(PASSWORD)).map((r) => `${r.job_id === active.jobId ? "active" : "done"}:${r.ordinal}`);
      expect(withPassword).toEqual(["active:1"]); // queued, in a job still running: still to be read
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      await t.close();
    }
  });
});

describe("kb ingest --pdf-password-stdin", () => {
  let dir: string;
  let store: Awaited<ReturnType<typeof storeForFolder>>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pdfpw-cli-"));
    store = await storeForFolder();
  });
  afterAll(async () => {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const kb = (args: string[], input: string) =>
    spawnKb(args, input, { ...process.env, KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", ...store.env });

  it("reads the password from standard input (never from the arguments) and ingests the file", async () => {
    const file = path.join(dir, "salaries.pdf");
    fs.writeFileSync(file, buildPdf({ pages: [["Salary bands of the Ulsan plant."]], encrypt: { userPassword: PASSWORD } }));
    const ok = await kb(["ingest", file, "--pdf-password-stdin"], `${PASSWORD}\n`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/succeeded/);
    expect(ok.stdout + ok.stderr).not.toContain(PASSWORD);

    const empty = await kb(["ingest", file, "--pdf-password-stdin"], "");
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toMatch(/standard input held no password/);

    const t = await openTestKb({ dataDir: path.join(dir, "data"), ...store.overrides });
    try {
      const hits = await t.kb.search.search(SYSTEM_ACTOR, "Ulsan salary bands", { topK: 5 });
      expect(hits.chunks.map((c) => c.source)).toContain(file);
      expect(await passwordsKept(t)).toEqual([]);
    } finally {
      await t.kb.close();
    }
  });
});
