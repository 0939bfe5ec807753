/** Job kinds beyond ingest: folder sync, reindex, cancel, and the jobs API. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import type { Kb, KbStores } from "../src/services/container.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { cronDueBetween, parseCron, parseSources, Scheduler } from "../src/services/jobs/schedules.ts";
import { ingestNow, openTestKb, startTestServer, waitForJob, writeFiles, type TestKb, type TestServer } from "./helpers/kb.ts";

async function runNow(kb: Kb, jobId: string) {
  const job = await kb.jobs.runHere(jobId);
  expect(job).toBeDefined();
  return job!;
}

const docsBySource = async (kb: Kb & KbStores) => new Map((await kb.metadata.documents.all()).map((d) => [d.source, d]));

describe("folder sync", () => {
  let t: TestKb;
  let folder: string;
  beforeAll(async () => {
    t = await openTestKb();
    folder = path.join(t.dir, "share");
    writeFiles(folder, {
      "a.md": "# Alpha\n\nApples are red.",
      "b.txt": "Bravo talks about bananas. 바나나는 노랗다.",
      "sub/c.html": "<html><head><title>Charlie</title></head><body><p>Cherries are sweet.</p></body></html>",
      "d.txt": "Delta is about dates.",
      ".hidden.txt": "never ingested",
    });
  });
  afterAll(async () => t?.close());

  it("adds every file of a new folder", async () => {
    const v = await runNow(t.kb, (await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder })).jobId);
    expect(v.status).toBe("succeeded");
    expect(v.counts).toEqual({ succeeded: 4 });
    expect([...(await docsBySource(t.kb)).keys()].map((s) => path.relative(folder, s)).sort()).toEqual(["a.md", "b.txt", "d.txt", "sub/c.html"]);
  });

  it("skips unchanged files by size and mtime without reading them, and changes nothing", async () => {
    const version = await t.kb.chunks.version();
    const v = await runNow(t.kb, (await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder })).jobId);
    expect(v.counts).toEqual({ unchanged: 4 });
    expect(await t.kb.chunks.version()).toBe(version);
  });

  it("adds, updates and deletes exactly what changed", async () => {
    const before = await docsBySource(t.kb);
    const chunksBefore = await t.kb.chunks.list(null, ["chunk_id", "document_id", "text"]);
    fs.writeFileSync(path.join(folder, "b.txt"), "Bravo now talks about blueberries. 블루베리는 파랗다.");
    fs.rmSync(path.join(folder, "d.txt"));
    fs.rmSync(path.join(folder, "sub"), { recursive: true });
    writeFiles(folder, { "e.txt": "Echo is about elderberries." });
    // Same content, new mtime: hashed, found unchanged, and its mtime recorded.
    const a = path.join(folder, "a.md");
    fs.utimesSync(a, new Date(), new Date(Date.now() + 5000));
    const v = await runNow(t.kb, (await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder })).jobId);
    expect(v.status).toBe("succeeded");
    const byFile = Object.fromEntries(v.files.map((f) => [path.relative(folder, f.source), `${f.action ?? "ingest"}:${f.status}`]));
    expect(byFile).toEqual({ "a.md": "ingest:unchanged", "b.txt": "ingest:succeeded", "e.txt": "ingest:succeeded", "d.txt": "delete:succeeded", "sub/c.html": "delete:succeeded" });
    const after = await docsBySource(t.kb);
    expect([...after.keys()].map((s) => path.relative(folder, s)).sort()).toEqual(["a.md", "b.txt", "e.txt"]);
    expect(after.get(path.join(folder, "b.txt"))).toMatchObject({ id: before.get(path.join(folder, "b.txt"))!.id, version: 2, status: "ready" });
    expect(after.get(a)!.sourceMtimeMs).toBe(Math.trunc(fs.statSync(a).mtimeMs));
    // The chunk table holds exactly the live documents' chunks.
    const rows = await t.kb.chunks.list(null, ["chunk_id", "document_id", "document_version", "text"]);
    const live = new Map([...after.values()].map((d) => [d.id, d]));
    expect(rows.every((r) => live.get(String(r.document_id))?.version === Number(r.document_version))).toBe(true);
    expect(new Set(rows.map((r) => String(r.document_id)))).toEqual(new Set(live.keys()));
    const aId = after.get(a)!.id;
    const plain = (r: Record<string, unknown>) => ({ chunk_id: r.chunk_id, text: r.text });
    expect(rows.filter((r) => r.document_id === aId).map(plain)).toEqual(chunksBefore.filter((r) => r.document_id === aId).map(plain));
    expect(rows.map((r) => String(r.text)).join(" ")).toContain("blueberries");
    // Nothing left to do: a second run changes nothing.
    const again = await runNow(t.kb, (await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder })).jobId);
    expect(again.counts).toEqual({ unchanged: 3 });
  });

  it("fails (and deletes nothing) when the folder is missing", async () => {
    const n = (await t.kb.metadata.documents.count());
    const v = await runNow(t.kb, (await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder: path.join(t.dir, "not-mounted") })).jobId);
    expect(v.status).toBe("failed");
    expect(v.error).toMatch(/folder_unreadable/);
    expect((await t.kb.metadata.documents.count())).toBe(n);
  });

  it("reindexes from stored originals, and a second reindex changes nothing", async () => {
    const rows = await t.kb.chunks.list(null, ["chunk_id", "text"]);
    const first = await runNow(t.kb, (await t.kb.jobs.submitReindex(SYSTEM_ACTOR)).jobId);
    expect(first.status).toBe("succeeded");
    expect(first.progress).toEqual({ done: 3, total: 3 });
    expect(await t.kb.chunks.list(null, ["chunk_id", "text"])).toEqual(rows);
    const version = await t.kb.chunks.version();
    const second = await runNow(t.kb, (await t.kb.jobs.submitReindex(SYSTEM_ACTOR)).jobId);
    expect(second.counts).toEqual({ unchanged: 3 });
    expect(await t.kb.chunks.version()).toBe(version);
  });

  it("cancels a queued job and removes the documents it created", async () => {
    const files = writeFiles(path.join(t.dir, "other"), { "x.txt": "x content", "y.txt": "y content" });
    const { jobId, documents } = await t.kb.ingest.submit(SYSTEM_ACTOR, files.map((f) => ({ source: f, path: f })));
    expect((await t.kb.metadata.documents.byId(documents[0]!.id))).toMatchObject({ status: "processing" });
    const v = await t.kb.jobs.cancel(SYSTEM_ACTOR, jobId);
    expect(v.status).toBe("cancelled");
    expect(v.files.map((f) => f.status)).toEqual(["cancelled", "cancelled"]);
    expect((await t.kb.metadata.documents.byId(documents[0]!.id))).toBeUndefined();
    await expect(t.kb.jobs.cancel(SYSTEM_ACTOR, jobId)).rejects.toMatchObject({ status: 409 });
  });
});

describe("schedules", () => {
  it("parses sources and cron expressions", () => {
    const [s] = parseSources([{ name: "hr", folder: "/srv/hr", every: "15m", allow: "group:hr", classification: "confidential" }], "test");
    expect(s).toMatchObject({ name: "hr", everyMs: 900_000, allow: ["group:hr"], classification: 2 });
    expect(() => parseSources([{ name: "x", folder: "rel/path", every: "1h" }], "test")).toThrow(/absolute/);
    expect(() => parseSources([{ name: "x", folder: "/a" }], "test")).toThrow(/every/);
    const c = parseCron("*/15 2-3 * * 1-5");
    expect(c.matches(new Date(2026, 0, 5, 2, 30))).toBe(true); // a Monday
    expect(c.matches(new Date(2026, 0, 4, 2, 30))).toBe(false); // a Sunday
    expect(c.matches(new Date(2026, 0, 5, 4, 0))).toBe(false);
    expect(cronDueBetween(parseCron("0 2 * * *"), new Date(2026, 0, 5, 1, 0), new Date(2026, 0, 5, 2, 0))).toBe(true);
    expect(cronDueBetween(parseCron("0 2 * * *"), new Date(2026, 0, 5, 2, 0), new Date(2026, 0, 5, 3, 0))).toBe(false);
  });

  it("submits a due sync once, not again while it is active, and again when due", async () => {
    const t = await openTestKb();
    try {
      const folder = path.join(t.dir, "watched");
      writeFiles(folder, { "a.txt": "scheduled content" });
      let now = new Date();
      const scheduler = new Scheduler(parseSources([{ name: "w", folder, every: "1h" }], "test"), {
        metadata: t.kb.metadata,
        jobsService: t.kb.jobs,
        now: () => now,
      });
      const [jobId] = await scheduler.tick();
      expect(jobId).toBeDefined();
      expect(await scheduler.tick()).toEqual([]);
      expect((await runNow(t.kb, jobId!)).status).toBe("succeeded");
      expect((await t.kb.metadata.jobs.byId(jobId!))!.createdBy).toBe("schedule:w");
      expect(await scheduler.tick()).toEqual([]); // not due yet
      now = new Date(now.getTime() + 3_600_000);
      expect(await scheduler.tick()).toHaveLength(1);
      scheduler.close();
    } finally {
      await t.close();
    }
  });

  it("syncs a watched folder a few seconds after a file changes in it (subfolders too), and not otherwise", async () => {
    const t = await openTestKb();
    try {
      const folder = path.join(t.dir, "watched");
      writeFiles(folder, { "a.txt": "first document" });
      let now = () => new Date();
      const scheduler = new Scheduler(parseSources([{ name: "w", folder, watch: true }], "test"), {
        metadata: t.kb.metadata,
        jobsService: t.kb.jobs,
        now: () => now(),
      });
      try {
        // One catch-up sync when the watch starts (files may have changed while nobody watched).
        const [first] = await scheduler.tick();
        expect(first).toBeDefined();
        expect((await runNow(t.kb, first!)).status).toBe("succeeded");
        expect((await t.kb.metadata.documents.all()).map((d) => path.basename(d.source))).toEqual(["a.txt"]);
        expect(await scheduler.tick()).toEqual([]); // nothing changed since
        writeFiles(path.join(folder, "sub"), { "b.txt": "added while watched" });
        await new Promise((r) => setTimeout(r, 500)); // the file event arrives
        expect(await scheduler.tick()).toEqual([]); // changes are debounced for 3 s
        now = () => new Date(Date.now() + 3_500);
        const [jobId] = await scheduler.tick();
        expect(jobId).toBeDefined();
        expect((await t.kb.metadata.jobs.byId(jobId!))!.createdBy).toBe("schedule:w");
        expect((await runNow(t.kb, jobId!)).status).toBe("succeeded");
        expect((await t.kb.metadata.documents.all()).map((d) => path.basename(d.source)).sort()).toEqual(["a.txt", "b.txt"]);
        now = () => new Date(Date.now() + 60_000);
        expect(await scheduler.tick()).toEqual([]); // no change since that sync
      } finally {
        scheduler.close();
      }
    } finally {
      await t.close();
    }
  });
});

describe("jobs API", () => {
  let s: TestServer;
  let admin: string;
  let editor: string;
  let folder: string;
  const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  beforeAll(async () => {
    s = await startTestServer({ syncRoots: [os.tmpdir()] }); // the test folder lies under it
    admin = await s.tokenFor("root", "admin");
    editor = await s.tokenFor("ed", "editor");
    folder = path.join(s.dir, "share");
    writeFiles(folder, { "one.txt": "first file about the cafeteria", "two.txt": "second file about parking" });
  });
  afterAll(async () => s?.close());

  it("runs a sync submitted by an admin and reports progress, throughput and per-file outcomes", async () => {
    const res = await s.fetchAs(admin, "/api/v1/jobs/sync", json({ folder, allow: "group:hr" }));
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as any;
    const job = await waitForJob(s, admin, jobId);
    expect(job).toMatchObject({ id: jobId, kind: "sync", status: "succeeded", progress: { done: 2, total: 2 }, etaSeconds: 0, params: { folder } });
    expect(job.throughput).toBeGreaterThan(0);
    expect(job.files.map((f: any) => f.status)).toEqual(["succeeded", "succeeded"]);
    expect((await s.kb.metadata.documents.bySource(path.join(folder, "one.txt")))!.aclAllow).toEqual(["group:hr", "user:root"]); // + the owner
  });

  it("keeps whole-index jobs to admins", async () => {
    for (const [route, body] of [["/api/v1/jobs/sync", { folder }], ["/api/v1/jobs/reindex", {}], ["/api/v1/jobs/reembed", { model: null }], ["/api/v1/jobs/optimize", {}]] as const) {
      expect((await s.fetchAs(editor, route, json(body))).status).toBe(403);
    }
    expect((await s.fetchAs(admin, "/api/v1/jobs/sync", json({ folder: "relative/path" }))).status).toBe(400);
  });

  it("lists jobs (admins: all; others: their own) and cancels", async () => {
    const up = new FormData();
    up.append("file", new Blob(["an editor's note"]), "note.txt");
    const r = await s.fetchAs(editor, "/api/v1/documents", { method: "POST", body: up });
    const { jobId } = (await r.json()) as any;
    await waitForJob(s, editor, jobId);
    const all = (await (await s.fetchAs(admin, "/api/v1/jobs?limit=10")).json()) as any;
    expect(all.items.map((j: any) => j.kind)).toEqual(expect.arrayContaining(["sync", "ingest"]));
    expect(all.items[0].files).toBeUndefined();
    const mine = (await (await s.fetchAs(editor, "/api/v1/jobs")).json()) as any;
    expect(mine.items.map((j: any) => j.id)).toEqual([jobId]);
    const filtered = (await (await s.fetchAs(admin, "/api/v1/jobs?kind=sync&status=succeeded")).json()) as any;
    expect(filtered.items.every((j: any) => j.kind === "sync")).toBe(true);
    const cancel = await s.fetchAs(editor, `/api/v1/jobs/${jobId}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(409);
    const other = (await (await s.fetchAs(admin, "/api/v1/jobs?kind=sync")).json()) as any;
    expect((await s.fetchAs(editor, `/api/v1/jobs/${other.items[0].id}/cancel`, { method: "POST" })).status).toBe(404);
  });

  it("re-embedding to the active model is a no-op job", async () => {
    const res = await s.fetchAs(admin, "/api/v1/jobs/reembed", json({ model: null }));
    expect(res.status).toBe(202);
    const job = await waitForJob(s, admin, ((await res.json()) as any).jobId);
    expect(job).toMatchObject({ status: "succeeded", params: { noop: true } });
  });
});

describe("crash leftovers", () => {
  it("repairs the chunk table from SQLite: orphan chunks, a version written but never committed, diverged access", async () => {
    const t = await openTestKb();
    try {
      const files = writeFiles(path.join(t.dir, "f"), { "a.txt": "alpha text about apples", "b.txt": "bravo text about bananas" });
      await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
      const [a, b] = await Promise.all(files.map(async (f) => (await t.kb.metadata.documents.bySource(f))!));
      // Sorted: the rows' physical order depends on which file finished extracting first.
      const table = async () => (await t.kb.chunks.list(null, ["chunk_id", "text", "allow"])).map((r) => `${r.chunk_id}|${r.text}|${[...(r.allow as string[])].join()}`).sort();
      const clean = await table();
      const rowsOf = async (id: string) => (await t.kb.chunks.snapshot().rowsOf([id])).map((r) => ({ ...r }));
      // A crashed writer left version 2 of a in the table; SQLite still says version 1.
      const a2 = (await rowsOf(a!.id)).map((r) => ({ ...r, chunkId: `${a!.id}:2:${r.ordinal}`, documentVersion: 2, text: "half-written new version" }));
      await t.kb.chunks.replaceDocument(a!.id, a2);
      // Access changed in the table only (an ACL update that died before its SQLite commit).
      await t.kb.chunks.updateAccess(b!.id, { allow: ["user:mallory"], deny: [], classification: 0 });
      // Rows of a document SQLite does not know.
      await t.kb.chunks.replaceDocument("doc_ghost", (await rowsOf(b!.id)).map((r) => ({ ...r, chunkId: `doc_ghost:1:${r.ordinal}`, documentId: "doc_ghost" })));
      const report = await t.kb.jobs.reconcile({ full: true, settleMs: 50 });
      expect(report).toMatchObject({ restored: 1, accessFixed: 1, orphanChunkDocuments: 1 });
      expect(await table()).toEqual(clean);
      expect(await t.kb.jobs.reconcile({ full: true, settleMs: 50 })).toMatchObject({ restored: 0, accessFixed: 0, orphanChunkDocuments: 0 });
    } finally {
      await t.close();
    }
  });

  it("removes document rows whose job was cancelled while its worker was dead, and orphan chunks", async () => {
    const t = await openTestKb();
    try {
      const files = writeFiles(path.join(t.dir, "f"), { "a.txt": "alpha text", "b.txt": "bravo text" });
      await ingestNow(t.kb, [{ source: files[0]!, path: files[0]! }]);
      const { jobId, documents } = await t.kb.ingest.submit(SYSTEM_ACTOR, [{ source: files[1]!, path: files[1]! }]);
      // A worker claimed it, marked the file running and died; then the job was cancelled.
      (await t.kb.metadata.jobs.claimJob(jobId, "dead-worker", STALE_MS));
      (await t.kb.metadata.jobs.setFile(jobId, 0, { status: "running" }));
      (await t.kb.metadata.jobs.cancel(jobId));
      const w = await t.kb.startWorker({ once: true, schedules: false });
      await w.done;
      expect((await t.kb.metadata.documents.byId(documents[0]!.id))).toBeUndefined();
      expect((await t.kb.jobs.view(jobId))!.files[0]).toMatchObject({ status: "cancelled", errorCode: "interrupted" });
    } finally {
      await t.close();
    }
  });
});
