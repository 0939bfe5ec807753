/** The HTTP API on loopback, with real stores: routes, shapes, auth and bad input. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, waitForJob, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let admin: string;
let viewer: string;
let editor: string;

function form(files: { name: string; content: string | Uint8Array }[], fields: Record<string, string> = {}): FormData {
  const fd = new FormData();
  for (const f of files) fd.append("file", new Blob([f.content as never]), f.name);
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

async function upload(token: string, files: { name: string; content: string | Uint8Array }[], fields: Record<string, string> = {}) {
  const res = await t.fetchAs(token, "/api/v1/documents", { method: "POST", body: form(files, fields) });
  return { res, body: (await res.json()) as any };
}

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

beforeAll(async () => {
  t = await startTestServer({ maxUploadBytes: 2 * 1024 * 1024 });
  admin = await t.tokenFor("root", "admin");
  viewer = await t.tokenFor("kim", "viewer", ["hr"]);
  editor = await t.tokenFor("lee", "editor");
  const { res, body } = await upload(admin, [
    { name: "leave.md", content: "# 휴가 규정\n\n## 연차\n\n1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다. 연차는 인사 시스템에서 신청합니다.\n" },
    { name: "vpn.txt", content: "VPN setup\n\nInstall the VPN client from the software center. If the connection drops, switch to a wired connection.\n" },
  ]);
  expect(res.status).toBe(202);
  const job = await waitForJob(t, admin, body.jobId);
  expect(job.status).toBe("succeeded");
  const hr = await upload(admin, [{ name: "salaries.txt", content: "Salary bands for 2026. The senior engineer band starts at 90 million won." }], { allow: "group:hr" });
  expect((await waitForJob(t, admin, hr.body.jobId)).status).toBe("succeeded");
});
afterAll(async () => t?.close());

describe("health", () => {
  it("answers /healthz and /readyz without a token, with nothing but the status", async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    // No token, an invalid one, or a user who does not manage every document: status only
    // (counts of all documents and the model setup are not theirs to see).
    for (const token of [null, "nope", "kb_" + "x".repeat(43), viewer, editor]) {
      const res = await t.fetchAs(token, "/readyz");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ready" });
    }
  });

  it("reports modes, models and counts in /readyz to admins", async () => {
    const res = await t.fetchAs(admin, "/readyz");
    expect(res.status).toBe(200);
    const ready = (await res.json()) as any;
    expect(ready).toMatchObject({ status: "ready", retrieval: "lexical", answer: "extractive", embedding: null, llm: null });
    expect(ready.notes.join(" ")).toMatch(/lexical/);
    expect(ready.documents).toBe(3); // the hr-only salaries included
    expect(ready.chunks).toBeGreaterThanOrEqual(3);
  });

  it("gives admins the system status at /api/v1/admin/status (modes, models, index, job queue); 403 for others", async () => {
    for (const token of [viewer, editor]) {
      const res = await t.fetchAs(token, "/api/v1/admin/status");
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error.code).toBe("forbidden");
    }
    expect((await t.fetchAs(null, "/api/v1/admin/status")).status).toBe(401);
    const res = await t.fetchAs(admin, "/api/v1/admin/status");
    expect(res.status).toBe(200);
    const s = (await res.json()) as any;
    expect(s).toMatchObject({ retrieval: "lexical", answer: "extractive", embedding: null, llm: null });
    expect(s.notes.join(" ")).toMatch(/lexical/);
    expect(s.index).toMatchObject({ documents: 3, model: null, dimension: null });
    expect(s.index.chunks).toBeGreaterThanOrEqual(3);
    expect(typeof s.index.table).toBe("string");
    const jobs = (await t.fetchAs(admin, "/api/v1/jobs?limit=200").then((r) => r.json())) as any;
    const total = Object.values(s.jobs.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(jobs.items.length);
    expect(typeof s.jobs.workerAlive).toBe("boolean");
    expect(Array.isArray(s.jobs.active)).toBe(true);
  });

  it("publishes an OpenAPI document with the stable routes", async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as any;
    for (const p of ["/api/v1/documents", "/api/v1/documents/{id}", "/api/v1/documents/{id}/text", "/api/v1/jobs/{id}", "/api/v1/search", "/api/v1/ask", "/healthz", "/readyz"]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    // /readyz takes an optional token; its details are documented as admin-only.
    expect(doc.paths["/readyz"].get.security).toEqual([{}, { bearer: [] }]);
    expect(doc.components.schemas.Ready.required).toEqual(["status"]);
  });
});

describe("auth", () => {
  it("rejects missing, malformed and revoked tokens with 401 JSON", async () => {
    for (const token of [null, "nope", "kb_" + "x".repeat(43)]) {
      const res = await t.fetchAs(token, "/api/v1/documents");
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe("unauthorized");
    }
    const { token, info } = await t.kb.accounts.createToken("kim");
    expect((await t.fetchAs(token, "/api/v1/documents")).status).toBe(200);
    await t.kb.accounts.revokeToken(info.id);
    expect((await t.fetchAs(token, "/api/v1/documents")).status).toBe(401);
  });

  it("lets viewers read but not upload", async () => {
    const { res, body } = await upload(viewer, [{ name: "x.txt", content: "hello" }]);
    expect(res.status).toBe(403);
    expect(body.error.code).toBe("forbidden");
  });
});

describe("search and ask", () => {
  it("finds Korean text with page and title", async () => {
    const res = await t.fetchAs(viewer, "/api/v1/search", json({ query: "연차 휴가는 며칠인가요?", topK: 3 }));
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.mode).toBe("lexical");
    expect(body.results[0]).toMatchObject({ title: "휴가 규정", source: "leave.md", page: 1 });
    expect(body.results[0].text).toContain("15일");
  });

  it("answers with numbered citations quoting the source", async () => {
    const res = await t.fetchAs(viewer, "/api/v1/ask", json({ question: "연차 휴가는 며칠인가요?" }));
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ mode: "extractive", retrieval: "lexical", found: true });
    expect(body.answer).toContain("15일");
    expect(body.answer).toMatch(/\[1\]/);
    expect(body.citations[0]).toMatchObject({ n: 1, title: "휴가 규정", source: "leave.md", page: 1 });
    expect(body.citations[0].quote).toContain("15일");
  });

  it("answers in English for English questions and says when it does not know", async () => {
    const vpn = (await (await t.fetchAs(viewer, "/api/v1/ask", json({ question: "What should I do if the VPN connection drops?" }))).json()) as any;
    expect(vpn.found).toBe(true);
    expect(vpn.answer).toMatch(/wired connection/);
    const none = (await (await t.fetchAs(viewer, "/api/v1/ask", json({ question: "Who won the 1998 football world cup final?" }))).json()) as any;
    expect(none.found).toBe(false);
    expect(none.citations).toEqual([]);
    expect(none.answer).toMatch(/couldn't find/);
    const ko = (await (await t.fetchAs(viewer, "/api/v1/ask", json({ question: "화성의 수도는 어디인가?" }))).json()) as any;
    expect(ko.found).toBe(false);
    expect(ko.answer).toMatch(/찾지 못했습니다/);
  });

  it("streams sources, deltas and a final event over SSE", async () => {
    const res = await t.fetchAs(viewer, "/api/v1/ask", json({ question: "연차 휴가는 며칠인가요?", stream: true }));
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe("sources");
    expect(events).toContain("delta");
    expect(events.at(-1)).toBe("done");
  });

  it("never shows a group's document to someone outside the group", async () => {
    const outsider = await t.tokenFor("park", "viewer", ["sales"]);
    const q = json({ query: "salary bands senior engineer", topK: 10 });
    const out = (await (await t.fetchAs(outsider, "/api/v1/search", q)).json()) as any;
    expect(out.results.map((r: any) => r.source)).not.toContain("salaries.txt");
    const inside = (await (await t.fetchAs(viewer, "/api/v1/search", q)).json()) as any;
    expect(inside.results[0].source).toBe("salaries.txt");
  });
});

describe("documents", () => {
  it("lists, shows and returns text per page; hides what you may not read", async () => {
    const list = (await (await t.fetchAs(viewer, "/api/v1/documents")).json()) as any;
    const leave = list.items.find((d: any) => d.source === "leave.md");
    expect(leave).toMatchObject({ status: "ready", version: 1, pageCount: 1 });
    expect(leave.chunkCount).toBeGreaterThan(0);
    const one = (await (await t.fetchAs(viewer, `/api/v1/documents/${leave.id}`)).json()) as any;
    expect(one).toMatchObject({ id: leave.id, title: "휴가 규정" });
    expect(one.acl.allow).toContain("group:everyone");
    const text = (await (await t.fetchAs(viewer, `/api/v1/documents/${leave.id}/text`)).json()) as any;
    expect(text.pages[0].page).toBe(1);
    expect(text.pages[0].text).toContain("15일");
    const outsider = await t.tokenFor("choi", "viewer");
    const hrDoc = list.items.find((d: any) => d.source === "salaries.txt");
    expect(hrDoc).toBeDefined();
    expect((await t.fetchAs(outsider, `/api/v1/documents/${hrDoc.id}`)).status).toBe(404);
    expect((await t.fetchAs(outsider, `/api/v1/documents/${hrDoc.id}/text`)).status).toBe(404);
    const theirs = (await (await t.fetchAs(outsider, "/api/v1/documents")).json()) as any;
    expect(theirs.items.map((d: any) => d.source)).not.toContain("salaries.txt");
  });

  it("deletes a document and its chunks; only with permission", async () => {
    const { body } = await upload(editor, [{ name: "temp-note.txt", content: "Temporary note about the quarterly offsite in Jeju." }]);
    await waitForJob(t, editor, body.jobId);
    const id = body.documents[0].id;
    expect((await t.fetchAs(viewer, `/api/v1/documents/${id}`, { method: "DELETE" })).status).toBe(403);
    expect((await t.fetchAs(editor, `/api/v1/documents/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.fetchAs(editor, `/api/v1/documents/${id}`)).status).toBe(404);
    const s = (await (await t.fetchAs(admin, "/api/v1/search", json({ query: "quarterly offsite Jeju" }))).json()) as any;
    expect(s.results.map((r: any) => r.documentId)).not.toContain(id);
  });
});

describe("bad input", () => {
  it("gives each bad file its own error while the rest of the batch lands", async () => {
    const pdfHeader = "%PDF-1.7\n1 0 obj\n<< /Type /Catalog";
    const binary = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    const { res, body } = await upload(admin, [
      { name: "empty.txt", content: "" },
      { name: "broken.pdf", content: pdfHeader },
      { name: "binary.txt", content: binary },
      { name: "../../etc/evil.txt", content: "A file whose name tried to climb out of its folder. It talks about the Busan branch." },
      { name: "good.md", content: "# Good\n\nThe cafeteria opens at 11:30 on weekdays." },
    ]);
    expect(res.status).toBe(202);
    expect(body.documents.map((d: any) => d.source)).toContain("evil.txt");
    const job = await waitForJob(t, admin, body.jobId);
    expect(job.status).toBe("partial");
    const by = Object.fromEntries(job.files.map((f: any) => [f.source, f]));
    expect(by["empty.txt"]).toMatchObject({ status: "failed", errorCode: "empty_file" });
    expect(by["broken.pdf"].status).toBe("failed");
    expect(by["binary.txt"].status).toBe("failed");
    expect(by["evil.txt"].status).toBe("succeeded");
    expect(by["good.md"].status).toBe("succeeded");
    // A failed document is never visible in search.
    const s = (await (await t.fetchAs(admin, "/api/v1/search", json({ query: "cafeteria opens" }))).json()) as any;
    expect(s.results[0].source).toBe("good.md");
  });

  it("rejects uploads over the size limit with 413 and keeps serving", async () => {
    const big = new Uint8Array(3 * 1024 * 1024).fill(65);
    const { res, body } = await upload(admin, [{ name: "big.txt", content: big }]);
    expect(res.status).toBe(413);
    expect(body.error.code).toBe("payload_too_large");
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it("rejects non-multipart uploads with 415", async () => {
    const res = await t.fetchAs(admin, "/api/v1/documents", json({ file: "x" }));
    expect(res.status).toBe(415);
  });

  it("validates queries and JSON", async () => {
    for (const body of [{ query: "" }, { query: "   " }, { query: "x".repeat(10_000) }, { query: 42 }, {}]) {
      const res = await t.fetchAs(viewer, "/api/v1/search", json(body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.code).toBe(typeof body.query === "string" && body.query.length > 4096 ? "too_long" : "invalid_request");
    }
    const res = await t.fetchAs(viewer, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toHaveProperty("code");
  });

  it("returns JSON 404s for unknown routes, documents and jobs", async () => {
    expect((await t.fetchAs(viewer, "/api/v1/nope")).status).toBe(404);
    expect((await t.fetchAs(viewer, "/api/v1/documents/doc_missing")).status).toBe(404);
    expect((await t.fetchAs(viewer, "/api/v1/jobs/job_missing")).status).toBe(404);
  });
});

describe("citation pages", () => {
  it("places a quote on the page it stands on when a chunk spans pages", async () => {
    const { pageOfQuote } = await import("../src/services/ask.ts");
    const pages = [
      { page: 1, text: "First page about apples." },
      { page: 2, text: "Second page: the  meal allowance\nis 80 USD." },
    ];
    expect(pageOfQuote(pages, "the meal allowance is 80 USD.", 1, 2)).toBe(2);
    expect(pageOfQuote(pages, "nowhere to be found", 1, 2)).toBe(1);
    expect(pageOfQuote(pages, "First page about apples.", 1, 1)).toBe(1);
  });
});
