/**
 * Search and ask scoped by type, folder, tag and date ("only in 인사규정"), over HTTP: the scope
 * is applied with the asker's access inside the search, so `topK` results come from the readable
 * documents in scope even when many better matches lie outside it or are hidden from the asker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { scopeClause } from "../src/services/documents.ts";
import { compileScope } from "../src/stores/lance/filter.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let kim: string;
let admin: string;
let dir: string;
let ruleId: string;
let hiddenId: string;
let otherIds: string[];
let phoneId: string;

const post = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
async function search(token: string, body: Record<string, unknown>) {
  const res = await t.fetchAs(token, "/api/v1/search", post(body));
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  t = await startTestServer();
  kim = await t.tokenFor("kim", "viewer");
  admin = await t.tokenFor("boss", "admin");
  dir = `${t.dir}/docs`;
  // Many strong matches outside the folder, and a hidden strong match inside it.
  const others: Record<string, string> = {};
  for (let i = 0; i < 12; i++) others[`other/notice-${i}.txt`] = `휴가 안내 ${i}: 휴가 휴가 휴가 신청 휴가 일정 휴가.\n`;
  const files = writeFiles(dir, {
    "인사규정/leave.md": "# 연차\n\n직원은 매년 15일의 휴가를 받으며, 근속에 따라 가산됩니다. 신청은 인사 시스템에서 합니다.\n",
    "인사규정/secret.md": "# 임원 휴가\n\n임원 휴가 휴가 휴가 휴가 휴가 규정.\n",
    ...others,
  });
  const [rule, hidden, ...rest] = files;
  const { documents } = await ingestNow(t.kb, [
    { source: rule!, path: rule!, tags: ["hr"] } as never,
    { source: hidden!, path: hidden!, allow: ["group:executives"] },
    ...rest.map((p) => ({ source: p, path: p })),
  ]);
  ruleId = documents[0]!.id;
  hiddenId = documents[1]!.id;
  otherIds = documents.slice(2).map((d) => d.id);
  // Personal data in a path: shown masked to kim, so a folder prefix must not probe it.
  const [phone] = writeFiles(dir, { "연락처/010-1234-5678.txt": "비상 연락망 휴가 중 연락처.\n" });
  phoneId = (await ingestNow(t.kb, [{ source: phone!, path: phone! }])).documents[0]!.id;
});
afterAll(async () => t?.close());

describe("scoped search", () => {
  it("without a scope, the best matches lie outside the folder", async () => {
    const { body } = await search(kim, { query: "휴가", topK: 3 });
    expect(body.results.map((r: any) => r.documentId).every((id: string) => otherIds.includes(id))).toBe(true);
  });

  it("a folder scope finds the folder's readable document even with topK 1 (applied inside the search, not to its results)", async () => {
    const { status, body } = await search(kim, { query: "휴가", topK: 1, scope: { folder: `${dir}/인사규정/` } });
    expect(status).toBe(200);
    expect(body.results.map((r: any) => r.documentId)).toEqual([ruleId]);
    // The hidden document in the same folder is the admin's best match, never kim's.
    const asAdmin = await search(admin, { query: "휴가", topK: 1, scope: { folder: `${dir}/인사규정/` } });
    expect(asAdmin.body.results.map((r: any) => r.documentId)).toEqual([hiddenId]);
  });

  it("scopes by type, tag and date the same way", async () => {
    expect((await search(kim, { query: "휴가", topK: 1, scope: { types: ["md"] } })).body.results.map((r: any) => r.documentId)).toEqual([ruleId]);
    expect((await search(kim, { query: "휴가", topK: 5, scope: { tag: "hr" } })).body.results.map((r: any) => r.documentId)).toEqual([ruleId]);
    expect((await search(kim, { query: "휴가", topK: 5, scope: { updatedSince: "2999-01-01T00:00:00Z" } })).body.results).toEqual([]);
    const since = await search(kim, { query: "휴가", topK: 20, scope: { updatedSince: "2000-01-01T00:00:00Z", types: ["txt"] } });
    expect(since.body.results).toHaveLength(13); // the 12 notices and the contact list
    // A scope that only a hidden document matches gives nothing (and no hint of it).
    expect((await search(kim, { query: "임원", topK: 5, scope: { q: "임원" } })).body.results).toEqual([]);
  });

  it("tag and date are tested on the chunk rows' own columns (tags, version_at), with the live version's date", async () => {
    const rule = (await t.kb.metadata.documents.byId(ruleId))!;
    expect(rule.versionAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const rows = await t.kb.chunks.list(`document_id = '${ruleId}'`, ["document_id", "ordinal", "tags", "version_at"]);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect({ tags: Array.from(r.tags as Iterable<string>), versionAt: r.version_at }).toEqual({ tags: ["hr"], versionAt: rule.versionAt });
    // The scope compiles to those columns, not to a list of document ids.
    const clause = await scopeClause(() => t.kb.metadata.documents.all(), SYSTEM_ACTOR, { tag: "hr", updatedSince: "2000-01-01T00:00:00Z", updatedUntil: "2999-01-01T00:00:00Z" });
    expect(compileScope(clause)).toBe("(array_has(tags, 'hr')) AND (version_at >= '2000-01-01T00:00:00Z' AND version_at <= '2999-01-01T00:00:00Z')");
    expect(compileScope(await scopeClause(() => t.kb.metadata.documents.all(), SYSTEM_ACTOR, { tag: "it's" }))).toBe("(array_has(tags, 'it''s'))");

    // An access change moves the row's updatedAt, not the date of its content: the date scope
    // (search and the documents list alike) keeps answering by the version's date.
    await t.kb.access.setAcl(SYSTEM_ACTOR, ruleId, { addDeny: ["user:nobody"] });
    const changed = (await t.kb.metadata.documents.byId(ruleId))!;
    expect(changed.updatedAt > rule.versionAt!).toBe(true);
    expect(changed.versionAt).toBe(rule.versionAt);
    const since = { tag: "hr", updatedSince: changed.updatedAt };
    expect((await search(kim, { query: "휴가", topK: 5, scope: since })).body.results).toEqual([]);
    const until = { tag: "hr", updatedUntil: rule.versionAt };
    expect((await search(kim, { query: "휴가", topK: 5, scope: until })).body.results.map((r: any) => r.documentId)).toEqual([ruleId]);
    const listed = async (q: string) => ((await (await t.fetchAs(kim, `/api/v1/documents?${q}`)).json()) as any).items.map((d: any) => d.id);
    expect(await listed(`tag=hr&updatedSince=${encodeURIComponent(changed.updatedAt)}`)).toEqual([]);
    expect(await listed(`tag=hr&updatedUntil=${encodeURIComponent(rule.versionAt!)}`)).toEqual([ruleId]);
    await t.kb.access.setAcl(SYSTEM_ACTOR, ruleId, { removeDeny: ["user:nobody"] });
  });

  it("a folder prefix is matched on the source as the asker is shown it (masked personal data cannot be probed)", async () => {
    const ids = async (token: string, folder: string) => (await search(token, { query: "연락처", topK: 5, scope: { folder } })).body.results.map((r: any) => r.documentId);
    expect(await ids(admin, `${dir}/연락처/010-12`)).toEqual([phoneId]);
    expect(await ids(kim, `${dir}/연락처/010-12`)).toEqual([]);
    expect(await ids(kim, `${dir}/연락처/010`)).toEqual([]);
    expect(await ids(kim, `${dir}/연락처/`)).toEqual([phoneId]);
    const shown = (await (await t.fetchAs(kim, `/api/v1/documents/${phoneId}`)).json()) as any;
    expect(shown.source).not.toContain("1234");
    expect(await ids(kim, shown.source)).toEqual([phoneId]);
    // The documents list filters the same way.
    const listed = async (folder: string) => ((await (await t.fetchAs(kim, `/api/v1/documents?folder=${encodeURIComponent(folder)}`)).json()) as any).items.map((d: any) => d.id);
    expect(await listed(`${dir}/연락처/010`)).toEqual([]);
    expect(await listed(shown.source)).toEqual([phoneId]);
  });

  it("refuses a type that is not an extension", async () => {
    const { status, body } = await search(kim, { query: "휴가", scope: { types: ["pdf') OR TRUE --"] } });
    expect(status).toBe(400);
    expect(body.error.code).toBe("bad_type");
  });

  it("asks within a scope: the answer cites only documents in it, and the scope is audited", async () => {
    const res = await t.fetchAs(kim, "/api/v1/ask", post({ question: "휴가는 며칠인가요?", scope: { folder: `${dir}/인사규정/` } }));
    const answer = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(answer.found).toBe(true);
    expect(answer.citations.length).toBeGreaterThan(0);
    expect(answer.citations.every((c: any) => c.documentId === ruleId)).toBe(true);
    const event = (await t.kb.audit.repository.query({ action: "ask" }))[0]!;
    expect((event.details as any).scope).toEqual({ folder: `${dir}/인사규정/` });
  });
});
