/** Ask conversations over HTTP (extractive mode: no model needed): history per user, follow-up rewriting, isolation. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, sqlRows, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let kim: string;
let lee: string;

const post = (body: unknown, headers: Record<string, string> = {}) => ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  t = await startTestServer();
  kim = await t.tokenFor("kim", "viewer");
  lee = await t.tokenFor("lee", "viewer");
  const [leave, sick] = writeFiles(`${t.dir}/docs`, {
    "leave.md": "# 연차 휴가\n\n1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다. 연차 휴가는 인사 시스템에서 신청합니다.\n",
    "sick.md": "# 병가\n\n병가는 연간 최대 10일까지 사용할 수 있으며 진단서를 제출해야 합니다.\n",
  });
  await ingestNow(t.kb, [
    { source: "leave.md", path: leave! },
    { source: "sick.md", path: sick! },
  ]);
});
afterAll(async () => t?.close());

async function ask(token: string, body: Record<string, unknown>) {
  const res = await t.fetchAs(token, "/api/v1/ask", post(body));
  return { status: res.status, body: (await res.json()) as any };
}

describe("conversations", () => {
  let conversationId: string;

  it("starts a conversation with each ask and returns its id and the retrieval query", async () => {
    const { status, body } = await ask(kim, { question: "연차 휴가는 며칠인가요?" });
    expect(status).toBe(200);
    expect(body.conversationId).toMatch(/^conv_/);
    expect(body.retrievalQuery).toBe("연차 휴가는 며칠인가요?");
    expect(body.found).toBe(true);
    conversationId = body.conversationId;
  });

  it("rewrites a follow-up into a standalone retrieval query (heuristic without an LLM) and keeps the history", async () => {
    const { status, body } = await ask(kim, { question: "그럼 신청은 어디서 해요?", conversationId });
    expect(status).toBe(200);
    expect(body.conversationId).toBe(conversationId);
    expect(body.retrievalQuery).not.toBe("그럼 신청은 어디서 해요?");
    expect(body.retrievalQuery).toContain("연차");
    expect(body.citations.map((c: any) => c.source)).toContain("leave.md");

    const detail = (await (await t.fetchAs(kim, `/api/v1/conversations/${conversationId}`)).json()) as any;
    expect(detail.id).toBe(conversationId);
    expect(detail.title).toBe("연차 휴가는 며칠인가요?");
    expect(detail.messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(detail.messages[2]).toMatchObject({ content: "그럼 신청은 어디서 해요?", retrievalQuery: body.retrievalQuery });
    expect(detail.messages[3].content).toBe(body.answer);
    expect(detail.messages[3].citations).toEqual(body.citations);
  });

  it("carries the conversation over SSE too", async () => {
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "병가는 며칠까지 쓸 수 있나요?", conversationId, stream: true }));
    expect(res.status).toBe(200);
    const text = await res.text();
    const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(text)![1]!);
    expect(done.conversationId).toBe(conversationId);
    const sources = JSON.parse(/event: sources\ndata: (.*)\n/.exec(text)![1]!);
    expect(sources.conversationId).toBe(conversationId);
    const list = (await (await t.fetchAs(kim, "/api/v1/conversations")).json()) as any;
    expect(list.total).toBe(1);
    expect(list.conversations[0]).toMatchObject({ id: conversationId, messages: 6 });
  });

  it("never shows a conversation to another user: 404 on read, delete and continue", async () => {
    expect((await t.fetchAs(lee, `/api/v1/conversations/${conversationId}`)).status).toBe(404);
    expect((await t.fetchAs(lee, `/api/v1/conversations/${conversationId}`, { method: "DELETE" })).status).toBe(404);
    const cont = await ask(lee, { question: "그럼 병가는?", conversationId });
    expect(cont.status).toBe(404);
    expect(cont.body.error.code).toBe("not_found");
    const list = (await (await t.fetchAs(lee, "/api/v1/conversations")).json()) as any;
    expect(list).toMatchObject({ conversations: [], total: 0 });
    // Still intact for its owner.
    expect(((await (await t.fetchAs(kim, `/api/v1/conversations/${conversationId}`)).json()) as any).messages).toHaveLength(6);
  });

  it("answers 404 for unknown ids and deletes one's own conversation", async () => {
    expect((await ask(kim, { question: "연차?", conversationId: "conv_nope" })).status).toBe(404);
    expect((await t.fetchAs(kim, `/api/v1/conversations/${conversationId}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.fetchAs(kim, `/api/v1/conversations/${conversationId}`)).status).toBe(404);
    expect(((await (await t.fetchAs(kim, "/api/v1/conversations")).json()) as any).total).toBe(0);
  });

  it("removes a user's conversations with the user", async () => {
    const token = await t.tokenFor("temp", "viewer");
    expect((await ask(token, { question: "연차 휴가는 며칠인가요?" })).status).toBe(200);
    const id = (await t.kb.accounts.listUsers()).find((u) => u.name === "temp")!.id;
    const count = async () => Number((await sqlRows(t.kb, "select count(*) as n from conversations where owner_id = ?", id))[0]!.n);
    expect(await count()).toBe(1);
    await t.kb.accounts.deleteUser("temp");
    expect(await count()).toBe(0);
  });

  it("needs a token", async () => {
    expect((await t.fetchAs(null, "/api/v1/conversations")).status).toBe(401);
  });
});

describe("stored answers after access narrows", () => {
  it("withholds an earlier answer whose source the asker may no longer read", async () => {
    const park = await t.tokenFor("park", "viewer");
    const first = await ask(park, { question: "병가는 며칠까지 쓸 수 있나요?" });
    expect(first.body.found).toBe(true);
    expect(first.body.answer).toContain("10일");
    const sick = (await t.kb.metadata.documents.bySource("sick.md"))!;
    // Narrow the document to a group park is not in.
    const res = await t.fetchAs(await t.tokenFor("boss", "admin"), `/api/v1/documents/${sick.id}/acl`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ allow: ["group:hr"], deny: [] }) });
    expect(res.status).toBe(200);
    const detail = (await (await t.fetchAs(park, `/api/v1/conversations/${first.body.conversationId}`)).json()) as any;
    const answer = detail.messages.find((m: any) => m.role === "assistant");
    expect(answer.content).not.toContain("10일");
    expect(answer.content).toMatch(/withheld/);
    expect(answer.citations).toEqual([]);
  });
});
