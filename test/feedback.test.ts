/**
 * Feedback on answers and conversation history over HTTP (extractive mode, the real server):
 * answers carry their message id, feedback is one per user and answer, reviewers (admins) see it
 * negative first and export reviewed items in the format `kb eval` reads; history search,
 * rename, delete-all and the admin's purge. A user never reaches another user's answers,
 * feedback or conversations.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { readQaDataset } from "../src/eval/qa-formats.ts";
import { runRetrievalEvalInPlace } from "../src/eval/run-eval.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let kim: string;
let lee: string;
let admin: string;
let leaveId: string;
let sickId: string;
let secretId: string;

const post = (body: unknown, method = "POST") => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

beforeAll(async () => {
  t = await startTestServer();
  kim = t.tokenFor("kim", "viewer", []);
  lee = t.tokenFor("lee", "viewer");
  admin = t.tokenFor("boss", "admin");
  t.kb.admin.createGroup(SYSTEM_ACTOR, "hr");
  t.kb.admin.addMember(SYSTEM_ACTOR, "hr", "user:kim");
  const [leave, sick, secret] = writeFiles(`${t.dir}/docs`, {
    "leave.md": "# 연차 휴가\n\n1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다. 연차 휴가는 인사 시스템에서 신청합니다.\n",
    "sick.md": "# 병가\n\n병가는 연간 최대 10일까지 사용할 수 있으며 진단서를 제출해야 합니다.\n",
    "bonus.md": "# 성과급\n\n성과급은 매년 3월에 지급되며 지급률은 인사위원회가 정합니다.\n",
  });
  const { documents } = await ingestNow(t.kb, [
    { source: "leave.md", path: leave! },
    { source: "sick.md", path: sick! },
    { source: "bonus.md", path: secret!, allow: ["group:hr"] },
  ]);
  [leaveId, sickId, secretId] = documents.map((d) => d.id) as [string, string, string];
});
afterAll(async () => t?.close());

async function ask(token: string, body: Record<string, unknown>) {
  return json(await t.fetchAs(token, "/api/v1/ask", post(body)));
}

describe("feedback on answers", () => {
  let leaveAnswer: { conversationId: string; messageId: number };
  let bonusAnswer: { conversationId: string; messageId: number };

  it("an answer carries its message id, as JSON and in the stream's done event", async () => {
    const { status, body } = await ask(kim, { question: "연차 휴가는 며칠인가요?" });
    expect(status).toBe(200);
    expect(body.found).toBe(true);
    expect(Number.isInteger(body.messageId)).toBe(true);
    leaveAnswer = { conversationId: body.conversationId, messageId: body.messageId };
    // The citation names the document, the page and the chunk quoted.
    expect(body.citations[0]).toMatchObject({ documentId: leaveId, page: 1 });
    expect(body.citations[0].chunkId).toMatch(new RegExp(`^${leaveId}:`));

    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "성과급은 언제 지급되나요?", stream: true }));
    const text = await res.text();
    const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(text)![1]!);
    expect(done.citations.map((c: any) => c.documentId)).toContain(secretId);
    expect(Number.isInteger(done.messageId)).toBe(true);
    expect(done.messageId).not.toBe(leaveAnswer.messageId);
    bonusAnswer = { conversationId: done.conversationId, messageId: done.messageId };

    // The conversation lists the same id on the assistant message.
    const detail = (await json(await t.fetchAs(kim, `/api/v1/conversations/${leaveAnswer.conversationId}`))).body;
    expect(detail.messages[1]).toMatchObject({ role: "assistant", id: leaveAnswer.messageId });
  });

  it("records feedback with the question, the answer and its cited sources; a repeat updates it", async () => {
    const first = await json(await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId, rating: "up" })));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ messageId: leaveAnswer.messageId, conversationId: leaveAnswer.conversationId, rating: "up", comment: null });
    const again = await json(await t.fetchAs(kim, "/api/v1/feedback", post({ ...leaveAnswer, rating: "down", comment: "15일이 아니라 16일입니다" })));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, rating: "down", comment: "15일이 아니라 16일입니다" });
    const bonus = await json(await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: bonusAnswer.messageId, rating: "up" })));
    expect(bonus.status).toBe(201);

    // The owner sees their feedback on the message.
    const detail = (await json(await t.fetchAs(kim, `/api/v1/conversations/${leaveAnswer.conversationId}`))).body;
    expect(detail.messages[1].feedback).toEqual({ rating: "down", comment: "15일이 아니라 16일입니다" });
    expect(detail.messages[0].feedback).toBeUndefined();
  });

  it("another user's answer, a question's id or a wrong conversation is not found", async () => {
    expect((await t.fetchAs(lee, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId, rating: "down" }))).status).toBe(404);
    expect((await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId - 1, rating: "down" }))).status).toBe(404);
    expect((await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId, conversationId: bonusAnswer.conversationId, rating: "up" }))).status).toBe(404);
    expect((await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId, rating: "meh" }))).status).toBe(400);
  });

  it("only reviewers list feedback: negative first, with question, answer and the sources they may read", async () => {
    expect((await t.fetchAs(kim, "/api/v1/admin/feedback")).status).toBe(403);
    expect((await t.fetchAs(lee, "/api/v1/admin/feedback/export")).status).toBe(403);
    const { status, body } = await json(await t.fetchAs(admin, "/api/v1/admin/feedback"));
    expect(status).toBe(200);
    expect(body.total).toBe(2);
    expect(body.items.map((i: any) => i.rating)).toEqual(["down", "up"]);
    const [down] = body.items;
    expect(down).toMatchObject({ user: "kim", question: "연차 휴가는 며칠인가요?", comment: "15일이 아니라 16일입니다", hiddenSources: 0, review: null });
    expect(down.answer).toContain("15일");
    expect(down.sources[0]).toMatchObject({ documentId: leaveId, page: 1, title: expect.any(String) });
    // Paging and the rating filter.
    const page2 = (await json(await t.fetchAs(admin, "/api/v1/admin/feedback?limit=1&offset=1"))).body;
    expect(page2.items.map((i: any) => i.rating)).toEqual(["up"]);
    const ups = (await json(await t.fetchAs(admin, "/api/v1/admin/feedback?rating=up"))).body;
    expect(ups.items.map((i: any) => i.messageId)).toEqual([bonusAnswer.messageId]);
  });

  it("feedback on an answer whose source the asker can no longer read keeps neither the answer nor the source", async () => {
    await t.kb.access.setAcl(SYSTEM_ACTOR, secretId, { allow: ["group:finance"] });
    try {
      await json(await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: bonusAnswer.messageId, rating: "down" })));
      const items = (await json(await t.fetchAs(admin, "/api/v1/admin/feedback?rating=down"))).body.items;
      const bonus = items.find((i: any) => i.messageId === bonusAnswer.messageId);
      expect(bonus.sources).toEqual([]);
      expect(bonus.answer).toMatch(/withheld/);
      expect(bonus.answer).not.toContain("3월");
    } finally {
      await t.kb.access.setAcl(SYSTEM_ACTOR, secretId, { allow: ["group:hr"] });
    }
  });

  it("a review records the expected documents; the export is a set `kb eval` reads and measures", async () => {
    const items = (await json(await t.fetchAs(admin, "/api/v1/admin/feedback?rating=down"))).body.items;
    const leave = items.find((i: any) => i.messageId === leaveAnswer.messageId);
    expect((await t.fetchAs(kim, `/api/v1/admin/feedback/${leave.id}/review`, post({ expectedDocumentIds: [leaveId] }, "PUT"))).status).toBe(403);
    const unknown = await json(await t.fetchAs(admin, `/api/v1/admin/feedback/${leave.id}/review`, post({ expectedDocumentIds: ["doc_nope"] }, "PUT")));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe("unknown_document");
    expect((await t.fetchAs(admin, `/api/v1/admin/feedback/fb_missing/review`, post({ expectedDocumentIds: [leaveId] }, "PUT"))).status).toBe(404);
    const reviewed = await json(await t.fetchAs(admin, `/api/v1/admin/feedback/${leave.id}/review`, post({ expectedDocumentIds: [leaveId], expectedAnswer: "16일" }, "PUT")));
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.review).toMatchObject({ reviewedBy: "user:boss", expectedDocumentIds: [leaveId], expectedAnswer: "16일" });
    expect((await json(await t.fetchAs(admin, "/api/v1/admin/feedback?reviewed=true"))).body.total).toBe(1);

    const res = await t.fetchAs(admin, "/api/v1/admin/feedback/export");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const text = await res.text();
    expect(text.trim().split("\n").map((l) => JSON.parse(l))).toEqual([{ question: "연차 휴가는 며칠인가요?", expected_document_ids: [leaveId], expected_answer: "16일" }]);

    // The evaluation loader reads the file as a feedback set and measures it on this knowledge base.
    const file = path.join(t.dir, "feedback.jsonl");
    fs.writeFileSync(file, text);
    const dataset = await readQaDataset(file);
    expect(dataset.format).toBe("feedback");
    expect(dataset.questions).toEqual([{ id: "feedback-1", question: "연차 휴가는 며칠인가요?", relevantDocumentIds: [leaveId], answers: ["16일"] }]);
    const report = await runRetrievalEvalInPlace(t.kb, dataset, t.kb.accounts.actorByName("kim"));
    expect(report.questions).toBe(1);
    expect(report.recall1).toBe(1);

    // A changed rating is a new judgement: the review is cleared and the item leaves the export.
    await t.fetchAs(kim, "/api/v1/feedback", post({ messageId: leaveAnswer.messageId, rating: "up" }));
    expect((await (await t.fetchAs(admin, "/api/v1/admin/feedback/export")).text()).trim()).toBe("");
  });

  it("audits feedback, reviews and exports", async () => {
    const actions = t.kb.audit.repository.query({ action: "feedback." }).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["feedback.create", "feedback.update", "feedback.review", "feedback.export"]));
  });
});

describe("history", () => {
  it("searches one's own conversations by title and message text", async () => {
    await ask(lee, { question: "병가 신청은 어떻게 하나요?" });
    const mine = (await json(await t.fetchAs(kim, `/api/v1/conversations?q=${encodeURIComponent("병가")}`))).body;
    expect(mine.total).toBe(0); // lee's conversation is not kim's
    const { body: sickAsk } = await ask(kim, { question: "병가는 며칠까지 쓸 수 있나요?" });
    expect(sickAsk.found).toBe(true);
    // Matches a word of the answer (the cited text), and one of the title.
    const byAnswer = (await json(await t.fetchAs(kim, `/api/v1/conversations?q=${encodeURIComponent("진단서")}`))).body;
    expect(byAnswer.conversations.map((c: any) => c.id)).toEqual([sickAsk.conversationId]);
    const byTitle = (await json(await t.fetchAs(kim, `/api/v1/conversations?q=${encodeURIComponent("며칠까지")}`))).body;
    expect(byTitle.conversations.map((c: any) => c.id)).toEqual([sickAsk.conversationId]);
    // A LIKE wildcard is an ordinary character.
    expect((await json(await t.fetchAs(kim, "/api/v1/conversations?q=%25"))).body.total).toBe(0);
    void sickId;
  });

  it("does not find a conversation by the text of an answer now withheld from its owner", async () => {
    const q = `/api/v1/conversations?q=${encodeURIComponent("인사위원회")}`; // only in the 성과급 answer
    expect((await json(await t.fetchAs(kim, q))).body.total).toBe(1);
    await t.kb.access.setAcl(SYSTEM_ACTOR, secretId, { allow: ["group:finance"] });
    try {
      expect((await json(await t.fetchAs(kim, q))).body).toMatchObject({ total: 0, conversations: [] });
    } finally {
      await t.kb.access.setAcl(SYSTEM_ACTOR, secretId, { allow: ["group:hr"] });
    }
    expect((await json(await t.fetchAs(kim, q))).body.total).toBe(1);
  });

  it("renames one's own conversation; another user's is not found", async () => {
    const list = (await json(await t.fetchAs(kim, "/api/v1/conversations"))).body;
    const id = list.conversations[0].id;
    const renamed = await json(await t.fetchAs(kim, `/api/v1/conversations/${id}`, post({ title: "  Sick leave  문의 " }, "PATCH")));
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, title: "Sick leave 문의" });
    expect((await json(await t.fetchAs(kim, `/api/v1/conversations/${id}`))).body.title).toBe("Sick leave 문의");
    // The new title is searched, case-insensitively for Latin letters.
    expect((await json(await t.fetchAs(kim, "/api/v1/conversations?q=SICK%20LEAVE"))).body.conversations.map((c: any) => c.id)).toEqual([id]);
    expect((await t.fetchAs(lee, `/api/v1/conversations/${id}`, post({ title: "mine" }, "PATCH"))).status).toBe(404);
    expect((await t.fetchAs(kim, `/api/v1/conversations/${id}`, post({ title: "   " }, "PATCH"))).status).toBe(400);
  });

  it("deletes all of one's own conversations and nobody else's", async () => {
    const before = (await json(await t.fetchAs(lee, "/api/v1/conversations"))).body.total;
    expect(before).toBe(1);
    const { status, body } = await json(await t.fetchAs(kim, "/api/v1/conversations", { method: "DELETE" }));
    expect(status).toBe(200);
    expect(body.deleted).toBe(3);
    expect((await json(await t.fetchAs(kim, "/api/v1/conversations"))).body.total).toBe(0);
    expect((await json(await t.fetchAs(lee, "/api/v1/conversations"))).body.total).toBe(before);
    // Feedback is a copy kept for review.
    expect((await json(await t.fetchAs(admin, "/api/v1/admin/feedback"))).body.total).toBe(2);
  });

  it("an admin purges a departed user's conversations and feedback, audited; a viewer may not", async () => {
    const { body: a } = await ask(lee, { question: "연차 휴가는 며칠인가요?" });
    expect((await t.fetchAs(lee, "/api/v1/feedback", post({ messageId: a.messageId, rating: "down" }))).status).toBe(201);
    expect((await t.fetchAs(kim, "/api/v1/admin/users/lee/purge-history", { method: "POST" })).status).toBe(403);
    expect((await t.fetchAs(admin, "/api/v1/admin/users/nobody/purge-history", { method: "POST" })).status).toBe(404);
    const { status, body } = await json(await t.fetchAs(admin, "/api/v1/admin/users/lee/purge-history", { method: "POST" }));
    expect(status).toBe(200);
    expect(body).toEqual({ user: "lee", conversations: 2, feedback: 1 });
    expect((await json(await t.fetchAs(lee, "/api/v1/conversations"))).body.total).toBe(0);
    const left = (await json(await t.fetchAs(admin, "/api/v1/admin/feedback"))).body.items;
    expect(left.map((i: any) => i.user)).toEqual(["kim", "kim"]);
    const event = t.kb.audit.repository.query({ action: "user.purge_history" })[0]!;
    expect(event).toMatchObject({ actor: "user:boss", target: "user:lee", details: { conversations: 2, feedback: 1 } });
  });

  it("deleting an account deletes its feedback with its conversations", async () => {
    expect((await json(await t.fetchAs(admin, "/api/v1/admin/feedback"))).body.total).toBe(2);
    expect((await t.fetchAs(admin, "/api/v1/admin/users/kim", { method: "DELETE" })).status).toBe(204);
    expect((await json(await t.fetchAs(admin, "/api/v1/admin/feedback"))).body.total).toBe(0);
  });
});
