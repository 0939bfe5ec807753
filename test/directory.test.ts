/**
 * Issue 13, the directory core every identity source writes through: directory principals
 * (`<source id>~<stable id>`), upserts keyed by stable id, memberships per origin (a sync
 * replaces only its own rows; a manual override survives), deactivation revoking tokens and
 * sessions at once, and the audit trail. Access follows a directory change in a real search
 * over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkName, checkNewName, directoryPrincipalName, directorySourceOf, isDirectoryName, parsePrincipalList } from "../policies/index.ts";
import { assertSourceIdsUnique } from "../src/services/directory.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

describe("directory principal names", () => {
  it("keys by stable id: GUIDs readable and case-insensitive, other ids hashed (never case-folded)", () => {
    const guid = "{6B3C1A2E-0F4D-4C5B-9A8E-1D2C3B4A5F60}";
    expect(directoryPrincipalName("corp", guid)).toBe("corp~6b3c1a2e-0f4d-4c5b-9a8e-1d2c3b4a5f60");
    expect(directoryPrincipalName("corp", guid.toLowerCase())).toBe(directoryPrincipalName("corp", guid));
    const a = directoryPrincipalName("kc", "AbC|123");
    const b = directoryPrincipalName("kc", "abc|123");
    expect(a).toMatch(/^kc~h[0-9a-f]{32}$/);
    expect(a).not.toBe(b); // an OIDC sub is case-sensitive
    expect(isDirectoryName(a)).toBe(true);
    expect(directorySourceOf(a)).toBe("kc");
    expect(directorySourceOf("kim")).toBeNull();
    expect(checkName(a)).toBe(a);
    expect(parsePrincipalList(`group:${a}, user:kim`)).toEqual([`group:${a}`, "user:kim"]);
    // An admin cannot squat a directory name, and sources must be named properly.
    expect(() => checkNewName(a)).toThrow(/reserved for directory/);
    expect(() => directoryPrincipalName("Corp", guid)).toThrow(/source id/);
    expect(() => parsePrincipalList(`role:${a}`)).toThrow(/roles are not directory entries/);
    expect(() => assertSourceIdsUnique(["oidc:corp", "ldap:corp"])).toThrow(/share the id "corp"/);
    expect(() => assertSourceIdsUnique(["oidc:kc", "ldap:corp", "scim:entra"])).not.toThrow();
  });
});

describe("directory service through the real server", () => {
  let t: TestServer;
  let docId: string;
  const post = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const found = async (token: string) => {
    const res = await t.fetchAs(token, "/api/v1/search", post({ query: "연봉 조정 기준표", topK: 5 }));
    return res.status === 200 ? ((await res.json()) as { results: { documentId: string }[] }).results.map((r) => r.documentId) : res.status;
  };

  beforeAll(async () => {
    t = await startTestServer();
    const [file] = writeFiles(`${t.dir}/docs`, { "salary.md": "# 연봉 조정 기준표\n\n2026년 연봉 조정 기준표는 인사 팀만 봅니다.\n" });
    const hr = await t.kb.directory.upsertGroup("ldap:corp", { externalId: "5f2c9a10-0000-4000-8000-000000000001", displayName: "인사 팀" });
    docId = (await ingestNow(t.kb, [{ source: file!, path: file!, allow: [`group:${hr.name}`] }])).documents[0]!.id;
  });
  afterAll(async () => t?.close());

  it("a directory change reaches search: member → found; removed by the next sync → gone; audited", async () => {
    const d = t.kb.directory;
    const { user, created } = await d.upsertUser("ldap:corp", { externalId: "0a1b2c3d-0000-4000-8000-00000000000a", displayName: "김철수", email: "kim@example.com" }, { reason: "sync" });
    expect(created).toBe(true);
    expect(user).toMatchObject({ name: "corp~0a1b2c3d-0000-4000-8000-00000000000a", source: "ldap:corp", displayName: "김철수", role: "viewer", disabled: false });
    // Same stable id, new display name: the same user, renamed for screens only.
    const again = await d.upsertUser("ldap:corp", { externalId: "0A1B2C3D-0000-4000-8000-00000000000A".toLowerCase(), displayName: "김철수 (인사)" });
    expect(again).toMatchObject({ created: false, changed: true });
    expect(again.user.id).toBe(user.id);

    const hr = (await d.findGroup("ldap:corp", "5f2c9a10-0000-4000-8000-000000000001"))!;
    expect(hr).toMatchObject({ source: "ldap:corp", displayName: "인사 팀" });
    const token = (await t.kb.accounts.createToken(user.name)).token;
    expect(await found(token)).toEqual([]);

    // Nested: the user is in 서울 지사, which is in 인사 팀.
    const seoul = await d.upsertGroup("ldap:corp", { externalId: "5f2c9a10-0000-4000-8000-000000000002", displayName: "서울 지사" });
    await d.setGroupMembers("ldap:corp", seoul.name, [{ kind: "user", name: user.name }]);
    await d.setGroupMembers("ldap:corp", hr.name, [{ kind: "group", name: seoul.name }]);
    expect(await found(token)).toEqual([docId]);

    // An admin's manual override on the directory group survives the sync that empties it.
    const other = await d.upsertUser("ldap:corp", { externalId: "0a1b2c3d-0000-4000-8000-00000000000b", displayName: "이영희" });
    await t.kb.accounts.addToGroup(hr.name, "user", other.user.name);
    const otherToken = (await t.kb.accounts.createToken(other.user.name)).token;
    expect(await found(otherToken)).toEqual([docId]);

    const sync = await d.setGroupMembers("ldap:corp", seoul.name, [], { reason: "ldap sync" });
    expect(sync.removed).toEqual([{ kind: "user", name: user.name }]);
    expect(await found(token)).toEqual([]);
    await d.setGroupMembers("ldap:corp", hr.name, [], { reason: "ldap sync" });
    expect(await found(otherToken)).toEqual([docId]); // manual row untouched
    expect((await t.kb.accounts.members(hr.name)).map((m) => m.name)).toEqual([other.user.name]);

    const removed = await t.kb.audit.repository.query({ action: "directory.membership.removed" });
    expect(removed.map((e) => [e.target, e.details?.member, e.details?.groupDisplayName, e.details?.reason])).toContainEqual([
      `group:${seoul.name}`,
      `user:${user.name}`,
      "서울 지사",
      "ldap sync",
    ]);
  });

  it("OIDC-style setUserGroups replaces only that source's rows; deactivation revokes tokens and sessions at once", async () => {
    const d = t.kb.directory;
    await t.kb.accounts.createGroup("engineering");
    const { user } = await d.upsertUser("oidc:kc", { externalId: "auth0|AbC" });
    expect(user.name).toMatch(/^kc~h[0-9a-f]{32}$/);
    expect(await d.setUserGroups("oidc:kc", user.name, ["engineering"])).toEqual({ added: ["engineering"], removed: [] });
    await t.kb.accounts.addToGroup("engineering", "user", user.name); // the same membership, also manual
    expect(await d.setUserGroups("oidc:kc", user.name, [])).toEqual({ added: [], removed: ["engineering"] });
    expect(await t.kb.accounts.directGroups(user.name)).toEqual(["engineering"]); // the manual row remains

    const token = (await t.kb.accounts.createToken(user.name)).token;
    const second = (await t.kb.accounts.createToken(user.name)).token;
    expect((await t.fetchAs(token, "/api/v1/me")).status).toBe(200);
    const r = await d.upsertUser("oidc:kc", { externalId: "auth0|AbC", active: false }, { reason: "deprovisioned" });
    expect(r.user.disabled).toBe(true);
    for (const tk of [token, second]) expect((await t.fetchAs(tk, "/api/v1/me")).status).toBe(401);
    const tokens = await t.kb.accounts.listTokens(user.name);
    expect(tokens.every((x) => x.revokedAt !== null)).toBe(true);
    // Re-enabled: the user is back, the revoked tokens stay revoked.
    await d.upsertUser("oidc:kc", { externalId: "auth0|AbC", active: true });
    expect((await t.fetchAs(token, "/api/v1/me")).status).toBe(401);
    const fresh = (await t.kb.accounts.createToken(user.name)).token;
    expect((await t.fetchAs(fresh, "/api/v1/me")).status).toBe(200);
  });

  it("a group gone from the directory takes its memberships with it; unknown members are refused", async () => {
    const d = t.kb.directory;
    const g = await d.upsertGroup("scim:entra", { externalId: "grp-1", displayName: "Finance" });
    expect(g.name).toMatch(/^entra~h[0-9a-f]{32}$/);
    await expect(d.setGroupMembers("scim:entra", g.name, [{ kind: "user", name: "nobody" }])).rejects.toThrow(/user "nobody"/);
    expect(await d.removeGroup("scim:entra", "grp-1")).toBe(true);
    expect(await d.findGroup("scim:entra", "grp-1")).toBeUndefined();
    expect(await d.removeGroup("scim:entra", "grp-1")).toBe(false);
    await expect(d.upsertUser("bogus:x", { externalId: "1" })).rejects.toThrow(/invalid directory source/);
  });
});
