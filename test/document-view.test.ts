/**
 * What the web app shows for a citation and a document list, over HTTP: one page's text (masked
 * as /text masks it), the original file only for those who may see its personal data (or when it
 * has none), and the list of readable documents with filters. A document the caller may not
 * read is not found on every route and never counted.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, startTestServer, withoutRequestId, writeFiles, type TestServer } from "./helpers/kb.ts";
import { buildPdf } from "./ingest/fixtures.ts";

let t: TestServer;
let kim: string;
let admin: string;
let pdfId: string;
let contactsId: string;
let hiddenId: string;
let koreanId: string;
let weirdId: string;
let pdfPath: string;

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
const squash = (s: string) => s.replace(/\s+/g, "");

beforeAll(async () => {
  t = await startTestServer();
  kim = await t.tokenFor("kim", "viewer");
  admin = await t.tokenFor("boss", "admin");
  const pdf = buildPdf({
    title: "Employee handbook",
    pages: [
      ["Welcome to the company.", "This handbook explains our policies."],
      ["Remote work is allowed two days per week.", "Ask your manager before working remotely."],
      ["Expense reports are due by the fifth of each month."],
    ],
  });
  const dir = `${t.dir}/docs`;
  const [handbook, contacts, hidden, korean, weird] = writeFiles(dir, {
    "policies/handbook.pdf": pdf,
    "people/contacts.txt": "Support desk contacts\n\nCall Kim at 010-1234-5678 for building access.\n",
    "hr/salaries.txt": "Salary bands for engineering are reviewed every March.\n",
    "policies/인사규정.txt": "인사 규정\n\n연차 휴가는 매년 15일입니다.\n",
    'misc/we"ird\\name.txt': "A file with an awkward name about parking permits.\n",
  });
  pdfPath = handbook!;
  const { documents } = await ingestNow(t.kb, [
    { source: handbook!, path: handbook!, tags: ["handbook"] } as never,
    { source: contacts!, path: contacts! },
    { source: hidden!, path: hidden!, allow: ["group:hr"] },
    { source: korean!, path: korean! },
    { source: weird!, path: weird! },
  ]);
  [pdfId, contactsId, hiddenId, koreanId, weirdId] = documents.map((d) => d.id) as [string, string, string, string, string];
});
afterAll(async () => t?.close());

describe("a document's page", () => {
  it("gives one page's text with page count, title, type and classification", async () => {
    const { status, body } = await json(await t.fetchAs(kim, `/api/v1/documents/${pdfId}/pages/2`));
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: pdfId, page: 2, pageCount: 3, title: "Employee handbook", type: "pdf", mime: "application/pdf", classification: "internal", originalAvailable: true });
    expect(body.text).toContain("Remote work is allowed two days per week.");
    expect(body.text).not.toContain("Welcome");
    const past = await json(await t.fetchAs(kim, `/api/v1/documents/${pdfId}/pages/4`));
    expect(past.status).toBe(404);
    expect(past.body.error.code).toBe("page_not_found");
    expect((await t.fetchAs(kim, `/api/v1/documents/${pdfId}/pages/0`)).status).toBe(400);
  });

  it("masks personal data exactly as the text endpoint does, and only for users without view_sensitive", async () => {
    const page = (await json(await t.fetchAs(kim, `/api/v1/documents/${contactsId}/pages/1`))).body;
    const text = (await json(await t.fetchAs(kim, `/api/v1/documents/${contactsId}/text`))).body;
    expect(page.text).toBe(text.pages[0].text);
    expect(page.text).not.toContain("010-1234-5678");
    expect(page.originalAvailable).toBe(false);
    const adminPage = (await json(await t.fetchAs(admin, `/api/v1/documents/${contactsId}/pages/1`))).body;
    expect(adminPage.text).toContain("010-1234-5678");
    expect(adminPage.originalAvailable).toBe(true);
  });

  it("a hidden document's page and original are not found, as if it did not exist", async () => {
    for (const p of [`/api/v1/documents/${hiddenId}/pages/1`, `/api/v1/documents/${hiddenId}/original`]) {
      const hidden = await json(await t.fetchAs(kim, p));
      const missing = await json(await t.fetchAs(kim, p.replace(hiddenId, "doc_0000000000000000000000000")));
      expect(hidden.status).toBe(404);
      expect(withoutRequestId(hidden.body)).toEqual(withoutRequestId(missing.body)); // each carries its own request id
    }
  });

  it("an answer's citation names the page its quote stands on, and the quote is on that page", async () => {
    const res = await t.fetchAs(kim, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: "How many days per week is remote work allowed?" }) });
    const answer = (await res.json()) as any;
    expect(answer.found).toBe(true);
    const cite = answer.citations.find((c: any) => c.documentId === pdfId);
    expect(cite).toMatchObject({ page: 2, chunkId: expect.stringMatching(new RegExp(`^${pdfId}:`)) });
    const page = (await json(await t.fetchAs(kim, `/api/v1/documents/${pdfId}/pages/${cite.page}`))).body;
    expect(squash(page.text)).toContain(squash(cite.quote));
  });
});

describe("a document's original", () => {
  it("streams the file as an attachment with its type and nosniff, audited", async () => {
    const res = await t.fetchAs(kim, `/api/v1/documents/${pdfId}/original`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="handbook.pdf"; filename*=UTF-8''handbook.pdf`);
    expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(pdfPath))).toBe(true);
    const event = (await t.kb.audit.repository.query({ action: "document.original" }))[0]!;
    expect(event).toMatchObject({ actor: "user:kim", target: pdfId, outcome: "ok" });
  });

  it("is refused (403 with a code) to a reader without view_sensitive when it holds personal data, given to one with it", async () => {
    const refused = await json(await t.fetchAs(kim, `/api/v1/documents/${contactsId}/original`));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("original_has_personal_data");
    const denied = (await t.kb.audit.repository.query({ action: "access.denied" }))[0]!;
    expect(denied).toMatchObject({ actor: "user:kim", target: `GET /api/v1/documents/${contactsId}/original`, outcome: "denied", details: { code: "original_has_personal_data" } });
    const res = await t.fetchAs(admin, `/api/v1/documents/${contactsId}/original`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("010-1234-5678");
  });

  it("names the file safely: quotes and backslashes replaced, a Korean name in filename*", async () => {
    const weird = await t.fetchAs(kim, `/api/v1/documents/${weirdId}/original`);
    expect(weird.status).toBe(200);
    const cd = weird.headers.get("content-disposition")!;
    expect(cd).toMatch(/^attachment; filename="[^"\\]+"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/);
    await weird.arrayBuffer();
    const korean = await t.fetchAs(kim, `/api/v1/documents/${koreanId}/original`);
    expect(korean.headers.get("content-disposition")).toBe(`attachment; filename="____.txt"; filename*=UTF-8''${encodeURIComponent("인사규정.txt")}`);
    expect(korean.headers.get("content-type")).toMatch(/^text\/plain/);
    await korean.arrayBuffer();
  });
});

describe("the documents list", () => {
  const list = async (token: string, query = "") => (await json(await t.fetchAs(token, `/api/v1/documents${query}`))).body;

  it("lists what I may read with title, type, pages, updated and classification; hidden documents are never counted", async () => {
    const all = await list(kim);
    expect(all.total).toBe(4);
    expect(all.items.map((d: any) => d.id)).not.toContain(hiddenId);
    const pdf = all.items.find((d: any) => d.id === pdfId);
    expect(pdf).toMatchObject({ title: "Employee handbook", type: "pdf", pageCount: 3, classification: "internal", tags: ["handbook"], updatedAt: expect.any(String) });
    expect((await list(admin)).total).toBe(5);
  });

  it("filters by type, folder, tag, title and date, counting only readable documents", async () => {
    expect((await list(kim, "?type=pdf")).items.map((d: any) => d.id)).toEqual([pdfId]);
    expect((await list(kim, "?type=PDF,txt")).total).toBe(4);
    const policies = await list(kim, `?folder=${encodeURIComponent(`${t.dir}/docs/policies/`)}`);
    expect(policies.items.map((d: any) => d.id).sort()).toEqual([pdfId, koreanId].sort());
    // The hidden document's folder gives nothing, not a count.
    expect((await list(kim, `?folder=${encodeURIComponent(`${t.dir}/docs/hr/`)}`)).total).toBe(0);
    expect((await list(admin, `?folder=${encodeURIComponent(`${t.dir}/docs/hr/`)}`)).total).toBe(1);
    expect((await list(kim, "?tag=handbook")).items.map((d: any) => d.id)).toEqual([pdfId]);
    expect((await list(kim, "?q=HANDBOOK")).items.map((d: any) => d.id)).toEqual([pdfId]);
    expect((await list(kim, "?updatedSince=2999-01-01T00:00:00Z")).total).toBe(0);
    expect((await list(kim, "?updatedUntil=2000-01-01T00:00:00Z")).total).toBe(0);
    expect((await list(kim, "?updatedSince=2000-01-01T00:00:00Z&type=txt&limit=1")).items).toHaveLength(1);
  });
});

describe("who am I", () => {
  it("tells a viewer and an admin their role, groups, clearance and capabilities", async () => {
    const viewer = (await json(await t.fetchAs(kim, "/api/v1/me"))).body;
    expect(viewer).toEqual({ name: "kim", role: "viewer", groups: [], clearance: 1, classification: "internal", capabilities: ["search"], scopes: null });
    const boss = (await json(await t.fetchAs(admin, "/api/v1/me"))).body;
    expect(boss).toMatchObject({ name: "boss", role: "admin" });
    expect(boss.capabilities).toEqual(expect.arrayContaining(["manage_users", "review_feedback", "view_audit", "view_sensitive"]));
    expect((await t.fetchAs(null, "/api/v1/me")).status).toBe(401);
  });
});

describe("choosing access for an upload", () => {
  it("the directory lists enabled user names, groups and classifications to uploaders, not to viewers", async () => {
    const editor = await t.tokenFor("writer", "editor");
    await t.kb.admin.createGroup(SYSTEM_ACTOR, "finance");
    await t.tokenFor("gone", "viewer");
    await t.kb.accounts.updateUser("gone", { disabled: true });
    expect((await t.fetchAs(kim, "/api/v1/directory")).status).toBe(403);
    const { status, body } = await json(await t.fetchAs(editor, "/api/v1/directory"));
    expect(status).toBe(200);
    expect(body.users).toEqual(expect.arrayContaining(["kim", "boss", "writer"]));
    expect(body.users).not.toContain("gone");
    expect(body.groups).toEqual([{ name: "finance", description: null, displayName: null, source: "local" }]);
    expect(body.classifications).toEqual([
      { level: 0, label: "public" },
      { level: 1, label: "internal" },
      { level: 2, label: "confidential" },
      { level: 3, label: "secret" },
    ]);
    expect((await json(await t.fetchAs(editor, "/api/v1/directory?q=KI"))).body.users).toEqual(["kim"]);
  });

  it("an upload takes a classification; a reader without the clearance never sees the document", async () => {
    const editor = await t.tokenFor("writer", "editor");
    const form = new FormData();
    form.append("file", new Blob(["Merger plans for next year."], { type: "text/plain" }), "merger.txt");
    form.append("classification", "confidential");
    const res = await t.fetchAs(editor, "/api/v1/documents", { method: "POST", body: form });
    expect(res.status).toBe(202);
    const { jobId, documents } = (await res.json()) as any;
    for (;;) {
      const job = (await json(await t.fetchAs(editor, `/api/v1/jobs/${jobId}`))).body;
      if (!["queued", "running"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const doc = (await json(await t.fetchAs(admin, `/api/v1/documents/${documents[0].id}`))).body;
    expect(doc).toMatchObject({ classification: "confidential", acl: { classification: 2 } });
    expect((await t.fetchAs(kim, `/api/v1/documents/${documents[0].id}/pages/1`)).status).toBe(404);
    const bad = new FormData();
    bad.append("file", new Blob(["x"], { type: "text/plain" }), "x.txt");
    bad.append("classification", "top-secret");
    const refused = await json(await t.fetchAs(editor, "/api/v1/documents", { method: "POST", body: bad }));
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("bad_classification");
  });
});
