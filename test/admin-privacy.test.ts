/**
 * Issue 10, findings 7 and 8, through the real HTTP server with the example custom roles:
 * - a role that manages every document but may not read every document (`librarian`:
 *   manage_all_documents without read_all_documents) learns nothing through /admin/sensitive or
 *   /admin/explain about documents it cannot read;
 * - a reader of the audit log without view_sensitive (`auditor`) sees personal data in recorded
 *   queries, questions, paths and titles masked, in pages and in the JSONL export alike.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, startTestServer, withoutRequestId, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let policyDir: string;
let admin: string;
let librarian: string;
let auditor: string;
let viewer: string;
const docs = { secret: "", open: "" };
let jobId = "";
const PHONE = "010-2345-6789";
const MAIL = "hong.gd@example.co.kr";
const RRN = "900101-1234568";
const json = (method: string, body?: unknown) => ({ method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const get = async (token: string, p: string) => {
  const res = await t.fetchAs(token, p);
  const text = await res.text();
  return { status: res.status, text, body: text && res.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : null };
};

beforeAll(async () => {
  // The example roles file, as shipped: auditor, hr-editor, librarian.
  policyDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-policies-"));
  fs.copyFileSync(path.join(import.meta.dirname, "..", "policies", "examples", "roles.json"), path.join(policyDir, "roles.json"));
  t = await startTestServer({ rateLimitPerMinute: 0, policyDir });
  admin = await t.tokenFor("root", "admin");
  librarian = await t.tokenFor("lib", "librarian");
  auditor = await t.tokenFor("aud", "auditor");
  viewer = await t.tokenFor("kim", "viewer", ["staff"]);
  const dir = path.join(t.dir, "corpus");
  const files = writeFiles(dir, {
    "finance/salaries.txt": `Executive salaries. Contact the CFO at ${PHONE}. Resident number ${RRN}.`,
    [`public/call ${PHONE}.txt`]: `The phone list: reception ${PHONE}, mail ${MAIL}.`,
  });
  const { job, documents } = await ingestNow(t.kb, [
    { source: files[0]!, path: files[0]!, allow: ["group:finance"], title: "Executive salaries 2026" },
    { source: files[1]!, path: files[1]! },
  ]);
  expect(job.status).toBe("succeeded");
  docs.secret = documents[0]!.id;
  docs.open = documents[1]!.id;
  jobId = job.id;
});
afterAll(async () => {
  await t?.close();
  if (policyDir) fs.rmSync(policyDir, { recursive: true, force: true });
});

describe("a role that manages documents it may not read (finding 7)", () => {
  it("follows every job but sees no name or id of a file whose document it may not read", async () => {
    const job = await get(librarian, `/api/v1/jobs/${jobId}`);
    expect(job.status).toBe(200);
    expect(job.body.files).toHaveLength(2);
    expect(job.text).not.toContain("salaries");
    expect(job.text).not.toContain(docs.secret);
    const hidden = job.body.files.find((f: any) => f.documentId === undefined);
    expect(hidden).toMatchObject({ status: "succeeded", source: expect.stringContaining("not shown") });
    // The readable file is named, with personal data in its name masked.
    const shown = job.body.files.find((f: any) => f.documentId === docs.open);
    expect(shown.source).toContain("[REDACTED:phone]");
    // The admin (read_all_documents, view_sensitive) sees both names as they are.
    const full = await get(admin, `/api/v1/jobs/${jobId}`);
    expect(full.text).toContain("salaries");
    expect(full.body.files.map((f: any) => f.documentId).sort()).toEqual([docs.open, docs.secret].sort());
  });

  it("does not see them in the personal-data report; sees the ones it reads, masked", async () => {
    const report = await get(librarian, "/api/v1/admin/sensitive");
    expect(report.status).toBe(200);
    expect(report.body.items.map((i: any) => i.documentId)).toEqual([docs.open]);
    expect(report.text).not.toContain("salaries");
    expect(report.text).not.toContain(docs.secret);
    // The librarian does not hold view_sensitive: the phone number in the file name is masked.
    expect(report.body.items[0].source).toContain("[REDACTED:phone]");
    expect(report.text).not.toContain(PHONE);
    // The admin reads everything and sees both, unmasked.
    const full = await get(admin, "/api/v1/admin/sensitive");
    expect(full.body.items.map((i: any) => i.documentId).sort()).toEqual([docs.open, docs.secret].sort());
    expect(full.text).toContain(PHONE);
  });

  it("gets 404 from explain for a document it cannot read, exactly as for one that does not exist", async () => {
    const source = (await t.kb.metadata.documents.byId(docs.secret))!.source;
    const missingSource = path.join(path.dirname(source), "nothing-here.txt");
    const cases: [string, string][] = [
      [docs.secret, "doc_0000000000000000000000000"],
      [source, missingSource],
    ];
    for (const [hidden, missing] of cases) {
      const a = await get(librarian, `/api/v1/admin/explain?user=kim&document=${encodeURIComponent(hidden)}`);
      const b = await get(librarian, `/api/v1/admin/explain?user=kim&document=${encodeURIComponent(missing)}`);
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      // Same body but for the reference echoed back (and the request id, new per request).
      const body = (text: string, ref: string) => JSON.stringify(withoutRequestId(JSON.parse(text.replace(ref, "REF"))));
      expect(body(a.text, hidden)).toBe(body(b.text, missing));
      expect(a.text.replace(hidden, "REF")).not.toMatch(/salaries|finance|Executive/i);
    }
    // Readable documents are still explained to it; the admin is explained everything.
    expect((await get(librarian, `/api/v1/admin/explain?user=kim&document=${docs.open}`)).body).toMatchObject({ allowed: true, document: { id: docs.open } });
    const forAdmin = await get(admin, `/api/v1/admin/explain?user=kim&document=${docs.secret}`);
    expect(forAdmin.body).toMatchObject({ allowed: false, document: { id: docs.secret, title: "Executive salaries 2026", allow: ["group:finance"] } });
  });
});

describe("the audit log for readers without view_sensitive (finding 8)", () => {
  it("masks personal data in every recorded query, question, path and title", async () => {
    expect((await t.fetchAs(viewer, "/api/v1/search", json("POST", { query: `who has phone ${PHONE} or ${MAIL}` }))).status).toBe(200);
    expect((await t.fetchAs(viewer, "/api/v1/ask", json("POST", { question: `주민등록번호 ${RRN} 인 사람은 누구인가요?` }))).status).toBe(200);
    // A path in a denied request's target, a file name in an ingest job's details.
    expect((await t.fetchAs(viewer, `/api/v1/admin/users/${encodeURIComponent(MAIL)}`)).status).toBe(403);
    const form = new FormData();
    form.append("file", new Blob(["a note"]), `memo ${PHONE}.txt`);
    form.append("title", `Memo for ${MAIL}`);
    expect((await t.fetchAs(admin, "/api/v1/documents", { method: "POST", body: form })).status).toBe(202);

    const page = await get(auditor, "/api/v1/audit?limit=1000");
    expect(page.status).toBe(200);
    const actions = page.body.items.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["search", "ask", "access.denied", "ingest.submit"]));
    for (const raw of [PHONE, MAIL, RRN]) expect(page.text).not.toContain(raw);
    const search = page.body.items.find((e: any) => e.action === "search" && e.actor === "user:kim");
    expect(search.details.query).toBe("who has phone [REDACTED:phone] or [REDACTED:email]");
    // Ids we generate stay readable.
    expect(search.details.chunkIds.length).toBeGreaterThan(0);
    for (const id of search.details.chunkIds) expect(id).toMatch(/^doc_[0-9a-z]+:\d+:\d+$/);
    expect(page.body.items.find((e: any) => e.action === "ask").details.question).toContain("[REDACTED:rrn]");

    const exported = await get(auditor, "/api/v1/audit?format=jsonl");
    expect(exported.status).toBe(200);
    expect(exported.text).toContain("[REDACTED:phone]");
    for (const raw of [PHONE, MAIL, RRN]) expect(exported.text).not.toContain(raw);

    // Holders of view_sensitive (the admin) see the events as recorded.
    const full = await get(admin, "/api/v1/audit?limit=1000");
    for (const raw of [PHONE, MAIL, RRN]) expect(full.text).toContain(raw);
  });
});
