/**
 * Issue 13 parts 4 and 5 through the real HTTP server: where each user, group and membership
 * comes from is visible (admin API, upload directory, CLI lists), manual overrides of
 * directory-managed memberships are allowed, audited and shown, a directory's membership cannot
 * be removed by hand, `explain` names the directory group that grants access with its display
 * name and source (and says when a membership is a manual override), directory changes are
 * found in the audit log by the `directory.` prefix, and disabling a user revokes its tokens and
 * sessions at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

const json = (method: string, body?: unknown) => ({ method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

describe("sources of truth made visible", () => {
  let t: TestServer;
  let admin: string;
  let docId: string;
  let hr: string;
  let seoul: string;
  let kimName: string;
  const call = async (method: string, p: string, body?: unknown, token = admin) => {
    const res = await t.fetchAs(token, p, method === "GET" ? {} : json(method, body));
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 0 });
    admin = await t.tokenFor("root", "admin");
    const d = t.kb.directory;
    hr = (await d.upsertGroup("ldap:corp", { externalId: "5f2c9a10-0000-4000-8000-000000000001", displayName: "인사 팀" })).name;
    seoul = (await d.upsertGroup("ldap:corp", { externalId: "5f2c9a10-0000-4000-8000-000000000002", displayName: "서울 지사" })).name;
    kimName = (await d.upsertUser("ldap:corp", { externalId: "0a1b2c3d-0000-4000-8000-00000000000a", displayName: "김철수" })).user.name;
    await d.setGroupMembers("ldap:corp", seoul, [{ kind: "user", name: kimName }], { reason: "ldap sync" });
    await d.setGroupMembers("ldap:corp", hr, [{ kind: "group", name: seoul }], { reason: "ldap sync" });
    await t.kb.accounts.createUser({ name: "lee", role: "viewer" });
    const [file] = writeFiles(`${t.dir}/docs`, { "salary.md": "# 연봉 조정 기준표\n\n2026년 연봉 조정 기준표는 인사 팀만 봅니다.\n" });
    docId = (await ingestNow(t.kb, [{ source: file!, path: file!, allow: [`group:${hr}`] }])).documents[0]!.id;
  });
  afterAll(async () => t?.close());

  it("users, groups and the upload directory show each entry's source and display name", async () => {
    const users = (await call("GET", "/api/v1/admin/users")).body.items;
    expect(users.find((u: { name: string }) => u.name === kimName)).toMatchObject({ source: "ldap:corp", externalId: "0a1b2c3d-0000-4000-8000-00000000000a", displayName: "김철수", kind: "person" });
    expect(users.find((u: { name: string }) => u.name === "lee")).toMatchObject({ source: "local", externalId: null, displayName: null });

    const group = (await call("GET", `/api/v1/admin/groups/${hr}`)).body;
    expect(group).toMatchObject({ name: hr, source: "ldap:corp", displayName: "인사 팀", members: [{ kind: "group", name: seoul }] });
    expect(group.memberOrigins).toEqual([{ kind: "group", name: seoul, displayName: "서울 지사", origin: "ldap:corp", override: false }]);

    // The upload form's directory: found by display name, with the source.
    const dir = (await call("GET", `/api/v1/directory?q=${encodeURIComponent("인사")}`)).body;
    expect(dir.groups).toEqual([{ name: hr, description: null, displayName: "인사 팀", source: "ldap:corp" }]);
    const people = (await call("GET", `/api/v1/directory?q=${encodeURIComponent("김철")}`)).body;
    expect(people.users).toEqual([kimName]);
    expect(people.userDetails).toEqual([{ name: kimName, displayName: "김철수", source: "ldap:corp" }]);
  });

  it("a manual member of a directory group is an override: allowed, audited, shown, kept through a sync, removable; a directory member is not removable by hand", async () => {
    const added = await call("POST", `/api/v1/admin/groups/${hr}/members`, { member: "user:lee" });
    expect(added.status).toBe(200);
    expect(added.body.memberOrigins).toContainEqual({ kind: "user", name: "lee", displayName: null, origin: "manual", override: true });
    const event = (await t.kb.audit.repository.query({ action: "group.member.add", limit: 10 })).find((e) => e.target === `group:${hr}`);
    expect(event?.details).toMatchObject({ member: "user:lee", origin: "manual", override: true, source: "ldap:corp" });

    // The next sync writes the same members: the override stays, and so does lee's access.
    await t.kb.directory.setGroupMembers("ldap:corp", hr, [{ kind: "group", name: seoul }], { reason: "ldap sync" });
    expect((await call("GET", `/api/v1/admin/groups/${hr}`)).body.memberOrigins.map((m: { name: string; origin: string }) => `${m.name}:${m.origin}`).sort()).toEqual(
      [`${seoul}:ldap:corp`, "lee:manual"].sort(),
    );

    // Removing the directory's member by hand is refused, with what to do instead.
    const refused = await call("DELETE", `/api/v1/admin/groups/${hr}/members/${encodeURIComponent(`group:${seoul}`)}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("directory_membership");
    expect(refused.body.error.message).toContain("change it in the directory");
    expect((await t.kb.accounts.members(hr)).map((m) => m.name)).toContain(seoul);

    // A membership both the directory and an admin wrote: removing by hand removes the admin's row only.
    await call("POST", `/api/v1/admin/groups/${seoul}/members`, { member: `user:${kimName}` });
    expect((await call("DELETE", `/api/v1/admin/groups/${seoul}/members/${encodeURIComponent(`user:${kimName}`)}`)).status).toBe(200);
    expect(await t.kb.accounts.memberRows(seoul)).toEqual([{ kind: "user", name: kimName, origin: "ldap:corp" }]);
    expect((await call("DELETE", `/api/v1/admin/groups/${seoul}/members/${encodeURIComponent(`user:${kimName}`)}`)).status).toBe(409);

    // The override itself is removed like any manual membership.
    expect((await call("DELETE", `/api/v1/admin/groups/${hr}/members/user:lee`)).status).toBe(200);
    expect((await t.kb.accounts.members(hr)).map((m) => m.name)).toEqual([seoul]);
  });

  it("explain names the granting directory group with its display name and source, the chain, and a manual override", async () => {
    const kim = await call("GET", `/api/v1/admin/explain?user=${encodeURIComponent(kimName)}&document=${docId}`);
    expect(kim.status).toBe(200);
    expect(kim.body.allowed).toBe(true);
    expect(kim.body.reasons).toContain(`allow list grants access to group:${hr} "인사 팀" (ldap:corp; member via group:${seoul} "서울 지사" → group:${hr} "인사 팀")`);

    await call("POST", `/api/v1/admin/groups/${hr}/members`, { member: "user:lee" });
    const lee = await call("GET", `/api/v1/admin/explain?user=lee&document=${docId}`);
    expect(lee.body.reasons).toContain(`allow list grants access to group:${hr} "인사 팀" (ldap:corp; member via direct membership; user:lee in group:${hr} is a manual override)`);
    await call("DELETE", `/api/v1/admin/groups/${hr}/members/user:lee`);
    const gone = await call("GET", `/api/v1/admin/explain?user=lee&document=${docId}`);
    expect(gone.body.allowed).toBe(false);
  });

  it("directory changes are found in the audit log by the directory. prefix", async () => {
    const res = await call("GET", "/api/v1/audit?action=directory.&limit=100");
    expect(res.status).toBe(200);
    const actions = new Set(res.body.items.map((e: { action: string }) => e.action));
    expect([...actions].sort()).toEqual(["directory.group.created", "directory.membership.added", "directory.user.created"]);
    expect(res.body.items.every((e: { details: { source?: string } }) => e.details.source === "ldap:corp")).toBe(true);
    expect(res.body.items.find((e: { action: string }) => e.action === "directory.membership.added").details.reason).toBe("ldap sync");
  });

  it("disabling a user (PATCH /admin/users, the same use case as kb users set --disable) revokes its tokens and sessions at once, for good", async () => {
    await t.kb.accounts.createUser({ name: "park", role: "viewer" });
    const token = (await t.kb.accounts.createToken("park")).token;
    expect((await t.fetchAs(token, "/api/v1/me")).status).toBe(200);
    const patched = await call("PATCH", "/api/v1/admin/users/park", { disabled: true });
    expect(patched.status).toBe(200);
    expect((await t.fetchAs(token, "/api/v1/me")).status).toBe(401);
    expect((await t.kb.accounts.listTokens("park")).every((x) => x.revokedAt !== null)).toBe(true);
    const update = (await t.kb.audit.repository.query({ action: "user.update", limit: 10 })).find((e) => e.target === "user:park");
    expect(update?.details).toMatchObject({ tokensRevoked: 1, sessionsRevoked: 0, after: { disabled: true } });
    expect((await t.kb.audit.repository.query({ action: "directory.user.deactivated", limit: 10 })).find((e) => e.target === "user:park")).toMatchObject({
      actor: "user:root",
      details: { source: "local", tokensRevoked: 1, reason: "disabled by an admin" },
    });
    // Enabled again: the account works with a new token; the old one stays revoked.
    await t.kb.admin.updateUser(SYSTEM_ACTOR, "park", { disabled: false });
    expect((await t.fetchAs(token, "/api/v1/me")).status).toBe(401);
    expect((await t.fetchAs((await t.kb.accounts.createToken("park")).token, "/api/v1/me")).status).toBe(200);
  });
});
