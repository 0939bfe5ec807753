/**
 * U+0000 in what users send: accepted on every metadata store. SQLite keeps the character;
 * PostgreSQL's text and jsonb cannot hold it, and its store drops it (src/stores/pg/nul.ts)
 * instead of failing the request with a 500 (which it did for a search, a question, an upload
 * or a chat message with one: their audit event could not be written). The audit chain still
 * verifies: rows are hashed as stored. Runs on SQLite, and on PostgreSQL with KB_TEST_DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { nulFreeParameter, withoutNulDeep } from "../src/stores/pg/nul.ts";
import { startTestServer, waitForJob, type TestServer } from "./helpers/kb.ts";

const NUL = "\u0000";
/** What either store gives back for `s`: SQLite all of it, PostgreSQL without U+0000. */
const stored = (s: string) => s.replaceAll(NUL, "");

let t: TestServer;
let token: string;
const post = (pathname: string, body: unknown) => t.fetchAs(token, pathname, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const latest = async (action: string) => (await t.kb.audit.repository.query({ action, actor: "user:kim", limit: 1 }))[0]!;

beforeAll(async () => {
  t = await startTestServer();
  token = await t.tokenFor("kim", "editor");
});
afterAll(async () => {
  await t?.close();
});

describe("U+0000 in requests", () => {
  it("a search query with one answers, and its audit event holds the query", async () => {
    const res = await post("/api/v1/search", { query: `vacation${NUL} policy` });
    expect(res.status).toBe(200);
    const event = await latest("search");
    expect(stored(String(event.details!.query))).toBe("vacation policy");
  });

  it("a question with one answers", async () => {
    const res = await post("/api/v1/ask", { question: `How many${NUL} days of leave?` });
    expect(res.status).toBe(200);
    expect(stored(String((await latest("ask")).details!.question))).toBe("How many days of leave?");
  });

  it("an upload whose file name and title hold one is ingested", async () => {
    const form = new FormData();
    form.append("file", new Blob(["Parking is free on weekends."]), `parking${NUL}.txt`);
    form.append("title", `Parking${NUL} rules`);
    const res = await t.fetchAs(token, "/api/v1/documents", { method: "POST", body: form });
    expect(res.status).toBe(202);
    const { jobId, documents } = (await res.json()) as { jobId: string; documents: { id: string }[] };
    expect((await waitForJob(t, token, jobId)).status).toBe("succeeded");
    expect(stored((await t.kb.metadata.documents.byId(documents[0]!.id))!.title)).toBe("Parking rules");
  });

  it("a chat completion whose message holds one answers", async () => {
    const res = await post("/v1/chat/completions", { messages: [{ role: "user", content: `Where${NUL} do I park?` }] });
    expect(res.status).toBe(200);
  });

  it("an audit event with one in its target and details is recorded, and the chain verifies", async () => {
    await t.kb.audit.record("user:kim", "test.nul", `target${NUL}`, { [`key${NUL}`]: [`a${NUL}b`, { nested: `c${NUL}` }] });
    const event = await latest("test.nul");
    expect(stored(event.target!)).toBe("target");
    expect(withoutNulDeep(event.details)).toEqual({ key: ["ab", { nested: "c" }] });
    expect(await t.kb.audit.verify(SYSTEM_ACTOR)).toMatchObject({ ok: true });
  });
});

describe("nulFreeParameter (the PostgreSQL store's parameters)", () => {
  it("drops U+0000 from text, and from JSON text whose escapes hold it, leaving other text alone", () => {
    expect(nulFreeParameter(`a${NUL}b`)).toBe("ab");
    expect(nulFreeParameter(JSON.stringify({ q: `a${NUL}b`, [`k${NUL}`]: [1, `x${NUL}`] }))).toBe(JSON.stringify({ q: "ab", k: [1, "x"] }));
    // Six characters of text, not JSON: PostgreSQL stores them, so they stay.
    expect(nulFreeParameter("a \\u0000 b")).toBe("a \\u0000 b");
    // An escaped backslash before "u0000" is not an escape of U+0000.
    expect(nulFreeParameter(JSON.stringify({ q: "\\u0000" }))).toBe(JSON.stringify({ q: "\\u0000" }));
    expect(nulFreeParameter([`a${NUL}`, 5, null])).toEqual(["a", 5, null]);
  });
});
