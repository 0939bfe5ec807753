/**
 * Issue 10, finding 9: free text is bounded (title 512, query/question 4096, stored paths 1024
 * characters). Refused with 400 `too_long` at the service boundary, so HTTP, the CLI (which calls
 * the services as the operator) and the OpenAI-compatible endpoint agree; stated as maxLength
 * in /openapi.json; a title taken from a document itself is cut, not refused.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let token: string;
const post = (p: string, body: unknown) => t.fetchAs(token, p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const tooLong = async (res: Response) => {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("too_long");
  return body.error.message;
};

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  token = await t.tokenFor("root", "admin");
  const [file] = writeFiles(path.join(t.dir, "corpus"), { "vacation.txt": "The vacation policy grants fifteen days of paid leave." });
  expect((await ingestNow(t.kb, [{ source: file!, path: file! }])).job.status).toBe("succeeded");
});
afterAll(async () => t?.close());

describe("free-text limits over HTTP", () => {
  it("search and ask refuse a query or question over 4096 characters, and take one of exactly 4096", async () => {
    const long = `vacation ${"x".repeat(4096)}`.slice(0, 4097);
    expect(await tooLong(await post("/api/v1/search", { query: long }))).toMatch(/query: must be at most 4096 characters/);
    expect((await post("/api/v1/search", { query: long.slice(0, 4096) })).status).toBe(200);
    await tooLong(await post("/api/v1/ask", { question: long }));
    expect((await post("/api/v1/ask", { question: long.slice(0, 4096) })).status).toBe(200);
  });

  it("the OpenAI-compatible endpoint refuses a long question, and an overlong earlier message", async () => {
    const long = "vacation ".repeat(500); // 4500 characters
    expect(await tooLong(await post("/v1/chat/completions", { messages: [{ role: "user", content: long }] }))).toMatch(/question must be at most 4096/);
    // As content parts too (joined into one question).
    await tooLong(await post("/v1/chat/completions", { messages: [{ role: "user", content: [{ type: "text", text: long.slice(0, 3000) }, { type: "text", text: long.slice(0, 3000) }] }] }));
    const history = [
      { role: "user", content: "vacation policy?" },
      { role: "assistant", content: "y".repeat(16_385) },
      { role: "user", content: "and sick leave?" },
    ];
    await tooLong(await post("/v1/chat/completions", { messages: history }));
    expect((await post("/v1/chat/completions", { messages: [{ role: "user", content: long.slice(0, 4096) }] })).status).toBe(200);
  });

  it("an upload with a title over 512 characters is refused and creates nothing", async () => {
    const before = (await t.kb.metadata.documents.all()).length;
    const upload = (title: string) => {
      const form = new FormData();
      form.append("file", new Blob(["Quarterly numbers."]), "q.txt");
      form.append("title", title);
      return t.fetchAs(token, "/api/v1/documents", { method: "POST", body: form });
    };
    expect(await tooLong(await upload("T".repeat(513)))).toMatch(/title: must be at most 512 characters/);
    expect((await t.kb.metadata.documents.all()).length).toBe(before);
    expect((await upload("T".repeat(512))).status).toBe(202);
  });

  it("states the limits in /openapi.json", async () => {
    const doc = (await (await t.fetchAs(null, "/openapi.json")).json()) as any;
    const schemas = doc.components.schemas;
    expect(schemas.SearchRequest.properties.query.maxLength).toBe(4096);
    expect(schemas.AskRequest.properties.question.maxLength).toBe(4096);
    const upload = doc.paths["/api/v1/documents"].post.requestBody.content["multipart/form-data"].schema.properties;
    expect(upload.title.maxLength).toBe(512);
    expect(doc.paths["/api/v1/jobs/sync"].post.requestBody.content["application/json"].schema.properties.folder.maxLength).toBe(1024);
  });
});

describe("free-text limits in the services (CLI and other callers)", () => {
  it("refuses the same inputs with the same error", async () => {
    const [file] = writeFiles(path.join(t.dir, "svc"), { "a.txt": "Some text." });
    const err = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        return e as { status?: number; code?: string };
      }
      throw new Error("expected a refusal");
    };
    expect(await err(() => t.kb.ingest.submit(SYSTEM_ACTOR, [{ source: file!, path: file!, title: "T".repeat(513) }]))).toMatchObject({ status: 400, code: "too_long" });
    expect(await err(() => t.kb.ingest.submit(SYSTEM_ACTOR, [{ source: `/${"s".repeat(1024)}`, path: file! }]))).toMatchObject({ status: 400, code: "too_long" });
    expect(await err(() => t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder: `/${"f".repeat(1024)}` }))).toMatchObject({ status: 400, code: "too_long" });
    await expect(t.kb.retriever.retrieve(SYSTEM_ACTOR, "q".repeat(4097), { topK: 5 })).rejects.toMatchObject({ status: 400, code: "too_long" });
    await expect(t.kb.conversations.begin(SYSTEM_ACTOR, "q".repeat(4097))).rejects.toMatchObject({ status: 400, code: "too_long" });
  });

  it("cuts a title taken from the document itself to 512 characters instead of copying it into every chunk", async () => {
    const title = "Budget ".repeat(150_000).trim(); // ~1 MB front-matter title
    const body = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} about the annual budget review and its spending limits. `.repeat(20)).join("\n\n");
    const [file] = writeFiles(path.join(t.dir, "big-title"), { "budget.md": `---\ntitle: ${title}\n---\n\n${body}` });
    const { job, documents } = await ingestNow(t.kb, [{ source: file!, path: file! }]);
    expect(job.status).toBe("succeeded");
    const doc = (await t.kb.metadata.documents.byId(documents[0]!.id))!;
    expect(doc.chunkCount).toBeGreaterThan(5);
    expect(doc.title.length).toBeLessThanOrEqual(512);
    const res = await post("/api/v1/search", { query: "annual budget review spending limits", topK: 50 });
    const text = await res.text();
    const results = JSON.parse(text).results as { documentId: string; title: string }[];
    expect(results.filter((r) => r.documentId === doc.id).length).toBeGreaterThan(5);
    for (const r of results) expect(r.title.length).toBeLessThanOrEqual(512);
    expect(text.length).toBeLessThan(200_000);
  });

  it("a synced file whose path is over 1024 characters fails alone, under a shortened name", async () => {
    const folder = path.join(t.dir, "sync");
    let deep = folder;
    while (deep.length <= 1024) deep = path.join(deep, "d".repeat(200));
    writeFiles(folder, { "ok.txt": "A file with a short path about parking." });
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(deep, "deep.txt"), "A file with a very long path.");
    const { jobId } = await t.kb.jobs.submitSync(SYSTEM_ACTOR, { folder });
    if ((await t.kb.metadata.jobs.claimJob(jobId, `test-${process.pid}`, STALE_MS))) await t.kb.jobs.run(jobId, `test-${process.pid}`);
    else while (["queued", "running"].includes((await t.kb.jobs.view(jobId))!.status)) await new Promise((r) => setTimeout(r, 50));
    const view = (await t.kb.jobs.view(jobId))!;
    const failed = view.files.filter((f) => f.status === "failed");
    expect(failed).toEqual([expect.objectContaining({ errorCode: "path_too_long" })]);
    expect(failed[0]!.source.length).toBeLessThanOrEqual(1024);
    expect(view.files.find((f) => f.source.endsWith("ok.txt"))?.status).toBe("succeeded");
    expect((await t.kb.metadata.documents.all()).every((d) => d.source.length <= 1024)).toBe(true);
  });
});
