/**
 * Document identity (issue 10, finding 1): an upload never takes over someone else's document,
 * and a name that matches a document the caller cannot read changes nothing about the answer.
 * An upload's permission is checked before its body is read (finding 3): a refused upload
 * leaves no bytes behind. Real server on loopback, real stores.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, waitForJob, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let admin: string;
let editorA: string;
let editorB: string;
let hrViewer: string;
let viewer: string;

function form(files: { name: string; content: string }[], fields: Record<string, string> = {}): FormData {
  const fd = new FormData();
  for (const f of files) fd.append("file", new Blob([f.content]), f.name);
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

async function upload(token: string, name: string, content: string, fields: Record<string, string> = {}) {
  const res = await t.fetchAs(token, "/api/v1/documents", { method: "POST", body: form([{ name, content }], fields) });
  return { status: res.status, body: (await res.json()) as any };
}

async function replaceContent(token: string, id: string, name: string, content: string, headers: Record<string, string> = {}) {
  const res = await t.fetchAs(token, `/api/v1/documents/${id}/content`, { method: "PUT", body: form([{ name, content }]), headers });
  return { status: res.status, body: (await res.json()) as any };
}

async function settled(token: string, jobId: string) {
  const job = await waitForJob(t, token, jobId);
  expect(["succeeded", "partial", "failed"]).toContain(job.status);
  return job;
}

const blobCount = () => {
  const dir = path.join(t.dir, "blobs");
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true }).filter((p) => fs.statSync(path.join(dir, String(p))).isFile()).length;
};

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  admin = await t.tokenFor("root", "admin");
  editorA = await t.tokenFor("alice", "editor");
  editorB = await t.tokenFor("bob", "editor");
  hrViewer = await t.tokenFor("hana", "viewer", ["hr"]);
  viewer = await t.tokenFor("vic", "viewer");
});
afterAll(async () => t?.close());

describe("document identity", () => {
  it("an admin's upload under an editor's file name is a new document the editor cannot reach", async () => {
    const placeholder = await upload(editorA, "org-restructure-2025.md", "# Placeholder\n\nNothing here yet, alice's placeholder.");
    expect(placeholder.status).toBe(202);
    await settled(editorA, placeholder.body.jobId);
    const aliceDoc = placeholder.body.documents[0].id;

    const real = await upload(admin, "org-restructure-2025.md", "# Reorganisation 2025\n\nThe finance team merges into operations in March.", { allow: "group:hr" });
    expect(real.status).toBe(202);
    const realDoc = real.body.documents[0].id;
    expect(realDoc).not.toBe(aliceDoc);
    await settled(admin, real.body.jobId);

    const meta = (await (await t.fetchAs(admin, `/api/v1/documents/${realDoc}`)).json()) as any;
    expect(meta.owner).toBe("user:root");
    expect(meta.acl.allow).not.toContain("user:alice");
    expect((await t.fetchAs(editorA, `/api/v1/documents/${realDoc}`)).status).toBe(404);
    expect((await t.fetchAs(editorA, `/api/v1/documents/${realDoc}/text`)).status).toBe(404);
    const put = await t.fetchAs(editorA, `/api/v1/documents/${realDoc}/acl`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allow: ["group:everyone"], deny: [] }) });
    expect(put.status).toBe(404);
    const search = (await (await t.fetchAs(editorA, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "finance operations March" }) })).json()) as any;
    expect(search.results.map((r: any) => r.documentId)).not.toContain(realDoc);

    // HR reads the real file; alice's placeholder is untouched and still hers.
    expect((await t.fetchAs(hrViewer, `/api/v1/documents/${realDoc}`)).status).toBe(200);
    const mine = (await (await t.fetchAs(editorA, `/api/v1/documents/${aliceDoc}/text`)).json()) as any;
    expect(mine.pages[0].text).toContain("placeholder");

    // Admin tools that take a document by source list both instead of picking one.
    const explain = await t.fetchAs(admin, "/api/v1/admin/explain?user=alice&document=org-restructure-2025.md");
    expect(explain.status).toBe(409);
    const body = (await explain.json()) as any;
    expect(body.error.code).toBe("ambiguous_document");
    expect(body.error.candidates.map((c: any) => c.id).sort()).toEqual([aliceDoc, realDoc].sort());
  });

  it("a name matching a hidden document answers exactly like a fresh name (no oracle, no squatting)", async () => {
    const hidden = await upload(admin, "layoffs-q3.md", "# Layoffs\n\nConfidential list.", { allow: "user:root" });
    await settled(admin, hidden.body.jobId);
    const hiddenId = hidden.body.documents[0].id;

    const taken = await upload(editorB, "layoffs-q3.md", "bob guesses the name");
    const fresh = await upload(editorB, "no-such-name-anywhere.md", "bob guesses another name");
    expect(taken.status).toBe(fresh.status);
    expect(taken.status).toBe(202);
    expect(taken.body.documents[0].id).not.toBe(hiddenId);
    await settled(editorB, taken.body.jobId);
    await settled(editorB, fresh.body.jobId);
    const hiddenNow = (await (await t.fetchAs(admin, `/api/v1/documents/${hiddenId}`)).json()) as any;
    expect(hiddenNow.owner).toBe("user:root");
    expect(hiddenNow.acl.allow).toEqual(["user:root"]);
    expect(hiddenNow.version).toBe(1);

    // Having squatted the name does not stop the admin from re-uploading their own document.
    const again = await upload(admin, "layoffs-q3.md", "# Layoffs\n\nConfidential list, revised.");
    expect(again.body.documents[0].id).toBe(hiddenId);
  });

  it("the same caller re-uploading a name updates their own document; unchanged content is a no-op", async () => {
    const first = await upload(editorB, "notes.md", "# Notes\n\nFirst draft.");
    await settled(editorB, first.body.jobId);
    const id = first.body.documents[0].id;
    const same = await upload(editorB, "notes.md", "# Notes\n\nFirst draft.");
    expect(same.body.documents[0].id).toBe(id);
    expect((await settled(editorB, same.body.jobId)).files[0].status).toBe("unchanged");
    const changed = await upload(editorB, "notes.md", "# Notes\n\nSecond draft.");
    expect(changed.body.documents[0].id).toBe(id);
    await settled(editorB, changed.body.jobId);
    expect(((await (await t.fetchAs(editorB, `/api/v1/documents/${id}`)).json()) as any).version).toBe(2);
  });

  it("updating another owner's document takes its id, the update right, and a current If-Match", async () => {
    const base = await upload(editorA, "handbook.md", "# Handbook\n\nVersion one of the handbook.");
    await settled(editorA, base.body.jobId);
    const id = base.body.documents[0].id;

    // bob cannot read it: 404, as for an id that does not exist.
    const hidden = await t.fetchAs(admin, `/api/v1/documents/${id}/acl`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allow: ["user:alice"], deny: [] }) });
    expect(hidden.status).toBe(200);
    expect((await replaceContent(editorB, id, "handbook.md", "bob's text")).status).toBe(404);
    expect((await replaceContent(editorB, "doc_does_not_exist", "handbook.md", "bob's text")).status).toBe(404);

    // bob can read it but does not manage it: 403.
    await t.fetchAs(admin, `/api/v1/documents/${id}/acl`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allow: ["group:everyone"], deny: [] }) });
    expect((await replaceContent(editorB, id, "handbook.md", "bob's text")).status).toBe(403);

    // Granted management: bob updates it, with the current version; a stale one is a conflict.
    await t.fetchAs(admin, `/api/v1/documents/${id}/acl`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allow: ["group:everyone"], deny: [], manage: ["user:bob"] }) });
    const meta = await t.fetchAs(editorB, `/api/v1/documents/${id}`);
    expect(meta.headers.get("etag")).toBe('"1"');
    await meta.arrayBuffer();
    const ok = await replaceContent(editorB, id, "handbook-v2.md", "# Handbook\n\nVersion two of the handbook.", { "if-match": '"1"' });
    expect(ok.status).toBe(202);
    expect(ok.body.documents[0].id).toBe(id);
    await settled(editorB, ok.body.jobId);
    const after = (await (await t.fetchAs(editorA, `/api/v1/documents/${id}`)).json()) as any;
    expect(after.version).toBe(2);
    expect(after.owner).toBe("user:alice");
    const stale = await replaceContent(editorB, id, "handbook.md", "# Handbook\n\nVersion three.", { "if-match": '"1"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("version_conflict");
    expect((await replaceContent(editorB, id, "handbook.md", "x", { "if-match": "yesterday" })).status).toBe(400);
  });

  it("documents the update route and If-Match in OpenAPI", async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as any;
    const put = doc.paths["/api/v1/documents/{id}/content"]?.put;
    expect(put?.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["id", "if-match"]));
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(["202", "403", "404", "409"]));
  });

  it("refuses an upload before its body is stored", async () => {
    const before = blobCount();
    const res = await upload(viewer, "viewer-upload.md", "a viewer's bytes that must not be stored " + Date.now());
    expect(res.status).toBe(403);
    expect(blobCount()).toBe(before);
    const put = await replaceContent(viewer, "doc_anything", "x.md", "more bytes that must not be stored " + Date.now());
    expect(put.status).toBe(403);
    expect(blobCount()).toBe(before);
  });
});
