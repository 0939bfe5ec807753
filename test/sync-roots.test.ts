/**
 * Issue 10, finding 14: folder syncs read only under the configured sync roots (symlinks and
 * `..` resolved), through the API, the operator's `kb sync` and KB_SYNC_SOURCES schedules; and
 * the default access of synced documents comes from the document rules, so it can be
 * deny-by-default.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import type { Kb } from "../src/services/container.ts";
import { ServiceError } from "../src/services/errors.ts";
import { parseSources, Scheduler } from "../src/services/jobs/schedules.ts";
import { ingestNow, openTestKb, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

const post = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function runNow(kb: Kb, jobId: string) {
  const job = await kb.jobs.runHere(jobId);
  expect(job).toBeDefined();
  return job!;
}

async function refusal(fn: () => unknown): Promise<{ status: number; code: string } | null> {
  try {
    await fn();
    return null;
  } catch (err) {
    if (err instanceof ServiceError) return { status: err.status, code: err.code };
    throw err;
  }
}

describe("sync roots", () => {
  let base: string;
  let root: string;
  let outside: string;
  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), "kb-roots-"));
    root = path.join(base, "share");
    outside = path.join(base, "secret");
    writeFiles(root, { "team/notes.txt": "team notes about the cafeteria menu" });
    writeFiles(outside, { "keys.txt": "the private signing key of the company" });
    writeFiles(path.join(base, "share-evil"), { "x.txt": "a sibling folder whose name starts like the root" });
    fs.symlinkSync(outside, path.join(root, "link-out"));
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it("the API refuses every folder when no roots are configured; the operator on the machine may sync", async () => {
    const s = await startTestServer();
    try {
      const admin = await s.tokenFor("root", "admin");
      const res = await s.fetchAs(admin, "/api/v1/jobs/sync", post({ folder: outside }));
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error.code).toBe("sync_roots_not_configured");
      expect((await s.kb.metadata.jobs.list({})).filter((j) => j.kind === "sync")).toEqual([]);
      // `kb sync` runs as the operator, who can read the folder anyway.
      expect(await refusal(() => s.kb.jobs.submitSync(SYSTEM_ACTOR, { folder: root }))).toBeNull();
    } finally {
      await s.close();
    }
  });

  it("with roots, only folders really under one may be synced, by the API, the operator and schedules alike", async () => {
    const s = await startTestServer({ syncRoots: [root] });
    try {
      const admin = await s.tokenFor("root", "admin");
      const status = async (folder: string) => {
        const res = await s.fetchAs(admin, "/api/v1/jobs/sync", post({ folder }));
        return { status: res.status, code: res.status === 202 ? null : ((await res.json()) as any).error.code };
      };
      expect(await status(outside)).toEqual({ status: 403, code: "folder_not_allowed" });
      expect(await status(path.join(root, "..", "secret"))).toEqual({ status: 403, code: "folder_not_allowed" });
      expect(await status(path.join(root, "link-out"))).toEqual({ status: 403, code: "folder_not_allowed" }); // symlink escape
      expect(await status(path.join(base, "share-evil"))).toEqual({ status: 403, code: "folder_not_allowed" }); // prefix, not a parent
      expect(await status(path.join(root, "team"))).toEqual({ status: 202, code: null });
      expect((await s.kb.metadata.jobs.list({})).filter((j) => j.kind === "sync").map((j) => j.params.folder)).toEqual([path.join(fs.realpathSync(root), "team")]);

      // The operator too, once roots are configured.
      expect(await refusal(() => s.kb.jobs.submitSync(SYSTEM_ACTOR, { folder: outside }))).toEqual({ status: 403, code: "folder_not_allowed" });
      // A schedule outside the roots is not submitted, and does not stop one inside.
      const logs: string[] = [];
      const scheduler = new Scheduler(parseSources([{ name: "out", folder: outside, every: "1h" }, { name: "in", folder: root, every: "1h" }], "test"), {
        metadata: s.kb.metadata,
        jobsService: s.kb.jobs,
        log: (msg) => logs.push(msg),
      });
      const submitted = await scheduler.tick();
      scheduler.close();
      expect(submitted).toHaveLength(1);
      expect((await s.kb.metadata.jobs.byId(submitted[0]!))!.params.folder).toBe(fs.realpathSync(root));
      expect(logs).toContain("scheduled sync refused");
    } finally {
      await s.close();
    }
  });
});

describe("default access of synced documents", () => {
  it("comes from the document rules: a `synced` rule makes synced folders deny-by-default", async () => {
    const policyDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-policy-"));
    fs.writeFileSync(
      path.join(policyDir, "document-rules.json"),
      JSON.stringify({ rules: [{ name: "synced-private", match: { synced: true }, allow: [] }] }),
    );
    const t = await openTestKb({ policyDir });
    try {
      const folder = path.join(t.dir, "share");
      writeFiles(folder, { "plan.txt": "The relocation plan for the Busan office is confidential until March." });
      const [uploaded] = writeFiles(path.join(t.dir, "upload"), { "menu.txt": "The relocation of the cafeteria menu board is public news." });
      await ingestNow(t.kb, [{ source: uploaded!, path: uploaded! }]);
      const { jobId } = await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder });
      expect((await runNow(t.kb, jobId)).status).toBe("succeeded");

      const synced = (await t.kb.metadata.documents.bySource(path.join(fs.realpathSync(folder), "plan.txt")))!;
      expect(synced.aclAllow).toEqual([]); // nobody but admins until access is given
      expect((await t.kb.metadata.documents.bySource(uploaded!))!.aclAllow).toEqual(["group:everyone"]); // uploads keep the default

      await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
      const kim = await t.kb.accounts.actorByName("kim");
      const found = async () => (await t.kb.retriever.retrieve(kim, "relocation plan Busan office", { topK: 10 })).chunks.map((c) => c.documentId);
      expect(await found()).not.toContain(synced.id);
      await t.kb.access.setAcl(SYSTEM_ACTOR, synced.id, { allow: ["user:kim"], deny: [] });
      expect(await found()).toContain(synced.id);

      // A re-sync keeps the access given since (it is the document's, not the rule's, now).
      fs.appendFileSync(path.join(folder, "plan.txt"), "\nUpdated: the move is in April.");
      const again = await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder });
      expect((await runNow(t.kb, again.jobId)).status).toBe("succeeded");
      expect((await t.kb.metadata.documents.byId(synced.id))!.aclAllow).toEqual(["user:kim"]);
    } finally {
      await t.close();
      fs.rmSync(policyDir, { recursive: true, force: true });
    }
  });
});
